import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { KpkiError } from "../../errors.js";
import type { SshHost, SshSession } from "./ssh.js";
import type { Role } from "./steps.js";

/**
 * push-pki by kubeadm's rules for "manual certificate distribution": the
 * first control plane gets the whole folder; a joining control plane only
 * the shared CA material and service-account keys (its own leaves must name
 * it, so kubeadm join --control-plane signs them there, or kpki init makes
 * them in a folder of its own); a worker nothing under /etc/kubernetes/pki
 * (kubeadm join writes pki/ca.crt itself and refuses to start if it is there).
 */

/** What a joining control plane needs from the first: kubeadm's list, nothing node-specific. */
export const SHARED_PKI_FILES = ["ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key"] as const;

/** The kubeconfigs --kubeconfigs places in /etc/kubernetes, by role. kubelet.conf, controller-manager.conf and scheduler.conf name the first node. */
export const KUBECONFIGS_BY_ROLE: Record<Role, readonly string[]> = {
  "control-plane-init": ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"],
  "control-plane": ["admin.conf"],
  worker: [],
};

/** The files of a cluster folder on this machine. */
export interface LocalClusterFiles {
  pkiDir: string;
  /** Path under pkiDir (etcd/ca.crt) → content: certificates, keys, sa.pub; never kpki's CSRs, csr.conf files or lock. */
  pki: Map<string, Buffer>;
  /** File name (admin.conf) → content, from the kubeconfig folder. */
  kubeconfigs: Map<string, Buffer>;
}

/**
 * Reads the local cluster files: the one place push-pki touches this
 * machine's folders (the PKI folder and the kubeconfig folder, resolved by
 * the caller).
 */
export async function readClusterFiles(pkiDir: string, kubeconfigDir: string): Promise<LocalClusterFiles> {
  const root = path.resolve(pkiDir);
  try {
    await fs.access(path.join(root, "ca.crt"));
  } catch {
    throw new KpkiError("input", `${path.join(root, "ca.crt")} is missing: give the cluster folder with --dir (kpki init makes it)`);
  }
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isFile() && /\.(crt|key|pub)$/.test(entry.name))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"))
    .sort();
  const pki = new Map(await Promise.all(names.map(async (name) => [name, await fs.readFile(path.join(root, name))] as const)));
  const kubeconfigs = new Map<string, Buffer>();
  for (const name of KUBECONFIGS_BY_ROLE["control-plane-init"]) {
    const data = await fs.readFile(path.join(path.resolve(kubeconfigDir), name)).catch(() => undefined);
    if (data) kubeconfigs.set(name, data);
  }
  return { pkiDir: root, pki, kubeconfigs };
}

/** One file to place on a host. */
export interface PushFile {
  /** Absolute path on the host. */
  path: string;
  data: Buffer;
  mode: number;
  /** A private key: never replaced without --force. */
  secret: boolean;
}

export interface PushPlanOptions {
  role: Role;
  /** The PKI folder on the host (kubeconfigs go to its parent, as kubeadm lays them out). */
  target: string;
  kubeconfigs: boolean;
  /** Paths under the PKI folder to push instead of the role's set (they must be in it). */
  only?: readonly string[];
  /** kubeadm join --discovery-file: where it goes on the host, and the API server it names. */
  discovery?: { path: string; server: string };
}

const isKey = (file: string) => file.endsWith(".key");
const pkiMode = (file: string) => (isKey(file) || file === "sa.pub" ? 0o600 : 0o644);

/**
 * The files one host gets, by role: a pure function of the local files and
 * the options, so --dry-run, the push and the tests read the same plan.
 */
export function planPush(local: LocalClusterFiles, options: PushPlanOptions): PushFile[] {
  const { role } = options;
  const kubernetesDir = path.posix.dirname(options.target);
  const files: PushFile[] = [];
  const addPki = (name: string) => files.push({ path: `${options.target}/${name}`, data: local.pki.get(name)!, mode: pkiMode(name), secret: isKey(name) });

  if (role === "worker") {
    if (options.only) throw new KpkiError("usage", `--only with --role worker: a worker gets nothing under ${options.target} (kubeadm join writes ca.crt itself and its preflight refuses one already there); use --discovery-file`);
  } else {
    const allowed = role === "control-plane-init" ? [...local.pki.keys()] : SHARED_PKI_FILES.filter((name) => local.pki.has(name));
    if (options.only) {
      const missing = options.only.filter((name) => !local.pki.has(name));
      if (missing.length > 0) throw new KpkiError("usage", `--only ${missing.join(", ")}: not in ${local.pkiDir} (it has ${[...local.pki.keys()].join(", ")})`);
      const leaves = options.only.filter((name) => !allowed.includes(name));
      if (leaves.length > 0) {
        throw new KpkiError("usage", `--only ${leaves.join(", ")} with --role control-plane: another node's certificates are wrong on a joining control plane (they name the first node); it gets only ${SHARED_PKI_FILES.join(", ")}`);
      }
    }
    for (const name of options.only ?? allowed) addPki(name);
    if (options.kubeconfigs) {
      const wanted = KUBECONFIGS_BY_ROLE[role];
      const present = wanted.filter((name) => local.kubeconfigs.has(name));
      if (present.length === 0) throw new KpkiError("input", `--kubeconfigs: none of ${wanted.join(", ")} is in the kubeconfig folder (kpki init writes them beside the PKI folder; --kubeconfig-dir names another)`);
      for (const name of present) files.push({ path: `${kubernetesDir}/${name}`, data: local.kubeconfigs.get(name)!, mode: 0o600, secret: true });
    }
  }
  // Only hosts that join use a discovery file: the first control plane of a mixed inventory gets none.
  if (options.discovery && role !== "control-plane-init") {
    files.push({ path: options.discovery.path, data: Buffer.from(discoveryKubeconfig(local.pki.get("ca.crt")!, options.discovery.server)), mode: 0o600, secret: false });
  }
  // Whatever the flags: a worker never gets a key or anything under the PKI folder.
  if (role === "worker" && files.some((file) => file.path.startsWith(`${options.target}/`) || file.secret || file.data.includes("PRIVATE KEY"))) {
    throw new Error("internal: a worker's push plan holds a key or a PKI file");
  }
  return files;
}

