/**
 * The test hosts' network: one bridge in this machine's namespace carrying a
 * link-local /24 (169.254.N.1), one network namespace per host with a veth
 * into the bridge (169.254.N.(10+i) on eth0, no default route). Link-local
 * only: traffic goes to loopback or to hosts made here, never elsewhere.
 *
 * The third octet is claimed by creating the bridge `kpki-thN`: the kernel
 * refuses a second bridge of that name, so parallel runs pick different
 * subnets. The bridge's alias records the owning process, so a later run can
 * clean up after one that was killed (reapStale).
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { execa } from "execa";

export const FIRST_OCTET = 77;
const OCTET_ATTEMPTS = 40;
const ALIAS_PREFIX = "kpki-testhosts";

export interface Subnet {
  octet: number;
  bridge: string;
  gateway: string;
}

export interface HostNet {
  index: number;
  netns: string;
  /** The veth end in this machine's namespace (the host's end is eth0). */
  veth: string;
  address: string;
  /** eth0's MAC: fixed, so it survives a simulated reboot (and this machine's ARP entry stays right). */
  mac: string;
}

/** Locally administered MACs: 02:6b:74:OCTET:INDEX:END (END 1 = host's eth0, 2 = our veth end; 0:0 = bridge). */
const mac = (octet: number, index: number, end: number) =>
  ["02", "6b", "74", octet, index, end].map((part) => (typeof part === "number" ? part.toString(16).padStart(2, "0") : part)).join(":");

export const bridgeName = (octet: number) => `kpki-th${octet}`;
const netnsPrefix = (octet: number) => `kpki-th${octet}-`;

export function hostNet(subnet: Subnet, index: number, name: string): HostNet {
  if (index < 1 || index > 230) throw new Error(`test host index ${index} out of range 1-230 (.250 stays unused)`);
  return {
    index,
    netns: `${netnsPrefix(subnet.octet)}${name}`,
    veth: `kth${subnet.octet}-${index}`,
    address: `169.254.${subnet.octet}.${10 + index}`,
    mac: mac(subnet.octet, index, 1),
  };
}

/** Runs `ip -batch`; it stops at the first failing line unless force (then it runs them all). */
async function ipBatch(lines: string[], netns?: string, force = false): Promise<{ ok: boolean; output: string }> {
  const args = [...(netns ? ["-n", netns] : []), ...(force ? ["-force"] : []), "-batch", "-"];
  const result = await execa("ip", args, { input: lines.join("\n") + "\n", reject: false, all: true });
  return { ok: result.exitCode === 0, output: result.all ?? "" };
}

function processStart(pid: number): string | undefined {
  try {
    // Field 22 (starttime), counted after the parenthesised command name.
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19];
  } catch {
    return undefined;
  }
}

function ownerAlias(runDir: string): string {
  return `${ALIAS_PREFIX} pid=${process.pid} start=${processStart(process.pid)} dir=${runDir}`;
}

/** Lines that make one host's namespace and veth (run in this machine's namespace). */
function hostLines(subnet: Subnet, host: HostNet): string[] {
  return [
    `netns add ${host.netns}`,
    `link add ${host.veth} address ${mac(subnet.octet, host.index, 2)} type veth peer name eth0 address ${host.mac} netns ${host.netns}`,
    `link set ${host.veth} master ${subnet.bridge} up`,
  ];
}

/** Lines run inside a host's namespace: loopback and eth0 up, the address, no default route. */
function insideLines(host: HostNet): string[] {
  return ["link set lo up", `addr add ${host.address}/24 dev eth0`, "link set eth0 up"];
}

/**
 * Claims a subnet and makes the bridge and every host namespace in one `ip`
 * process, then configures each namespace (one `ip` process per host, in parallel).
 */
