/**
 * Proof that test hosts leave this machine as found: a snapshot of what a
 * host could plausibly change here (fstab, sysctl.d, ip_forward, swaps, the
 * global kernel parameters hosts get their own copies of) to compare before
 * and after, and a check that nothing of a run remains after stop().
 *
 * Checks are scoped to one run's footprint, so other runs going on in
 * parallel (another test file's hosts) do not disturb them.
 */
import { createHash } from "node:crypto";
import { existsSync, promises as fs, readFileSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { PER_HOST_SYSCTLS } from "./filesystem/overlay.js";
import { linkExists, listNetns, netnsInode, subnetTakenFrom } from "./network.js";
import { processGone, processStart } from "./process.js";

export interface MachineSnapshot {
  /** path → sha256 (or "missing"), for /etc/fstab, dpkg's status, every file in /etc/sysctl.d, /etc/modules-load.d, /etc/selinux, apt's sources… */
  files: Record<string, string>;
  /** /proc/sys entries: net.ipv4.ip_forward and the global ones hosts get copies of. */
  sysctls: Record<string, string>;
  swaps: string;
}

async function hashFile(file: string): Promise<string> {
  try {
    const stat = await fs.lstat(file);
    if (stat.isSymbolicLink()) return `-> ${await fs.readlink(file)}`;
    return createHash("sha256").update(await fs.readFile(file)).digest("hex");
  } catch {
    return "missing";
  }
}

export async function snapshotMachine(): Promise<MachineSnapshot> {
  // The package managers the hosts run are this machine's: its dpkg database, apt sources and keyrings,
  // and rpm's default database (~/.rpmdb on Debian) must stay as they are.
  const files = ["/etc/fstab", "/etc/modules", "/etc/sysctl.conf", "/var/lib/dpkg/status", "/root/.rpmdb/rpmdb.sqlite", "/etc/containerd/config.toml"];
  for (const dir of [
    "/etc/sysctl.d",
    "/etc/modules-load.d",
    "/etc/selinux",
    "/etc/systemd/system/multi-user.target.wants",
    "/etc/apt/sources.list.d",
    "/etc/apt/keyrings",
    "/etc/yum.repos.d",
  ]) {
    for (const name of await fs.readdir(dir).catch(() => [] as string[])) files.push(path.join(dir, name));
  }
  const sysctlFiles = ["/proc/sys/net/ipv4/ip_forward", ...PER_HOST_SYSCTLS];
  return {
    files: Object.fromEntries(await Promise.all(files.map(async (file) => [file, await hashFile(file)] as const))),
    sysctls: Object.fromEntries(sysctlFiles.map((file) => [file, readFileSync(file, "utf8").trim()])),
    swaps: readFileSync("/proc/swaps", "utf8"),
  };
}

/** Human-readable differences between two snapshots ([] when none). */
export function machineChanges(before: MachineSnapshot, after: MachineSnapshot): string[] {
  const changes: string[] = [];
  for (const file of new Set([...Object.keys(before.files), ...Object.keys(after.files)])) {
    if (before.files[file] !== after.files[file]) changes.push(`${file}: ${before.files[file] ?? "missing"} → ${after.files[file] ?? "missing"}`);
  }
  for (const key of Object.keys(before.sysctls)) {
    if (before.sysctls[key] !== after.sysctls[key]) changes.push(`${key}: ${before.sysctls[key]} → ${after.sysctls[key]}`);
  }
  if (before.swaps !== after.swaps) changes.push(`/proc/swaps changed:\n${after.swaps}`);
  return changes;
}

export interface RunFootprint {
  dir: string;
  bridge: string;
  netns: string[];
  netnsInodes: number[];
  pids: number[];
  /** Each pid's start time when it was seen: a PID that now names another process is not a leftover (pid_max is 32768 here). */
  pidStarts?: Record<number, string | undefined>;
  addresses: string[];
}

/** What is left of a stopped run ([] when nothing): namespaces, links, processes, mounts, listeners, files. */
export async function leftovers(footprint: RunFootprint): Promise<string[]> {
  // A killed host's processes can take a moment to be reaped on these machines (testhosts.md, pitfall 2),
  // and far longer under heavy load (8 were still exiting 3 s on at a load of 170): a process still there
  // after 15 s is a leftover; one that goes within it was only on its way out.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const left = await leftoversNow(footprint);
    if (Date.now() >= deadline || left.length === 0 || !left.every((entry) => entry.startsWith("process "))) return left;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function leftoversNow(footprint: RunFootprint): Promise<string[]> {
  const left: string[] = [];
  const namespaces = new Set(await listNetns());
  const taken = footprint.bridge !== "" && subnetTakenFrom(footprint.bridge, footprint.dir);
  // Once another run holds the subnet, a namespace of one of our names is its (its inode number may even be ours again: freed ones are reused).
  for (const name of footprint.netns) if (namespaces.has(name) && !taken) left.push(`network namespace ${name}`);
  if (footprint.bridge && linkExists(footprint.bridge) && !taken) left.push(`bridge ${footprint.bridge}`);
  const reused = (pid: number) => footprint.pidStarts?.[pid] !== undefined && processStart(pid) !== footprint.pidStarts[pid];
  for (const pid of footprint.pids) if (!processGone(pid) && !reused(pid)) left.push(`process ${pid}`);
  // A freed namespace's inode number can be reused at once by another run's new namespace:
  // those, being named, are someone else's.
  const named = new Set([...namespaces].map((name) => netnsInode(name)).map((inode) => `net:[${inode}]`));
  const inodes = new Set(footprint.netnsInodes.map((inode) => `net:[${inode}]`).filter((inode) => !named.has(inode)));
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (inodes.has(readlinkSync(`/proc/${entry}/ns/net`)) && !processGone(Number(entry))) left.push(`process ${entry} in a host's network namespace`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  const mountPoints = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "");
  for (const mountPoint of mountPoints) {
    if (mountPoint.startsWith(`${footprint.dir}/`) || (!taken && footprint.netns.some((name) => mountPoint === `/run/netns/${name}`))) left.push(`mount ${mountPoint}`);
  }
  if (existsSync(footprint.dir)) left.push(`folder ${footprint.dir}`);
  // The subnet's addresses are another run's once it has claimed the octet.
  if (taken) return left;
  // Sockets here still bound to or connected with a host address (listeners, a lingering
  // ssh ControlMaster...). TIME-WAIT is the kernel remembering a connection already closed.
  const sockets = await execa("ss", ["-Htan"], { reject: false });
  for (const line of sockets.stdout.split("\n")) {
    const [state = "", , , local = "", peer = ""] = line.trim().split(/\s+/);
    if (state === "TIME-WAIT") continue;
    const touches = (end: string) => footprint.addresses.some((address) => end.startsWith(`${address}:`));
    if (touches(local) || touches(peer)) left.push(`socket ${line.trim()}`);
  }
  const addresses = await execa("ip", ["-o", "addr"], { reject: false });
  for (const address of footprint.addresses) if (addresses.stdout.includes(` ${address}/`)) left.push(`address ${address}`);
  return left;
}
