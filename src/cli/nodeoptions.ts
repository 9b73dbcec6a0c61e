import { OS_FAMILIES, RUNTIMES, type OsFamily, type Role, type Runtime } from "../bootstrap/node/steps.js";
import { NEWEST_MINOR } from "../bootstrap/node/versions.js";
import { checkMirrorKey, checkMirrorUrl, type PackageOptions } from "../bootstrap/node/packages.js";
import { KpkiError } from "../errors.js";
import { inputLabel, readInput } from "./files.js";
import type { Io } from "./io.js";

/** What the node script is rendered for: the options node check/prep and node cloud-init share. */
export const nodeScriptOptions = {
  runtime: { choices: RUNTIMES, default: "auto" as Runtime, describe: "container runtime to enable [auto: whichever is installed]" },
  ipv6: { type: "boolean", default: false, describe: "also net.ipv6.conf.all.forwarding=1" },
  firewall: { type: "boolean", default: true, describe: "open the role's ports in a running firewalld (--no-firewall: leave it, report it)" },
  "os-family": { choices: OS_FAMILIES, describe: "treat an unknown distribution as this family" },
  "kubernetes-version": { type: "string", describe: `the Kubernetes version to prepare for: 1.33 (newest patch) or 1.33.2 [the newest minor kpki knows, ${NEWEST_MINOR}]` },
  install: { type: "boolean", default: true, describe: "install and hold the Kubernetes packages and containerd (--no-install: only report what is missing)" },
  upgrade: { type: "boolean", default: false, describe: "change installed Kubernetes packages to the target version (never done without it)" },
  "package-mirror": { type: "string", describe: "base URL replacing every upstream repository: MIRROR/kubernetes/core:/stable:/v1.33/{deb,rpm}/, MIRROR/docker/linux/…" },
  "package-mirror-key": { type: "string", describe: "the mirror's ASCII-armored signing key (a local file) [the keys at the mirror's upstream paths]" },
} as const;

export interface PackageArgs {
  install: boolean;
  upgrade: boolean;
  packageMirror?: string;
  packageMirrorKey?: string;
}

/** The parsed nodeScriptOptions, with the role each command asks for. */
export interface NodeScriptArgs extends PackageArgs {
  role: Role;
  runtime: Runtime;
  ipv6: boolean;
  firewall: boolean;
  osFamily?: OsFamily;
  kubernetesVersion?: string;
}

/** Where packages come from, from the flags; a bad mirror or key is the operator's input error. */
export async function packageOptions(io: Io, args: PackageArgs): Promise<PackageOptions> {
  if (args.packageMirrorKey !== undefined && args.packageMirror === undefined) {
    throw new KpkiError("usage", "--package-mirror-key needs --package-mirror: the key signs the mirror's repositories");
  }
  const mirror = args.packageMirror === undefined ? undefined : checkMirrorUrl(args.packageMirror);
  const mirrorKey = args.packageMirrorKey === undefined ? undefined : checkMirrorKey((await readInput(args.packageMirrorKey, io)).toString(), `--package-mirror-key ${inputLabel(args.packageMirrorKey)}`);
  return { install: args.install, upgrade: args.upgrade, mirror, mirrorKey };
}
