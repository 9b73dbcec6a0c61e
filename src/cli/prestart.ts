import { existsSync } from "node:fs";
import path from "node:path";
import { CATALOG, keyFile } from "../pki/catalog.js";
import { DEFAULT_KEY_TYPE, KEY_TYPES, type KeyType } from "../pki/keys.js";
import { prestartKeys } from "../pki/keypool.js";

function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === flag) return argv[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

/**
 * Runs before the CLI loads: when the command is `init`, starts generating
 * the keys its PKI folder lacks. Only a guess from argv — yargs still parses
 * and validates everything — and a wrong guess costs only idle CPU.
 */
export function prestart(argv: readonly string[]): void {
  if (argv[0] !== "init" || argv.some((arg) => ["--dry-run", "--help", "-h", "--version"].includes(arg))) return;
  const keyType = flagValue(argv, "--key-type") ?? DEFAULT_KEY_TYPE;
  if (!(KEY_TYPES as readonly string[]).includes(keyType)) return;
  const dir = flagValue(argv, "--dir") ?? "./pki";
  const missing = CATALOG.filter((entry) => !existsSync(path.join(dir, keyFile(entry)))).length;
  if (missing > 0) prestartKeys(keyType as KeyType, missing);
}
