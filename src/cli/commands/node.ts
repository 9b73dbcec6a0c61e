import path from "node:path";
import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import type { FleetHost, HostReport, PreflightSettings } from "../../bootstrap/node/fleet.js";
import type { PushResult } from "../../bootstrap/node/pushpki.js";
import { ROLES, type Role } from "../../bootstrap/node/steps.js";
import { resolveKubernetesVersion, type KubernetesTarget } from "../../bootstrap/node/versions.js";
import { clusterDirOptions, clusterLayoutOf } from "../clusterdir.js";
import { inputLabel, readInput } from "../files.js";
import { printJson, table, type Io } from "../io.js";
import { nodeScriptOptions, packageOptions, type NodeScriptArgs } from "../nodeoptions.js";
import { FleetProgress } from "../progress.js";
import { parseHostSpec, sshOptions, sshSettings, type SshArgs } from "../sshoptions.js";
import { cloudInitOptions, printCloudInit } from "./nodeprovision.js";

interface PushArgs extends SshArgs {
  hosts?: (string | number)[];
  inventory?: string;
  role: Role;
  dir?: string;
  certDir?: string;
  kubeconfigDir?: string;
  kubeconfigs: boolean;
  discoveryFile?: string;
  server?: string;
  only?: (string | number)[];
  target: string;
  dryRun: boolean;
  force: boolean;
  parallel: number;
  output: string;
}

export interface NodeArgs extends SshArgs, NodeScriptArgs {
  hosts?: (string | number)[];
  inventory?: string;
  limit?: string;
  ignorePreflightErrors?: (string | number)[];
  apiserverPort: number;
  serviceCidr: string;
  podNetworkCidr?: string;
  controlPlaneEndpoint?: string;
  criSocket?: string;
  parallel: number;
  output: string;
}

const fleetOptions = (command: Argv) =>
  command
    .positional("hosts", { type: "string", array: true, describe: "[user@]host[:port] …" })
    .option("inventory", { type: "string", describe: "kpki's YAML inventory (hosts, defaults), or an Ansible/kubespray inventory (INI or YAML)" })
    .option("limit", { type: "string", describe: "only these inventory hosts or groups, as Ansible's --limit (node1,kube_node:!node3)" })
    .option("role", { choices: ROLES, default: "worker" as Role, describe: "role of hosts the inventory does not give one: control-plane-init (kubeadm init), control-plane (kubeadm join --control-plane) or worker (kubeadm join)" })
    .option("ignore-preflight-errors", { type: "string", array: true, describe: "checks whose errors are shown as warnings, as kubeadm's flag: NAME,… or all (case-insensitive; repeatable)" })
    .option("apiserver-port", { type: "number", default: 6443, describe: "the API server's port, checked free on control planes (kubeadm's --apiserver-bind-port)" })
    .option("service-cidr", { type: "string", default: "10.96.0.0/12", describe: "service subnet: NO_PROXY must cover it when a proxy is set" })
    .option("pod-network-cidr", { type: "string", describe: "pod subnet: NO_PROXY must cover it when a proxy is set" })
    .option("control-plane-endpoint", { type: "string", describe: "host[:port] joining hosts reach the API server at: NO_PROXY must cover it when a proxy is set" })
    .option("cri-socket", { type: "string", describe: "the CRI socket kubeadm will use (unix:///…) [default: the only one on the host]" })
    .options(nodeScriptOptions)
    .option("parallel", { type: "number", default: 50, describe: "hosts worked on at once (one ssh each)" })
    .options(sshOptions);

