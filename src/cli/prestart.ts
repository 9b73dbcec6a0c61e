import { existsSync } from "node:fs";
import path from "node:path";
import { keyFile, selectEntries } from "../pki/catalog.js";
import { DEFAULT_KEY_TYPE, KEY_TYPES, type KeyType } from "../pki/keys.js";
import { DEFAULT_KEYGEN, KEYGENS, type Keygen } from "../pki/keygen.js";
import { prestartKeys } from "../pki/keypool.js";
import { resolveClusterLayout } from "../pki/layout.js";

function flagValues(argv: readonly string[], flag: string): string[] | undefined {
  let values: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith(`${flag}=`)) (values ??= []).push(arg.slice(flag.length + 1));
    else if (arg === flag) {
      values ??= [];
      // Array flags take every value up to the next flag.
      for (let j = i + 1; j < argv.length && !argv[j]!.startsWith("-"); j++) values.push(argv[j]!);
    }
  }
  return values;
}
const flagValue = (argv: readonly string[], flag: string) => flagValues(argv, flag)?.[0];

/** The keys prestart would start: how many, of which type, made how. */
export interface PrestartPlan {
  keyType: KeyType;
  keygen: Keygen;
  count: number;
}

/**
 * Runs before the CLI loads: when the command is `init`, starts generating
 * the keys its folders lack. Only a guess from argv — yargs still parses and
 * validates everything, and init takes a pooled key only where it needs one —
 * so it stays out of the way of anything unusual (--config, --dry-run, a
 * name it does not know).
 */
export function prestart(argv: readonly string[]): void {
  const plan = prestartPlan(argv);
  if (plan) prestartKeys(plan.keyType, plan.count, plan.keygen);
}

/** What prestart starts for this argv (relative folders from `base`): nothing unless init will surely want keys. */
export function prestartPlan(argv: readonly string[], base: string = process.cwd()): PrestartPlan | undefined {
  if (argv[0] !== "init") return undefined;
  if (argv.some((arg) => /^(--dry-run|--help|-h|--version|--config)(=|$)/.test(arg))) return undefined;
  const keyType = flagValue(argv, "--key-type") ?? DEFAULT_KEY_TYPE;
  if (!(KEY_TYPES as readonly string[]).includes(keyType)) return undefined;
  const keygen = flagValue(argv, "--keygen") ?? DEFAULT_KEYGEN;
  if (!(KEYGENS as readonly string[]).includes(keygen)) return undefined;
  const certDirGiven = flagValue(argv, "--cert-dir");
  let layout;
  try {
    layout = resolveClusterLayout({ dir: flagValue(argv, "--dir"), certDir: certDirGiven, kubeconfigDir: flagValue(argv, "--kubeconfig-dir") }, base);
  } catch {
    return undefined; // an empty folder flag: the CLI says so
  }
  const { certDir: dir, kubeconfigDir } = layout;
  // A --dir that is itself a PKI folder is refused (openClusterLayout): no keys for its pki/ that is not there.
  const hasCa = (folder: string) => existsSync(path.join(folder, "ca.crt")) || existsSync(path.join(folder, "ca.key"));
  if (!certDirGiven && hasCa(layout.dir) && !hasCa(dir)) return undefined;
  let entries;
  try {
    entries = selectEntries({ only: flagValues(argv, "--only"), externalEtcd: argv.includes("--external-etcd") });
  } catch {
    return undefined;
  }
  const count = entries.filter((entry) => {
    const file = entry.kind === "cert" ? path.join(dir, keyFile(entry)) : entry.kind === "keypair" ? path.join(dir, entry.keyFile) : path.join(kubeconfigDir, entry.file);
    return !existsSync(file);
  }).length;
  return count > 0 ? { keyType: keyType as KeyType, keygen: keygen as Keygen, count } : undefined;
}
