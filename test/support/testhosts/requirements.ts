/**
 * Whether real test hosts can run here: root, `ip netns add` working,
 * overlayfs, and OpenSSH's server and client installed. On a laptop a missing
 * piece is a reason to skip; in CI (CI set) it is an error, because .ci/run
 * installs everything (scripts/install-peers).
 */
import { existsSync, readFileSync } from "node:fs";
import { execa } from "execa";

const PROGRAMS: Record<string, string> = {
  "/usr/sbin/sshd": "openssh-server",
  "/usr/bin/ssh": "openssh-client",
  "/usr/bin/ssh-keygen": "openssh-client",
  "/usr/bin/perl": "perl-base",
  "/usr/bin/unshare": "util-linux",
  // The hosts' real package managers: this machine's apt/dpkg, and Debian's rpm and dnf for the RHEL family.
  "/usr/bin/apt-get": "apt",
  "/usr/bin/rpm": "rpm",
  "/usr/bin/rpmbuild": "rpm",
  "/usr/bin/dnf": "dnf",
  // The hosts run the machine's real containerd (runtime.ts).
  "/usr/bin/containerd": "containerd",
};

let cached: Promise<string | undefined> | undefined;

async function probe(): Promise<string | undefined> {
  if (process.platform !== "linux") return `test hosts need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "test hosts need root (network namespaces, mounts)";
  const ip = await execa("ip", ["-V"], { reject: false });
  if (ip.exitCode !== 0) return "the ip command is missing: apt-get install -y iproute2";
  const missing = Object.entries(PROGRAMS).filter(([program]) => !existsSync(program));
  if (missing.length) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    return `${missing.map(([program]) => program).join(", ")} missing: apt-get install -y ${packages.join(" ")}`;
  }
  if (!/\toverlay$/m.test(readFileSync("/proc/filesystems", "utf8"))) return "this kernel has no overlayfs";
  const name = `kpki-probe-${process.pid}`;
  const add = await execa("ip", ["netns", "add", name], { reject: false, all: true });
  if (add.exitCode !== 0) return `ip netns add does not work here: ${add.all?.trim()}`;
  await execa("ip", ["netns", "del", name], { reject: false });
  return undefined;
}

/**
 * undefined when test hosts can run here; otherwise why not (a skip reason).
 * Throws instead when process.env.CI is set: CI must run these tests.
 */
export async function testHostsAvailable(): Promise<string | undefined> {
  cached ??= probe();
  const reason = await cached;
  if (reason && process.env.CI) throw new Error(`test hosts cannot run in CI: ${reason}`);
  return reason;
}
