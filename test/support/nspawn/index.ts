/**
 * Debian 12 hosts with a real systemd, booted by systemd-nspawn and reached
 * over SSH on a test bridge (README.md here).
 *
 *   const host = await NspawnHost.start();      // builds the cached rootfs first if needed
 *   try {
 *     await ssh(host, "systemctl is-system-running");   // ssh/sshArgs from ../testhosts
 *     await host.reboot();                               // halt and boot the container again
 *   } finally {
 *     await host.stop();
 *   }
 */
import { existsSync, readFileSync } from "node:fs";
import { testHostsAvailable } from "../testhosts/requirements.js";

export { NspawnHost, reapStaleNspawnHosts, type NspawnHostOptions, type NspawnFootprint } from "./host.js";
export { debianRootfs, cacheRoot, debianMirror, type RootfsRecipe } from "./rootfs.js";
export { defaultRecipe, STAND_IN_KUBELET_VERSION } from "./packages.js";
export { nspawnLeftovers } from "./isolation.js";

const PROGRAMS: Record<string, string> = {
  "/usr/sbin/debootstrap": "debootstrap",
  "/usr/bin/systemd-nspawn": "systemd-container",
  "/usr/sbin/chroot": "coreutils",
};

let cached: Promise<string | undefined> | undefined;

async function probe(): Promise<string | undefined> {
  const hosts = await testHostsAvailable();
  if (hosts) return hosts;
  const missing = Object.entries(PROGRAMS).filter(([program]) => !existsSync(program));
  if (missing.length) return `${missing.map(([program]) => program).join(", ")} missing: apt-get install -y ${[...new Set(missing.map(([, pkg]) => pkg))].join(" ")} (scripts/install-peers)`;
  if (!readFileSync("/proc/self/mountinfo", "utf8").includes(" /sys/fs/cgroup")) return "no cgroup hierarchy mounted at /sys/fs/cgroup (systemd-nspawn needs one)";
  return undefined;
}

/**
 * undefined when nspawn hosts can run here; otherwise why not (a skip
 * reason). Throws instead when CI is set: CI installs everything.
 */
export async function nspawnAvailable(): Promise<string | undefined> {
  cached ??= probe();
  const reason = await cached;
  if (reason && process.env.CI) throw new Error(`nspawn hosts cannot run in CI: ${reason}`);
  return reason;
}
