import { existsSync } from "node:fs";
import path from "node:path";
import { CERTS, KEY_PAIRS, KUBECONFIGS, keyFile } from "../pki/catalog.js";
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
 * Runs before the CLI loads: when the command is a plain `init`, starts
 * generating the keys its folders lack. Only a guess from argv — yargs still
 * parses and validates everything, and init takes a pooled key only where it
 * needs one — so it stays out of the way of anything unusual (--only,
 * --config, --dry-run).
 */
export function prestart(argv: readonly string[]): void {
  if (argv[0] !== "init") return;
  if (argv.some((arg) => /^(--dry-run|--help|-h|--version|--only|--config)(=|$)/.test(arg))) return;
  const keyType = flagValue(argv, "--key-type") ?? DEFAULT_KEY_TYPE;
  if (!(KEY_TYPES as readonly string[]).includes(keyType)) return;
  const dir = flagValue(argv, "--dir") ?? "./pki";
  const kubeconfigDir = flagValue(argv, "--kubeconfig-dir") ?? path.dirname(path.resolve(dir));
  const externalEtcd = argv.includes("--external-etcd");
  const missing = [
    ...CERTS.filter((entry) => !(externalEtcd && entry.etcd)).map((entry) => path.join(dir, keyFile(entry))),
    ...KEY_PAIRS.map((entry) => path.join(dir, entry.keyFile)),
    ...KUBECONFIGS.map((entry) => path.join(kubeconfigDir, entry.file)),
  ].filter((file) => !existsSync(file)).length;
  if (missing > 0) prestartKeys(keyType as KeyType, missing);
}