export function nodeCommand(cli: Argv, io: Io): Argv {
  return cli.command("node", "prepare hosts for kubeadm over SSH: swap, forwarding, modules, SELinux, firewall, packages, runtime, kubelet", (node) =>
    node
      .command("check [hosts..]", "read-only preflight of every step on every host; exit 4 if any host is not ready", (command) =>
        fleetOptions(command).example("$0 node check root@192.0.2.21 root@192.0.2.22 --role worker", "a table per host").example("$0 node check --inventory hosts.yaml -o json", "for scripts"), async (args) => {
        await runNodes(io, args as unknown as NodeArgs, "check");
      })
      .command(
        "prep [hosts..]",
        "make every host ready (for good: survives a reboot); --dry-run shows what would change",
        (command) =>
          fleetOptions(command)
            .option("dry-run", { type: "boolean", default: false, describe: "show what each host would change; change nothing (exit 0 unless a host cannot be reached or a step would fail)" })
            .example("$0 node prep --inventory hosts.yaml --dry-run", "what each host would change")
            .example("$0 node prep root@192.0.2.21 --runtime containerd", "make it ready for kubeadm join"),
        async (args) => {
          await runNodes(io, args as unknown as NodeArgs, args.dryRun ? "dry-run" : "apply");
        },
      )
      .command(
        "push-pki [hosts..]",
        "copy the cluster's files by kubeadm's rules for the role: control-plane-init the whole PKI folder; control-plane the shared CA material and sa keys; worker nothing under /etc/kubernetes/pki (--discovery-file: a CA-and-server kubeconfig)",
        (command) =>
          command
            .positional("hosts", { type: "string", array: true, describe: "[user@]host[:port] …" })
            .option("inventory", { type: "string", describe: "YAML inventory (as node check takes it): each host's role comes from it" })
            .option("role", { choices: ROLES, default: "worker" as Role, describe: "role of hosts the inventory does not give one (worker, the safe one, gets no key)" })
            .options(clusterDirOptions)
            .option("kubeconfigs", { type: "boolean", default: false, describe: "also place the role's kubeconfigs in /etc/kubernetes (control-plane-init: all five; control-plane: admin.conf)" })
            .option("discovery-file", { type: "string", describe: "give joining hosts a kubeconfig holding only the CA and the server, for kubeadm join --discovery-file [at /etc/kubernetes/discovery.conf]" })
            .option("server", { type: "string", describe: "the API server URL the discovery file names [default: admin.conf's server]" })
            .option("only", { type: "string", array: true, describe: "push just these files (paths under --dir, e.g. etcd/ca.crt; within the role's set), repeatable" })
            .option("target", { type: "string", default: "/etc/kubernetes/pki", describe: "the PKI folder on the host (kubeconfigs go to its parent)" })
            .option("dry-run", { type: "boolean", default: false, describe: "list every file each host would get, and what would change; write nothing" })
            .option("force", { type: "boolean", default: false, describe: "replace keys that differ (never a worker's: it gets none)" })
            .option("parallel", { type: "number", default: 10, describe: "hosts worked on at once" })
            .options(sshOptions)
            .example("$0 node push-pki root@192.0.2.11 --role control-plane-init --dir ./kubernetes --kubeconfigs", "the first control plane: the whole folder, and its kubeconfigs")
            .example("$0 node push-pki root@192.0.2.12 --role control-plane --dir ./kubernetes", "a joining control plane: the shared CA and sa keys only")
            .example("$0 node push-pki root@192.0.2.21 --dir ./kubernetes --discovery-file", "a worker: no PKI, a discovery kubeconfig for kubeadm join --discovery-file"),
        async (args) => {
          await pushPkiCommand(io, args as unknown as PushArgs);
        },
      )
      .command("cloud-init", "print #cloud-config user-data (gzipped; --no-gzip: as text) that runs node prep's steps, then its check, on first boot (--format script: the plain script)", cloudInitOptions, async (args) => {
        await printCloudInit(io, args as unknown as Parameters<typeof printCloudInit>[1]);
      })
      .demandCommand(1, "give a node command: check, prep, push-pki, cloud-init"),
  );
}

type HostArgs = SshArgs & { hosts?: (string | number)[]; inventory?: string; limit?: string; role: Role };