export async function createNetwork(runDir: string, names: string[], from = FIRST_OCTET): Promise<{ subnet: Subnet; hosts: HostNet[] }> {
  for (let octet = from; octet < FIRST_OCTET + OCTET_ATTEMPTS; octet++) {
    const subnet: Subnet = { octet, bridge: bridgeName(octet), gateway: `169.254.${octet}.1` };
    const hosts = names.map((name, i) => hostNet(subnet, i + 1, name));
    const claim = await ipBatch([
      `link add ${subnet.bridge} address ${mac(octet, 0, 0)} type bridge`,
      `link set ${subnet.bridge} alias "${ownerAlias(runDir)}"`,
      `addr add ${subnet.gateway}/24 dev ${subnet.bridge}`,
      `link set ${subnet.bridge} up`,
      ...hosts.flatMap((host) => hostLines(subnet, host)),
    ]);
    if (!claim.ok) {
      if (/File exists/.test(claim.output) && !(await bridgeOwnedByUs(subnet.bridge, runDir))) continue;
      await deleteNetwork(subnet, hosts);
      throw new Error(`could not create the test network on ${subnet.bridge}:\n${claim.output}`);
    }
    await configureInside(hosts).catch(async (error) => {
      await deleteNetwork(subnet, hosts);
      throw error;
    });
    return { subnet, hosts };
  }
  throw new Error(`no free test subnet among 169.254.${FIRST_OCTET}-${FIRST_OCTET + OCTET_ATTEMPTS - 1}.0/24 (bridges kpki-th*)`);
}

async function bridgeOwnedByUs(bridge: string, runDir: string): Promise<boolean> {
  try {
    return readFileSync(`/sys/class/net/${bridge}/ifalias`, "utf8").trim() === ownerAlias(runDir);
  } catch {
    return false;
  }
}

async function configureInside(hosts: HostNet[]): Promise<void> {
  const results = await Promise.all(hosts.map((host) => ipBatch(insideLines(host), host.netns)));
  const failed = results.findIndex((result) => !result.ok);
  if (failed >= 0) throw new Error(`could not configure ${hosts[failed]!.netns}:\n${results[failed]!.output}`);
}

/**
 * A host's fresh namespace after a simulated reboot: same name, same veth,
 * same address. The veth is deleted first: that removes both ends at once,
 * while deleting a namespace frees its devices later, in the background.
 */
export async function recreateHostNetns(subnet: Subnet, host: HostNet): Promise<void> {
  const result = await ipBatch([`link del ${host.veth}`, `netns del ${host.netns}`, ...hostLines(subnet, host)]);
  if (!result.ok) throw new Error(`could not recreate ${host.netns}:\n${result.output}`);
  await configureInside([host]);
}

/**
 * Deletes the veths (both ends at once: deleting a namespace would free them
 * later, in the background), the hosts' namespaces and the bridge in one
 * `ip -force -batch`; then checks all are gone.
 */
export async function deleteNetwork(subnet: Subnet, hosts: HostNet[]): Promise<void> {
  const existing = new Set(await listNetns());
  // What each name stands for now: once deleted, the octet is free, and another run may make the same names at once.
  const links = new Map([subnet.bridge, ...hosts.map((host) => host.veth)].map((link) => [link, linkIndex(link)] as const).filter(([, index]) => index !== undefined));
  const namespaces = new Map(hosts.filter((host) => existing.has(host.netns)).map((host) => [host.netns, netnsInode(host.netns)] as const));
  const lines = [
    ...hosts.filter((host) => links.has(host.veth)).map((host) => `link del ${host.veth}`),
    ...[...namespaces.keys()].map((netns) => `netns del ${netns}`),
    ...(links.has(subnet.bridge) ? [`link del ${subnet.bridge}`] : []),
  ];
  if (lines.length) await ipBatch(lines, undefined, true);
  // Link indexes are not handed out again soon; a freed namespace's inode number may be, at once. So a
  // namespace of our name counts as ours only while no other run has made the bridge anew.
  const bridgeNow = linkIndex(subnet.bridge);
  const taken = bridgeNow !== undefined && bridgeNow !== links.get(subnet.bridge);
  const left = [
    ...[...namespaces].filter(([netns, inode]) => !taken && netnsInode(netns) === inode).map(([netns]) => `netns ${netns}`),
    ...[...links].filter(([link, index]) => linkIndex(link) === index).map(([link]) => `link ${link}`),
  ];
  if (left.length) throw new Error(`could not delete the test network: ${left.join(", ")} remain`);
}

