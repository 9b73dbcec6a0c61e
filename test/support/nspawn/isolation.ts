/**
 * "Nothing left behind" for an nspawn host: the test hosts' checks
 * (processes, bridge, mounts, sockets, addresses, the run folder) plus what
 * nspawn itself makes on this machine: the container's veth, its cgroups,
 * its entry in /run/systemd/nspawn.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { leftovers } from "../testhosts/isolation.js";
import { linkExists } from "../testhosts/network.js";
import { cgroupRoots, CGROUP_PREFIX, type NspawnFootprint } from "./host.js";

export async function nspawnLeftovers(footprint: NspawnFootprint): Promise<string[]> {
  const left = await leftovers({ ...footprint, netns: [], netnsInodes: [] });
  if (linkExists(footprint.veth)) left.push(`link ${footprint.veth}`);
  for (const cgroup of footprint.cgroups) if (existsSync(cgroup)) left.push(`cgroup ${cgroup}`);
  if (existsSync("/run/systemd/nspawn/.kpki-made") && !otherRunsAlive()) left.push("/run/systemd/nspawn (made by a kpki run, no container left)");
  for (const entry of ["propagate", "unix-export"]) {
    const file = path.join("/run/systemd/nspawn", entry, footprint.machine);
    if (existsSync(file)) left.push(file);
  }
  return left;
}

/** Whether another kpki nspawn host runs now (its cgroup exists): then /run/systemd/nspawn is still in use. */
function otherRunsAlive(): boolean {
  return cgroupRoots().some((root) => readdirSync(root).some((name) => name.startsWith(CGROUP_PREFIX)));
}
