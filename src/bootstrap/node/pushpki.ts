import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { KpkiError } from "../../errors.js";
import type { SshHost, SshSession } from "./ssh.js";

export interface PkiFile {
  /** Path under the PKI folder, e.g. "etcd/ca.crt". */
  file: string;
  data: Buffer;
  mode: number;
}

const isKey = (file: string) => file.endsWith(".key");

/**
 * The files to push: a worker needs only ca.crt; a control plane gets the
 * whole folder (certificates, keys, sa.key/sa.pub), never kpki's own CSRs,
 * csr.conf files or lock. Modes are kubeadm's.
 */
export async function collectPkiFiles(dir: string, only: readonly string[] | undefined): Promise<PkiFile[]> {
  const root = path.resolve(dir);
  try {
    await fs.access(path.join(root, "ca.crt"));
  } catch {
    throw new KpkiError("input", `${path.join(root, "ca.crt")} is missing: give the cluster folder with --dir (kpki init makes it)`);
  }
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  let files = entries
    .filter((entry) => entry.isFile() && /\.(crt|key|pub)$/.test(entry.name))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
  if (only) {
    const missing = only.filter((file) => !files.includes(file));
    if (missing.length > 0) throw new KpkiError("usage", `--only ${missing.join(", ")}: not in ${root} (it has ${files.join(", ")})`);
    files = [...only];
  }
  return Promise.all(
    files.map(async (file) => ({ file, data: await fs.readFile(path.join(root, file)), mode: isKey(file) || file === "sa.pub" ? 0o600 : 0o644 })),
  );
}

export interface PushResult {
  file: string;
  action: "created" | "replaced" | "unchanged" | "refused";
}

/**
 * Copies PKI files to /etc/kubernetes/pki (or `target`) in one script: it
 * first compares every file, and writes nothing at all if an existing key
 * differs and `force` is not given; then writes each file to a temp name
 * and renames it, with kubeadm's modes.
 */
export async function pushPki(session: SshSession, host: SshHost, files: readonly PkiFile[], options: { target: string; force: boolean }): Promise<PushResult[]> {
  const marker = `KPKI_${randomBytes(6).toString("hex")}`;
  const lines = ["set -u", "umask 077", `T=${JSON.stringify(options.target)}`, `FORCE=${options.force ? 1 : 0}`, "d=$(mktemp -d) || exit 90", "trap 'rm -rf \"$d\"' EXIT"];
  files.forEach((file, index) => {
    lines.push(`base64 -d > "$d/${index}" <<'${marker}'`, file.data.toString("base64"), marker);
  });
  lines.push("refused=0");
  files.forEach((file, index) => {
    lines.push(
      `f="$T/${file.file}"`,
      `if [ -f "$f" ] && ! cmp -s "$d/${index}" "$f"; then`,
      isKey(file.file) ? `  if [ "$FORCE" != 1 ]; then printf 'KPKI\\t%s\\trefused\\n' ${JSON.stringify(file.file)}; refused=1; fi` : "  :",
      "fi",
    );
  });
  lines.push('[ "$refused" = 1 ] && exit 3');
  files.forEach((file, index) => {
    const dir = path.posix.dirname(file.file);
    lines.push(
      `f="$T/${file.file}"`,
      `mkdir -p "$T/${dir}" && chmod 0755 "$T" "$T/${dir}" 2>/dev/null`,
      `if [ -f "$f" ] && cmp -s "$d/${index}" "$f"; then chmod ${file.mode.toString(8)} "$f"; printf 'KPKI\\t%s\\tunchanged\\n' ${JSON.stringify(file.file)};`,
      `else [ -f "$f" ] && a=replaced || a=created; cp "$d/${index}" "$f.kpki-tmp" && chmod ${file.mode.toString(8)} "$f.kpki-tmp" && mv "$f.kpki-tmp" "$f" || exit 4; printf 'KPKI\\t%s\\t%s\\n' ${JSON.stringify(file.file)} "$a"; fi`,
    );
  });
  const result = await session.run(host, `${lines.join("\n")}\n`);
  const results = result.stdout
    .split("\n")
    .filter((line) => line.startsWith("KPKI\t"))
    .map((line) => {
      const [, file, action] = line.split("\t");
      return { file: file!, action: action as PushResult["action"] };
    });
  if (result.exitCode === 3) {
    const refused = results.filter((item) => item.action === "refused").map((item) => item.file);
    throw new KpkiError("conflict", `${host.address}: ${refused.join(", ")} already there with different content: kpki never overwrites a key without --force; nothing was written`);
  }
  if (result.exitCode !== 0) throw new KpkiError("io", `${host.address}: writing ${options.target} failed (exit ${result.exitCode}): ${result.stderr.trim().split("\n").at(-1) ?? ""}`);
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
