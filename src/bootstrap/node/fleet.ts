import { SshError, SshSession, type SshHost, type SshSettings } from "./ssh.js";
import { parseNodeOutput, renderNodeScript, type NodeScriptOptions, type Role, type StepResult } from "./steps.js";
import type { KubernetesTarget } from "./versions.js";

export interface FleetHost extends SshHost {
  /** What the report calls it (the inventory name, else the address). */
  name: string;
  role: Role;
  /** This host's target, over the run's (an inventory may pin hosts apart). */
  kubernetes?: KubernetesTarget;
}

export interface HostReport {
  host: string;
  address: string;
  role: Role;
  /** The Kubernetes version the host was checked or prepared for (1.33, or 1.33.2). */
  kubernetes: string;
  /** ready (check), or prepared (apply); false if any step failed or would change. */
  ok: boolean;
  changed: number;
  steps: StepResult[];
  facts: Record<string, string>;
  /** Why the host could not be worked on at all. */
  error?: { failure: string; message: string };
  seconds: number;
}

/**
 * Runs the node script on every host, at most `parallel` at a time, one
 * SSH connection and one script per host. A host that fails never stops
 * the others; each gets its own report.
 */
export async function runFleet(
  hosts: readonly FleetHost[],
  options: Omit<NodeScriptOptions, "role"> & { parallel: number; ssh: SshSettings },
  onDone?: (report: HostReport) => void,
): Promise<HostReport[]> {
  const session = new SshSession(options.ssh);
  const reports: HostReport[] = new Array(hosts.length);
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const index = next++;
      reports[index] = await runHost(session, hosts[index]!, options);
      onDone?.(reports[index]!);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.parallel, hosts.length) }, worker));
  } finally {
    await session.close();
  }
  return reports;
}

async function runHost(session: SshSession, host: FleetHost, options: Omit<NodeScriptOptions, "role">): Promise<HostReport> {
  const started = Date.now();
  const target = host.kubernetes ?? options.kubernetes;
  const report: HostReport = { host: host.name, address: host.address, role: host.role, kubernetes: target.patch ?? target.minor, ok: false, changed: 0, steps: [], facts: {}, seconds: 0 };
  try {
    const result = await session.run(host, renderNodeScript({ ...options, role: host.role, kubernetes: target }));
    const parsed = parseNodeOutput(result.stdout);
    report.steps = parsed.steps;
    report.facts = parsed.facts;
    if (result.exitCode !== 0 || parsed.steps.length === 0) {
      report.error = { failure: "remote-failed", message: `${host.name}: the node script failed (exit ${result.exitCode}): ${result.stderr.trim().split("\n").at(-1) ?? parsed.noise.at(-1) ?? "no output"}` };
    }
    report.changed = parsed.steps.filter((step) => step.state === "changed").length;
    report.ok = !report.error && parsed.steps.every((step) => step.state === "ok" || step.state === "changed" || step.state === "warn" || step.state === "info");
  } catch (error) {
    if (!(error instanceof SshError)) throw error;
    report.error = { failure: error.failure, message: error.message };
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