/** The hosts from the command line and the inventory; `help` is the command whose --help a usage error points to. */
export async function loadHosts(io: Io, args: HostArgs, help = "kpki node check"): Promise<FleetHost[]> {
  const hosts: FleetHost[] = [];
  if (args.inventory) {
    const { readInventory } = await import("../../bootstrap/node/inventory.js");
    const inventory = await readInventory((await readInput(args.inventory, io)).toString(), inputLabel(args.inventory), { limit: args.limit, folder: inputLabel(args.inventory) === "standard input" ? undefined : path.dirname(args.inventory) });
    for (const warning of inventory.warnings) io.stderr(`warning: ${warning}\n`);
    for (const entry of inventory.hosts) {
      const host = parseHostSpec(entry.address, { ...args, user: entry.user ?? args.user, port: entry.port ?? args.port, identity: entry.identity ?? args.identity, sshOption: [...(args.sshOption ?? []), ...(entry.sshOptions ?? [])] }, args.inventory);
      hosts.push({ ...host, name: entry.name, role: entry.role ?? args.role, become: entry.become, kubernetes: entry.kubernetesVersion ? resolveKubernetesVersion(entry.kubernetesVersion) : undefined });
    }
  } else if (args.limit !== undefined) throw new KpkiError("usage", "--limit selects hosts of an --inventory: give one");
  for (const spec of args.hosts ?? []) {
    const host = parseHostSpec(String(spec), args);
    hosts.push({ ...host, name: host.address, role: args.role });
  }
  if (hosts.length === 0) throw new KpkiError("usage", `give the hosts: HOST… or --inventory hosts.yaml (see ${help} --help)`);
  const seen = new Set<string>();
  for (const host of hosts) {
    const key = `${host.address}:${host.port ?? ""}`;
    if (seen.has(key)) throw new KpkiError("usage", `${host.address} is given twice: each host once`);
    seen.add(key);
  }
  return hosts;
}

async function runNodes(io: Io, args: NodeArgs, mode: "check" | "dry-run" | "apply"): Promise<void> {
  if (!Number.isInteger(args.parallel) || args.parallel < 1) throw new KpkiError("usage", "--parallel must be a whole number of hosts, at least 1");
  const settings = sshSettings(args);
  const kubernetes = resolveKubernetesVersion(args.kubernetesVersion);
  const packages = await packageOptions(io, args);
  const preflight = await preflightSettings(args, kubernetes);
  const hosts = await loadHosts(io, args, `kpki node ${mode === "check" ? "check" : "prep"}`);
  const defaulted = kubernetes.defaulted && hosts.some((host) => !host.kubernetes);
  const { runFleet } = await import("../../bootstrap/node/fleet.js");
  const progress = new FleetProgress(io, hosts.length, args.parallel, io.isTTY && args.output !== "json");
  const reports = await runFleet(
    hosts,
    {
      mode: mode === "apply" ? "apply" : "check", kubernetes, packages, runtime: args.runtime, osFamily: args.osFamily, firewall: args.firewall, ipv6: args.ipv6,
      criSocket: args.criSocket, preflight, parallel: args.parallel, ssh: settings,
    },
    (report) => {
      const failedSteps = report.steps.filter((step) => step.state === "failed").map((step) => step.step);
      progress.hostDone(report.error ? `${report.host}: FAILED: ${report.error.message}` : failedSteps.length > 0 ? `${report.host}: failed: ${failedSteps.join(", ")}` : undefined);
    },
  );
  progress.finish();
  if (args.output === "json") printJson(io, { mode, kubernetes: { version: kubernetes.patch ?? kubernetes.minor, defaulted }, ignorePreflightErrors: preflight.ignore.names, hosts: reports });
  else {
    if (defaulted) io.stdout(`no --kubernetes-version given: Kubernetes ${kubernetes.minor}, the newest minor kpki knows\n\n`);
    io.stdout(reports.map((report) => formatReport(report, mode)).join("\n"));
  }
  // check answers "would kubeadm init/join pass?"; prep, "did every step go through?"; a dry run
  // that could make its plan succeeds: pending changes are its answer, not a failure.
  const bad = reports.filter((report) => (mode === "check" ? !report.ready : mode === "dry-run" ? !plannable(report) : !report.ok));
  if (bad.length > 0) {
    const what = mode === "apply" ? "could not be prepared" : mode === "dry-run" ? "cannot be prepared (unreachable, or a step would fail)" : "not ready";
    throw new KpkiError("verify", `${bad.length} of ${reports.length} host(s) ${what}: ${bad.map((report) => report.host).join(", ")}`);
  }
}

