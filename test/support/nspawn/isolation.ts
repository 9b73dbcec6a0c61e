/**
 * "Nothing left behind" for an nspawn host: the test hosts' checks
 * (processes, bridge, mounts, sockets, addresses, the run folder) plus what
 * nspawn itself makes on this machine: the container's veth, its cgroups,
 * its entry in /run/systemd/nspawn.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { leftovers } from "../testhosts/isolation.js";
import { linkExists } from "../testhosts/network.js";
import type { NspawnFootprint } from "./host.js";

export async function nspawnLeftovers(footprint: NspawnFootprint): Promise<string[]> {
  const left = await leftovers({ ...footprint, netns: [], netnsInodes: [] });
  if (linkExists(footprint.veth)) left.push(`link ${footprint.veth}`);
  for (const cgroup of footprint.cgroups) if (existsSync(cgroup)) left.push(`cgroup ${cgroup}`);
  for (const entry of ["propagate", "unix-export"]) {
    const file = path.join("/run/systemd/nspawn", entry, footprint.machine);
    if (existsSync(file)) left.push(file);
  }
  return left;
}
