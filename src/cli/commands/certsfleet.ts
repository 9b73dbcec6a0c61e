import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { printJson, table, type Io } from "../io.js";
import { FleetProgress } from "../progress.js";
import { sshOptions, sshSettings, type SshArgs } from "../sshoptions.js";
import { loadHosts } from "./node.js";

/** check-expiration's options for reading a fleet over SSH (HOST… or --inventory). */
export const fleetExpiryOptions = <T>(command: Argv<T>) =>
  command
    .positional("hosts", { type: "string", array: true, describe: "read these nodes over SSH instead of a local folder: [user@]host[:port] …" })
    .option("inventory", { type: "string", describe: "read the inventory's nodes over SSH (kpki's YAML or an Ansible/kubespray inventory)" })
    .option("limit", { type: "string", describe: "only these inventory hosts or groups, as Ansible's --limit" })
    .option("parallel", { type: "number", default: 20, describe: "hosts read at once" })
    .options(sshOptions);

export interface FleetArgs extends SshArgs {
  hosts?: (string | number)[];
  inventory?: string;
  limit?: string;
  parallel: number;
  output: string;
  failWithin?: string;
}

export const wantsFleet = (args: { hosts?: unknown[]; inventory?: string }) => Boolean(args.inventory) || (args.hosts?.length ?? 0) > 0;

/**
 * One expiry table across the fleet: every node's /etc/kubernetes/pki,
 * /etc/kubernetes/*.conf and the kubelet's certificates, CAs included.
 */
export async function runFleetExpiry(io: Io, args: FleetArgs, failWithinMs: number | undefined): Promise<void> {
  if (!Number.isInteger(args.parallel) || args.parallel < 1) throw new KpkiError("usage", "--parallel must be a whole number of hosts, at least 1");
  const settings = sshSettings(args);
  const hosts = await loadHosts(io, { ...args, role: "worker" } as Parameters<typeof loadHosts>[1], "kpki certs check-expiration");
  const { readFleetExpiry, fleetExpirationInfo, residual } = await import("../../bootstrap/node/fleetexpiry.js");
  const { formatExpiry } = await import("../../pki/expiry.js");
  const progress = new FleetProgress(io, hosts.length, args.parallel, io.isTTY && args.output !== "json");
  const report = await readFleetExpiry(hosts, { parallel: args.parallel, ssh: settings }, (host) => progress.hostDone(host.error ? `${host.host}: FAILED: ${host.error}` : undefined));
  progress.finish();
  const now = new Date();
  if (args.output === "json") printJson(io, fleetExpirationInfo(report, now));
  else {
    const rows = report.certificates.map((row) => [
      row.host,
      row.name,
      row.isCa ? "-" : (row.caName ?? "?"),
      formatExpiry(row.notAfter),
      residual(row, now),
      row.externallyManaged ? "yes" : "no",
      row.problem ? `! ${row.problem}` : "",
    ]);
    const lines = [table([["HOST", "CERTIFICATE", "CA", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED", ""], ...rows])];
    const soonest = [...report.certificates].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())[0];
    const read = report.hosts.filter((host) => !host.error).length;
    lines.push("", `${report.certificates.length} certificates on ${read} of ${report.hosts.length} hosts${soonest ? `; soonest: ${soonest.host} ${soonest.name}, ${residual(soonest, now)}` : ""}`);
    for (const host of report.hosts) {
      if (host.error) lines.push(`${host.host}: FAILED: ${host.error}`);
      for (const file of host.unreadable) lines.push(`${host.host}: ${file}: not a readable certificate`);
    }
    io.stdout(`${lines.join("\n")}\n`);
  }
  const failed = report.hosts.filter((host) => host.error || host.unreadable.length > 0);
  if (failed.length > 0) throw new KpkiError("verify", `${failed.length} of ${report.hosts.length} host(s) could not be read in full: ${failed.map((host) => host.host).join(", ")}`);
  if (failWithinMs !== undefined) {
    const attention = report.certificates.filter((row) => row.problem || row.notAfter.getTime() - now.getTime() <= failWithinMs);
    if (attention.length > 0) {
      throw new KpkiError("verify", `${attention.length} need attention within ${args.failWithin}: ${attention.map((row) => `${row.host} ${row.name}${row.problem ? " (CA mismatch)" : ""}`).join(", ")}`);
    }
  }
}