function formatReport(report: HostReport, mode: "check" | "dry-run" | "apply"): string {
  const title = `${report.host}${report.host !== report.address ? ` (${report.address})` : ""}, ${report.role}, Kubernetes ${report.kubernetes}`;
  if (report.error && report.steps.length === 0) return `${title}: FAILED: ${report.error.message}\n`;
  const verdict = mode === "check"
    ? report.ready ? "ready" : "NOT ready"
    : report.ok
      ? mode === "apply" ? (report.changed > 0 ? `prepared (${report.changed} changed)` : "prepared (nothing to change)") : "nothing would change"
      : mode === "apply" ? "NOT prepared" : plannable(report) ? "would change" : "CANNOT be prepared";
  const preflight = mode === "check" ? "" : report.ready ? "; kubeadm's preflight would pass" : "; kubeadm's preflight would NOT pass";
  // The same words in check and dry-run.
  const label = (state: string) => (state === "would-change" ? (mode === "apply" ? "would change" : "prep would change") : state);
  const rows = report.steps.map((step) => [`  ${label(step.state)}`, step.step, step.detail]);
  // kubeadm's own lines for what did not pass: [ERROR Name]: message / [WARNING Name]: message.
  const passed = report.checks.filter((check) => check.status === "pass").length;
  const findings = report.checks
    .filter((check) => check.status !== "pass")
    .map((check) => `  [${check.status === "ignored" ? "WARNING" : check.severity === "error" ? "ERROR" : "WARNING"} ${check.name}]: ${check.detail}${check.status === "ignored" ? " (error ignored: --ignore-preflight-errors)" : ""}${check.source === "kpki" ? " (kpki)" : ""}`);
  const checks = report.checks.length > 0 ? `  preflight: ${passed} of ${report.checks.length} checks passed\n${findings.map((line) => `${line}\n`).join("")}` : "";
  return `${title}: ${verdict}${preflight}\n${table(rows)}\n${checks}${report.error ? `  error: ${report.error.message}\n` : ""}`;
}

/** The preflight's settings from the flags, checked before any host is touched. */
async function preflightSettings(args: NodeArgs, kubernetes: KubernetesTarget): Promise<PreflightSettings> {
  const [{ knownCheckNames, parseIgnorePreflightErrors, firstAddress }, { FLEET_CHECK_NAMES }, { checkPort, parseEndpoint }] = await Promise.all([
    import("../../bootstrap/node/preflight.js"),
    import("../../bootstrap/node/fleetchecks.js"),
    import("../../pki/spec.js"),
  ]);
  const apiserverPort = checkPort(args.apiserverPort, "--apiserver-port");
  for (const [flag, value] of [["--service-cidr", args.serviceCidr], ["--pod-network-cidr", args.podNetworkCidr]] as const) {
    for (const cidr of value?.split(",") ?? []) {
      if (!firstAddress(cidr.trim())) throw new KpkiError("usage", `${flag} "${cidr}" is not a CIDR (e.g. 10.96.0.0/12, or v4,v6 for dual stack)`);
    }
  }
  if (args.criSocket !== undefined && !/^unix:\/\/\/[A-Za-z0-9._/-]+$/.test(args.criSocket)) throw new KpkiError("usage", `--cri-socket "${args.criSocket}" must be unix:///path/to/the.sock`);
  const endpointHost = args.controlPlaneEndpoint ? parseEndpoint(args.controlPlaneEndpoint, apiserverPort).host.value : undefined;
  const settings = { apiserverPort, serviceCidr: args.serviceCidr, podCidr: args.podNetworkCidr, endpointHost };
  const known = knownCheckNames({ ...settings, kubernetes }, FLEET_CHECK_NAMES);
  return { ...settings, ignore: parseIgnorePreflightErrors(args.ignorePreflightErrors?.map(String), known) };
}

