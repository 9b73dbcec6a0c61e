/**
 * The Debian 12 root filesystem the nspawn hosts boot: debootstrapped from
 * Debian's archive once, then cached (one folder per recipe, keyed by a hash
 * of everything that makes it), so a CI run pays the ~1-3 minutes once and
 * every boot gets a fresh overlay over it (host.ts). Builds go to a sibling
 * folder and are renamed into place, under a lock, so parallel test files
 * never see half an image.
 *
 * Cache: $KPKI_NSPAWN_CACHE, else node_modules/.cache/kpki-nspawn in the
 * project (a fresh clone in CI builds it once; `rm -rf` it to rebuild).
 * Mirror: $KPKI_DEBIAN_MIRROR, else the Debian archive this machine's apt uses.
 */
import { createHash } from "node:crypto";
import { existsSync, promises as fs, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { processGone } from "../testhosts/process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, "../../..");
const SUITE = "bookworm";
// iptables: what pkgs.k8s.io's kubelet package depends on (kubeadm's FileExisting-iptables); the test repositories' kubelet carries no Debian dependencies.
const INCLUDE = ["systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "procps", "kmod", "iptables"];

/** What the image holds beyond Debian's minimal base (see packages.ts). */
export interface RootfsRecipe {
  /** Run node-packages.sh with this kubelet version (containerd + a kubelet stand-in); undefined: a bare Debian 12. */
  nodePackages?: { kubeletVersion: string };
}

export function cacheRoot(): string {
  return process.env.KPKI_NSPAWN_CACHE || path.join(projectRoot, "node_modules", ".cache", "kpki-nspawn");
}

/** The Debian archive URL this machine's apt uses (deb822 .sources or one-line sources.list). */
export function debianMirror(): string {
  if (process.env.KPKI_DEBIAN_MIRROR) return process.env.KPKI_DEBIAN_MIRROR;
  const files = [
    ...readdirSync("/etc/apt/sources.list.d", { withFileTypes: true })
      .filter((entry) => entry.isFile() && /\.(sources|list)$/.test(entry.name))
      .map((entry) => path.join("/etc/apt/sources.list.d", entry.name)),
    "/etc/apt/sources.list",
  ];
  for (const file of files) {
    const text = existsSync(file) ? readFileSync(file, "utf8") : "";
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/im.exec(stanza)?.[1];
      if (uri && new RegExp(`^Suites:.*\\b${SUITE}\\b`, "im").test(stanza) && !/security/.test(uri)) return uri;
    }
    const line = new RegExp(`^deb\\s+(?:\\[[^\\]]*\\]\\s+)?(\\S+)\\s+${SUITE}\\s`, "m").exec(text);
    if (line && !/security/.test(line[1]!)) return line[1]!;
  }
  throw new Error(`no Debian ${SUITE} archive in this machine's apt sources: set KPKI_DEBIAN_MIRROR`);
}

function recipeKey(recipe: RootfsRecipe): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ SUITE, INCLUDE, recipe }));
  hash.update(readFileSync(path.join(here, "image.sh")));
  if (recipe.nodePackages) hash.update(readFileSync(path.join(here, "node-packages.sh")));
  return `debian12-${hash.digest("hex").slice(0, 16)}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A lock folder holding its owner's PID; a dead owner's lock is taken over. */
async function withLock<T>(lock: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fs.mkdir(lock);
      await fs.writeFile(path.join(lock, "owner"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(await fs.readFile(path.join(lock, "owner"), "utf8").catch(() => "0"));
      if (owner && processGone(owner)) {
        await fs.rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by process ${owner} for too long`);
      await sleep(500);
    }
  }
  try {
    return await work();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

async function chroot(root: string, script: string, args: string[] = []): Promise<void> {
  const result = await execa("chroot", [root, "/bin/sh", "-s", "--", ...args], { input: script, reject: false, all: true, env: { LC_ALL: "C" } });
  if (result.exitCode !== 0) throw new Error(`building the nspawn rootfs: a script in the chroot failed (${result.exitCode}):\n${result.all}`);
}

/**
 * The cached rootfs for a recipe, built first if missing. Returns its path;
 * treat it as read-only (boots overlay it). `onBuild` is told when a build
 * starts (it takes minutes).
 */
export async function debianRootfs(recipe: RootfsRecipe = {}, onBuild?: (dir: string) => void): Promise<string> {
  const cache = cacheRoot();
  await fs.mkdir(cache, { recursive: true });
  const key = recipeKey(recipe);
  const target = path.join(cache, key);
  const complete = `${target}.complete`;
  if (existsSync(complete)) return target;
  return withLock(`${target}.lock`, 15 * 60_000, async () => {
    if (existsSync(complete)) return target;
    onBuild?.(target);
    // Under the lock no one else builds: any .build-* left is a killed build's.
    for (const stale of readdirSync(cache).filter((name) => name.startsWith(`${key}.build-`))) await fs.rm(path.join(cache, stale), { recursive: true, force: true });
    const build = `${target}.build-${process.pid}`;
    try {
      const bootstrap = await execa(
        "debootstrap",
        ["--variant=minbase", `--include=${INCLUDE.join(",")}`, SUITE, build, debianMirror()],
        { reject: false, all: true, env: { LC_ALL: "C" } },
      );
      if (bootstrap.exitCode !== 0) throw new Error(`debootstrap failed (${bootstrap.exitCode}):\n${bootstrap.all?.split("\n").slice(-15).join("\n")}`);
      // The archive is still in sources.list here: node-packages.sh installs with apt, image.sh then empties it.
      if (recipe.nodePackages) await chroot(build, await fs.readFile(path.join(here, "node-packages.sh"), "utf8"), [recipe.nodePackages.kubeletVersion]);
      await chroot(build, await fs.readFile(path.join(here, "image.sh"), "utf8"));
      await fs.rm(target, { recursive: true, force: true });
      await fs.rename(build, target);
      await fs.writeFile(complete, `${key}\n`);
    } catch (error) {
      await fs.rm(build, { recursive: true, force: true });
      throw error;
    }
    return target;
  });
}