export function linkExists(name: string): boolean {
  return statSync(`/sys/class/net/${name}`, { throwIfNoEntry: false }) !== undefined;
}

/** A link's index: a link made anew under the same name gets another one. */
function linkIndex(name: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/ifindex`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether the subnet's bridge now belongs to another run than `runDir`'s:
 * after a run frees its octet, the next run to start may claim it at once,
 * and the names and addresses of that subnet are then the other run's.
 */
export function subnetTakenFrom(bridge: string, runDir: string): boolean {
  try {
    return !readFileSync(`/sys/class/net/${bridge}/ifalias`, "utf8").trim().endsWith(` dir=${runDir}`);
  } catch {
    return false;
  }
}

export async function listNetns(): Promise<string[]> {
  const result = await execa("ip", ["netns", "list"], { reject: false });
  return result.stdout
    .split("\n")
    .map((line) => line.split(" ")[0]!)
    .filter(Boolean);
}

/** The inode that identifies a named network namespace (as in /proc/PID/ns/net "net:[INODE]"). */
export function netnsInode(netns: string): number | undefined {
  return statSync(`/run/netns/${netns}`, { throwIfNoEntry: false })?.ino;
}

/** Processes in a named network namespace (found by its inode, while the name still holds it). */
export function processesInNetns(netns: string): number[] {
  const inode = netnsInode(netns);
  if (inode === undefined) return [];
  const wanted = `net:[${inode}]`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) === wanted) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export interface StaleRun {
  octet: number;
  bridge?: string;
  netns: string[];
  runDir?: string;
}

/**
 * Test networks left by runs whose process is gone (killed test runner):
 * bridges kpki-thN whose owner is dead, and kpki-thN-* namespaces without a
 * live bridge. Live runs of other processes are never listed.
 */
export async function findStale(): Promise<StaleRun[]> {
  const namespaces = await listNetns();
  const octets = new Set<number>();
  for (const name of namespaces) {
    const match = /^kpki-th(\d+)-/.exec(name);
    if (match) octets.add(Number(match[1]));
  }
  const links = await execa("ip", ["-o", "link", "show", "type", "bridge"], { reject: false });
  for (const match of links.stdout.matchAll(/^\d+: kpki-th(\d+)[:@]/gm)) octets.add(Number(match[1]));
  const stale: StaleRun[] = [];
  for (const octet of octets) {
    const bridge = bridgeName(octet);
    let runDir: string | undefined;
    if (linkExists(bridge)) {
      const alias = readFileSync(`/sys/class/net/${bridge}/ifalias`, "utf8").trim();
      const owner = /^kpki-testhosts pid=(\d+) start=(\S+) dir=(.+)$/.exec(alias);
      if (!owner) continue; // not made by this harness: leave it
      if (processStart(Number(owner[1])) === owner[2]) continue; // owner alive
      runDir = owner[3];
    }
    stale.push({
      octet,
      bridge: linkExists(bridge) ? bridge : undefined,
      netns: namespaces.filter((name) => name.startsWith(netnsPrefix(octet))),
      runDir,
    });
  }
  return stale;
}

/** Deletes a stale run's namespaces and bridge (its processes must be gone first). */
export async function deleteStale(run: StaleRun): Promise<void> {
  const lines = [...run.netns.map((name) => `netns del ${name}`), ...(run.bridge ? [`link del ${run.bridge}`] : [])];
  if (lines.length) await ipBatch(lines, undefined, true);
}
