import type { CheckResult } from "./preflight.js";

/**
 * Checks across hosts, before any join: kubeadm's install guide asks for a
 * unique host name, MAC address and product_uuid per node, and machine-id
 * clones break node identity (CNI plugins, journald, DHCP client ids). No
 * single host can tell; kpki compares the facts every host reported.
 */

export interface FleetHostFacts {
  host: string;
  facts: Record<string, string>;
  /** Local clock (ms since the epoch) when the script was sent and when its report came back. */
  sentAt: number;
  receivedAt: number;
}

/** kubeadm backdates certificates 5 minutes; bootstrap tokens expire by the clock: 30 s is a margin that keeps both safe. */
export const MAX_CLOCK_SKEW_SECONDS = 30;

export const FLEET_CHECK_NAMES = ["DuplicateProductUUID", "DuplicateMachineID", "DuplicateMAC", "DuplicateHostname", "ClockSkew"] as const;

/** Per host, the fleet checks' results (only failures: a host with none passed them all). */
export function fleetChecks(hosts: readonly FleetHostFacts[]): Map<string, CheckResult[]> {
  const results = new Map<string, CheckResult[]>(hosts.map((host) => [host.host, []]));
  const add = (host: string, result: Omit<CheckResult, "source" | "status">) => results.get(host)!.push({ ...result, source: "kpki", status: "fail" });

  const duplicates = (name: (typeof FLEET_CHECK_NAMES)[number], label: string, values: (facts: Record<string, string>) => string[]) => {
    const owners = new Map<string, string[]>();
    for (const host of hosts) for (const value of new Set(values(host.facts))) owners.set(value, [...(owners.get(value) ?? []), host.host]);
    for (const [value, names] of owners) {
      if (names.length < 2) continue;
      for (const host of names) add(host, { name, severity: "error", detail: `${label} ${value} is shared by ${names.join(", ")}: each node needs its own (a cloned image?)` });
    }
  };
  duplicates("DuplicateProductUUID", "product_uuid", (facts) => (facts.product_uuid ? [facts.product_uuid.toLowerCase()] : []));
  duplicates("DuplicateMachineID", "/etc/machine-id", (facts) => (facts.machine_id ? [facts.machine_id] : []));
  duplicates("DuplicateMAC", "MAC address", (facts) => (facts.macs ?? "").split(/\s+/).filter(Boolean).map((entry) => entry.split("=").at(-1)!.toLowerCase()));
  duplicates("DuplicateHostname", "host name", (facts) => (facts.hostname ? [facts.hostname.toLowerCase()] : []));

  for (const host of hosts) {
    const skew = clockSkew(host);
    if (skew !== undefined && Math.abs(skew) > MAX_CLOCK_SKEW_SECONDS) {
      add(host.host, { name: "ClockSkew", severity: "error", detail: `clock is ${Math.abs(skew).toFixed(0)} s ${skew > 0 ? "ahead of" : "behind"} this machine's (more than ${MAX_CLOCK_SKEW_SECONDS} s): certificates are backdated only 5 minutes and token expiry follows the clock; run NTP (chronyd, systemd-timesyncd)` });
    }
  }
  return results;
}

/**
 * The host's clock minus this machine's, in seconds, at least as far off as
 * measured: the host read its clock somewhere between send and receive, so
 * only the part of the difference outside that window counts.
 */
export function clockSkew(host: FleetHostFacts): number | undefined {
  const remote = Number(host.facts.clock);
  if (!host.facts.clock || !Number.isFinite(remote)) return undefined;
  const early = remote - host.receivedAt / 1000;
  const late = remote - host.sentAt / 1000;
  if (early > 0) return early;
  if (late < 0) return late;
  return 0;
}
