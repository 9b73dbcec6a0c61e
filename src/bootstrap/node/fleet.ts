import { SshError, SshSession, type SshHost, type SshSettings } from "./ssh.js";
import { parseNodeOutput, renderNodeScript, type NodeScriptOptions, type Role, type StepResult } from "./steps.js";
import type { KubernetesTarget } from "./versions.js";
import { blocks, evaluatePreflight, type CheckResult, type IgnoreSet, type PreflightContext } from "./preflight.js";
import { fleetChecks, type FleetHostFacts } from "./fleetchecks.js";

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
  /** Every step ok (check), or prepared (apply); false if any step failed or would change. */
  ok: boolean;
  /** kubeadm init/join would pass here: no step failed and no error among the checks (warnings never count). */
  ready: boolean;
  changed: number;
  steps: StepResult[];
  /** kubeadm's preflight checks, kpki's own and the fleet's, each with its name, severity and result. */
  checks: CheckResult[];
  facts: Record<string, string>;
  /** Why the host could not be worked on at all. */
  error?: { failure: string; message: string };
  seconds: number;
}

/** What the preflight is judged against, beyond each host's role and target. */
export interface PreflightSettings extends Omit<PreflightContext, "role" | "kubernetes" | "hostAddress" | "ipv6"> {
  ignore: IgnoreSet;
}

export const DEFAULT_PREFLIGHT: PreflightSettings = { apiserverPort: 6443, serviceCidr: "10.96.0.0/12", ignore: { names: [], has: () => false } };

type FleetOptions = Omit<NodeScriptOptions, "role"> & { parallel: number; ssh: SshSettings; preflight?: PreflightSettings };

/**
 * Runs the node script on every host, at most `parallel` at a time, one
 * SSH connection and one script per host. A host that fails never stops
 * the others; each gets its own report.
 */
export async function runFleet(hosts: readonly FleetHost[], options: FleetOptions, onDone?: (report: HostReport) => void): Promise<HostReport[]> {
  const session = new SshSession(options.ssh);
  const reports: HostReport[] = new Array(hosts.length);
  const timings: FleetHostFacts[] = new Array(hosts.length);
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const index = next++;
      const sentAt = Date.now();
      reports[index] = await runHost(session, hosts[index]!, options);
      timings[index] = { host: reports[index]!.host, facts: reports[index]!.facts, sentAt, receivedAt: sentAt + reports[index]!.seconds * 1000 };
      onDone?.(reports[index]!);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.parallel, hosts.length) }, worker));
  } finally {
    await session.close();
  }
  const fleet = fleetChecks(timings.filter((timing) => !reports.find((report) => report.host === timing.host)?.error));
  for (const report of reports) {
    const ignore = options.preflight?.ignore ?? DEFAULT_PREFLIGHT.ignore;
    report.checks.push(...(fleet.get(report.host) ?? []).map((check) => (ignore.has(check.name) ? { ...check, status: "ignored" as const } : check)));
    report.ready = report.ready && !report.checks.some(blocks);
  }
  return reports;
}

async function runHost(session: SshSession, host: FleetHost, options: FleetOptions): Promise<HostReport> {
  const started = Date.now();
  const target = host.kubernetes ?? options.kubernetes;
  const report: HostReport = { host: host.name, address: host.address, role: host.role, kubernetes: target.patch ?? target.minor, ok: false, ready: false, changed: 0, steps: [], checks: [], facts: {}, seconds: 0 };
  try {
    const result = await session.run(host, renderNodeScript({ ...options, role: host.role, kubernetes: target }));
    const parsed = parseNodeOutput(result.stdout);
    report.steps = parsed.steps;
    report.facts = parsed.facts;
    if (result.exitCode !== 0 || parsed.steps.length === 0) {
      report.error = { failure: "remote-failed", message: `${host.name}: the node script failed (exit ${result.exitCode}): ${result.stderr.trim().split("\n").at(-1) ?? parsed.noise.at(-1) ?? "no output"}` };
    }
    report.changed = parsed.steps.filter((step) => step.state === "changed").length;
    if (parsed.facts.preflight === "done") {
      const { ignore, ...settings } = options.preflight ?? DEFAULT_PREFLIGHT;
      report.checks = evaluatePreflight(parsed.facts, { ...settings, role: host.role, kubernetes: target, hostAddress: host.address, ipv6: options.ipv6 }, ignore);
    }
    const failedStep = parsed.steps.some((step) => step.state === "failed");
    // In check mode a step that would change something is prep's business: only kubeadm's and kpki's checks decide readiness.
    report.ready = !report.error && !failedStep && !report.checks.some(blocks);
    report.ok = !report.error && parsed.steps.every((step) => step.state === "ok" || step.state === "changed" || step.state === "warn" || step.state === "info");
  } catch (error) {
    if (!(error instanceof SshError)) throw error;
    report.error = { failure: error.failure, message: error.message };
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