/** kubeadm join --discovery-file: the CA and the server only, in cluster-info's shape (one unnamed cluster, no users). */
export function discoveryKubeconfig(caPem: Buffer, server: string): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "", cluster: { "certificate-authority-data": caPem.toString("base64"), server } }],
    contexts: [],
    "current-context": "",
    preferences: {},
    users: [],
  });
}

export interface PushResult {
  file: string;
  mode: string;
  action: "created" | "replaced" | "unchanged" | "refused" | "would-create" | "would-replace";
}

/** Paths kpki puts in a remote script: absolute, plain characters (no quoting games). */
export function checkRemotePath(value: string, flag: string): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(value) || value.split("/").includes("..")) throw new KpkiError("usage", `${flag} "${value}" must be an absolute path of letters, digits, . _ - and /`);
  return value.replace(/\/+$/, "") || "/";
}

/**
 * Places files on a host in one script: it first compares every file, and
 * writes nothing at all if an existing key differs and `force` is not given;
 * with `dryRun` it stops there and says what it would do. Each file goes to
 * a temp name and is renamed, with its mode.
 */
export async function pushFiles(session: SshSession, host: SshHost, files: readonly PushFile[], options: { force: boolean; dryRun: boolean }): Promise<PushResult[]> {
  const marker = `KPKI_${randomBytes(6).toString("hex")}`;
  const lines = ["set -u", "umask 077", `FORCE=${options.force ? 1 : 0}`, "d=$(mktemp -d) || exit 90", "trap 'rm -rf \"$d\"' EXIT"];
  files.forEach((file, index) => {
    lines.push(`base64 -d > "$d/${index}" <<'${marker}'`, file.data.toString("base64"), marker);
  });
  lines.push("refused=0");
  files.forEach((file, index) => {
    const f = JSON.stringify(file.path);
    const mode = file.mode.toString(8).padStart(4, "0");
    lines.push(
      `if [ -f ${f} ] && ! cmp -s "$d/${index}" ${f}; then`,
      file.secret ? `  if [ "$FORCE" != 1 ]; then printf 'KPKI\\t%s\\t%s\\trefused\\n' ${f} ${mode}; refused=1; else a=replace; fi` : "  a=replace",
      `elif [ -f ${f} ]; then a=unchanged; else a=create; fi`,
      options.dryRun ? `[ "$refused" = 1 ] || case $a in unchanged) printf 'KPKI\\t%s\\t%s\\tunchanged\\n' ${f} ${mode} ;; *) printf 'KPKI\\t%s\\t%s\\twould-%s\\n' ${f} ${mode} "$a" ;; esac` : ":",
    );
  });
  lines.push('[ "$refused" = 1 ] && exit 3');
  if (options.dryRun) lines.push("exit 0");
  files.forEach((file, index) => {
    const f = JSON.stringify(file.path);
    const mode = file.mode.toString(8).padStart(4, "0");
    lines.push(
      `dir=$(dirname ${f}); [ -d "$dir" ] || (umask 022; mkdir -p "$dir") || exit 4`,
      `if [ -f ${f} ] && cmp -s "$d/${index}" ${f}; then chmod ${mode} ${f}; printf 'KPKI\\t%s\\t%s\\tunchanged\\n' ${f} ${mode};`,
      `else [ -f ${f} ] && a=replaced || a=created; cp "$d/${index}" ${f}.kpki-tmp && chmod ${mode} ${f}.kpki-tmp && mv ${f}.kpki-tmp ${f} || exit 4; printf 'KPKI\\t%s\\t%s\\t%s\\n' ${f} ${mode} "$a"; fi`,
    );
  });
  const result = await session.run(host, `${lines.join("\n")}\n`);
  const results = result.stdout
    .split("\n")
    .filter((line) => line.startsWith("KPKI\t"))
    .map((line) => {
      const [, file, mode, action] = line.split("\t");
      return { file: file!, mode: mode!, action: action as PushResult["action"] };
    });
  if (result.exitCode === 3) {
    const refused = results.filter((item) => item.action === "refused").map((item) => item.file);
    throw new KpkiError("conflict", `${host.address}: ${refused.join(", ")} already there with different content: kpki never overwrites a key without --force; nothing was written`);
  }
  if (result.exitCode !== 0) throw new KpkiError("io", `${host.address}: writing the files failed (exit ${result.exitCode}): ${result.stderr.trim().split("\n").at(-1) ?? ""}`);
  return results;
}

/** Reads a file from the host (e.g. /etc/kubernetes/admin.conf). */
export async function fetchFile(session: SshSession, host: SshHost, file: string): Promise<string> {
  const result = await session.run(host, `cat ${JSON.stringify(file)}\n`);
  if (result.exitCode !== 0) {
    throw new KpkiError("input", `${host.address}: cannot read ${file} (${result.stderr.trim().split("\n").at(-1) ?? `exit ${result.exitCode}`}): is it a control-plane node after kubeadm init?`);
  }
  return result.stdout;
}