async function pushPkiCommand(io: Io, args: PushArgs): Promise<void> {
  const [{ readClusterFiles, planPush, pushFiles, checkRemotePath }, { SshSession }, { parseKubeconfig }] = await Promise.all([
    import("../../bootstrap/node/pushpki.js"),
    import("../../bootstrap/node/ssh.js"),
    import("../../pki/kubeconfig.js"),
  ]);
  if (!Number.isInteger(args.parallel) || args.parallel < 1) throw new KpkiError("usage", "--parallel must be a whole number of hosts, at least 1");
  const target = checkRemotePath(args.target, "--target");
  const settings = sshSettings(args);
  const hosts = await loadHosts(io, args, "kpki node push-pki");
  // Everything is read and planned before the first connection: bad input writes nothing anywhere.
  const layout = await clusterLayoutOf(args);
  const local = await readClusterFiles(layout.certDir, layout.kubeconfigDir);
  let discovery: { path: string; server: string } | undefined;
  if (args.discoveryFile !== undefined) {
    const where = checkRemotePath(args.discoveryFile || `${path.posix.dirname(target)}/discovery.conf`, "--discovery-file");
    let server = args.server;
    const admin = local.kubeconfigs.get("admin.conf");
    if (!server && admin) server = parseKubeconfig(admin.toString(), "admin.conf").server;
    if (!server) throw new KpkiError("usage", "--discovery-file needs the API server the joining hosts reach: give --server https://HOST:6443 (or keep admin.conf in the kubeconfig folder)");
    if (!/^https:\/\/[^/\s]+(\/)?$/.test(server)) throw new KpkiError("usage", `--server "${server}" must be https://HOST[:PORT], the API server's URL`);
    discovery = { path: where, server: server.replace(/\/$/, "") };
  } else if (args.server) throw new KpkiError("usage", "--server names the API server of --discovery-file: give --discovery-file too");
  // In a mixed inventory --kubeconfigs is for the control planes; workers get none (KUBECONFIGS_BY_ROLE).
  if (args.kubeconfigs && hosts.every((host) => host.role === "worker")) {
    throw new KpkiError("usage", "--kubeconfigs with only workers: a worker gets no kubeconfig with credentials; use --discovery-file for kubeadm join --discovery-file");
  }
  const only = args.only?.map(String);
  const plans = hosts.map((host) => ({ host, files: planPush(local, { role: host.role, target, kubeconfigs: args.kubeconfigs, only, discovery }) }));

  const session = new SshSession(settings);
  const results: { host: string; address: string; role: Role; files: PushResult[]; error?: string; kind?: string }[] = [];
  try {
    let next = 0;
    const worker = async () => {
      while (next < plans.length) {
        const { host, files } = plans[next++]!;
        const entry = { host: host.name, address: host.address, role: host.role, files: [] as PushResult[], error: undefined as string | undefined, kind: undefined as string | undefined };
        results.push(entry);
        if (files.length === 0) continue;
        try {
          entry.files = await pushFiles(session, host, files, { force: args.force, dryRun: args.dryRun });
        } catch (error) {
          if (!(error instanceof KpkiError)) throw error;
          entry.error = error.message;
          entry.kind = error.kind;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(args.parallel, plans.length) }, worker));
  } finally {
    await session.close();
  }
  results.sort((a, b) => hosts.findIndex((host) => host.name === a.host) - hosts.findIndex((host) => host.name === b.host));
  if (args.output === "json") printJson(io, results.map(({ error, kind: _kind, ...rest }) => (error ? { ...rest, error } : rest)));
  else {
    for (const result of results) {
      const title = `${result.host}${result.host !== result.address ? ` (${result.address})` : ""}, ${result.role}${args.dryRun ? " (dry run: nothing written)" : ""}`;
      if (result.error) io.stdout(`${title}: FAILED: ${result.error}\n`);
      else if (result.files.length === 0) io.stdout(`${title}: nothing to push (a worker gets nothing under ${target}; --discovery-file gives it a discovery kubeconfig)\n`);
      else io.stdout(`${title}:\n${table(result.files.map((file) => [`  ${file.action.replace("-", " ")}`, file.mode, file.file]))}\n`);
    }
  }
  const failed = results.filter((result) => result.error);
  // A key that would need --force is 3; a host that cannot be reached is 4, as node check says it.
  const kind = failed.some((result) => result.kind === "conflict") ? "conflict" : "verify";
  if (failed.length > 0) throw new KpkiError(kind, `${failed.length} of ${results.length} host(s) not updated: ${failed.map((result) => result.host).join(", ")}`);
}

/** Reached, and no step would fail: what prep would do is known. */
const plannable = (report: HostReport) => !report.error && report.steps.every((step) => step.state !== "failed");
