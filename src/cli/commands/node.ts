import path from "node:path";
import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import type { FleetHost, HostReport } from "../../bootstrap/node/fleet.js";
import { ROLES, type OsFamily, type Role, type Runtime } from "../../bootstrap/node/steps.js";
import { resolveKubernetesVersion } from "../../bootstrap/node/versions.js";
import { readInput } from "../files.js";
import { printJson, table, type Io } from "../io.js";
import { nodeScriptOptions } from "../nodeoptions.js";
import { FleetProgress } from "../progress.js";
import { parseHostSpec, sshOptions, sshSettings, type SshArgs } from "../sshoptions.js";
import { cloudInitOptions, printCloudInit } from "./nodeprovision.js";

export interface NodeArgs extends SshArgs {
  hosts?: (string | number)[];
  inventory?: string;
  limit?: string;
  role: Role;
  runtime: Runtime;
  ipv6: boolean;
  firewall: boolean;
  osFamily?: OsFamily;
  kubernetesVersion?: string;
  parallel: number;
  output: string;
}

const fleetOptions = (command: Argv) =>
  command
    .positional("hosts", { type: "string", array: true, describe: "[user@]host[:port] …" })
    .option("inventory", { type: "string", describe: "kpki's YAML inventory (hosts, defaults), or an Ansible/kubespray inventory (INI or YAML)" })
    .option("limit", { type: "string", describe: "only these inventory hosts or groups, as Ansible's --limit (node1,kube_node:!node3)" })
    .option("role", { choices: ROLES, default: "worker" as Role, describe: "role of hosts the inventory does not give one" })
    .options(nodeScriptOptions)
    .option("parallel", { type: "number", default: 50, describe: "hosts worked on at once (one ssh each)" })
    .options(sshOptions);

export function nodeCommand(cli: Argv, io: Io): Argv {
  return cli.command("node", "prepare hosts for kubeadm over SSH: swap, forwarding, modules, SELinux, firewall, runtime, kubelet", (node) =>
    node
      .command("check [hosts..]", "read-only preflight of every step on every host; exit 4 if any host is not ready", fleetOptions, async (args) => {
        await runNodes(io, args as unknown as NodeArgs, "check");
      })
      .command(
        "prep [hosts..]",
        "make every host ready (for good: survives a reboot); --dry-run shows what would change",
        (command) => fleetOptions(command).option("dry-run", { type: "boolean", default: false, describe: "show what each host would change; change nothing" }),
        async (args) => {
          await runNodes(io, args as unknown as NodeArgs, args.dryRun ? "dry-run" : "apply");
        },
      )
      .command(
        "push-pki <hosts..>",
        "copy the PKI to /etc/kubernetes/pki with kubeadm's modes (a worker gets ca.crt only); never overwrites a different key without --force",
        (command) =>
          command
            .positional("hosts", { type: "string", array: true, describe: "[user@]host[:port] …" })
            .option("dir", { type: "string", default: "./pki", describe: "the local PKI folder" })
            .option("role", { choices: ROLES, default: "control-plane" as Role, describe: "worker: ca.crt only; control-plane: the whole folder" })
            .option("only", { type: "string", array: true, describe: "push just these files (paths under --dir, e.g. etcd/ca.crt), repeatable" })
            .option("target", { type: "string", default: "/etc/kubernetes/pki", describe: "folder on the host" })
            .option("force", { type: "boolean", default: false, describe: "replace keys that differ" })
            .options(sshOptions),
        async (args) => {
          const [{ collectPkiFiles, pushPki }, { SshSession }] = await Promise.all([import("../../bootstrap/node/pushpki.js"), import("../../bootstrap/node/ssh.js")]);
          const settings = sshSettings(args as unknown as SshArgs);
          const hosts = (args.hosts ?? []).map((spec) => parseHostSpec(String(spec), args as unknown as SshArgs));
          if (!args.target.startsWith("/")) throw new KpkiError("usage", `--target "${args.target}" must be an absolute path`);
          const files = await collectPkiFiles(args.dir, args.only?.map(String) ?? (args.role === "worker" ? ["ca.crt"] : undefined));
          const session = new SshSession(settings);
          const results: { host: string; files?: unknown; error?: string }[] = [];
          try {
            for (const host of hosts) {
              try {
                results.push({ host: host.address, files: await pushPki(session, host, files, { target: args.target, force: args.force }) });
              } catch (error) {
                if (!(error instanceof KpkiError)) throw error;
                results.push({ host: host.address, error: error.message });
              }
            }
          } finally {
            await session.close();
          }
          if (args.output === "json") printJson(io, results);
          else {
            for (const result of results) {
              if (result.error) io.stdout(`${result.host}: FAILED: ${result.error}\n`);
              else io.stdout(`${result.host}: ${table((result.files as { file: string; action: string }[]).map((file) => [`  ${file.action}`, `${args.target}/${file.file}`]))}\n`);
            }
          }
          const failed = results.filter((result) => result.error);
          if (failed.length > 0) throw new KpkiError("conflict", `${failed.length} of ${results.length} host(s) not updated: ${failed.map((result) => result.host).join(", ")}`);
        },
      )
      .command("cloud-init", "print #cloud-config user-data that runs node prep's steps, then its check, on first boot (--format script: the plain script)", cloudInitOptions, async (args) => {
        await printCloudInit(io, args as unknown as Parameters<typeof printCloudInit>[1]);
      })
      .demandCommand(1, "give a node command: check, prep, push-pki, cloud-init"),
  );
}

export async function loadHosts(io: Io, args: NodeArgs): Promise<FleetHost[]> {
  const hosts: FleetHost[] = [];
  if (args.inventory) {
    const { readInventory } = await import("../../bootstrap/node/inventory.js");
    const inventory = await readInventory((await readInput(args.inventory, io)).toString(), args.inventory, { limit: args.limit, folder: args.inventory === "-" ? undefined : path.dirname(args.inventory) });
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
  if (hosts.length === 0) throw new KpkiError("usage", "give the hosts: kpki node check HOST… or --inventory hosts.yaml");
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
  const hosts = await loadHosts(io, args);
  const defaulted = kubernetes.defaulted && hosts.some((host) => !host.kubernetes);
  const { runFleet } = await import("../../bootstrap/node/fleet.js");
  const progress = new FleetProgress(io, hosts.length, args.parallel, io.isTTY && args.output !== "json");
  const reports = await runFleet(
    hosts,
    { mode: mode === "apply" ? "apply" : "check", kubernetes, runtime: args.runtime, osFamily: args.osFamily, firewall: args.firewall, ipv6: args.ipv6, parallel: args.parallel, ssh: settings },
    (report) => {
      const failedSteps = report.steps.filter((step) => step.state === "failed").map((step) => step.step);
      progress.hostDone(report.error ? `${report.host}: FAILED: ${report.error.message}` : failedSteps.length > 0 ? `${report.host}: failed: ${failedSteps.join(", ")}` : undefined);
    },
  );
  progress.finish();
  if (args.output === "json") printJson(io, { mode, kubernetes: { version: kubernetes.patch ?? kubernetes.minor, defaulted }, hosts: reports });
  else {
    if (defaulted) io.stdout(`no --kubernetes-version given: Kubernetes ${kubernetes.minor}, the newest minor kpki knows\n\n`);
    io.stdout(reports.map((report) => formatReport(report, mode)).join("\n"));
  }
  const bad = reports.filter((report) => !report.ok);
  if (bad.length > 0) {
    const what = mode === "apply" ? "could not be prepared" : mode === "dry-run" ? "would change or cannot be prepared" : "not ready";
    throw new KpkiError("verify", `${bad.length} of ${reports.length} host(s) ${what}: ${bad.map((report) => report.host).join(", ")}`);
  }
}

function formatReport(report: HostReport, mode: "check" | "dry-run" | "apply"): string {
  const title = `${report.host}${report.host !== report.address ? ` (${report.address})` : ""}, ${report.role}, Kubernetes ${report.kubernetes}`;
  if (report.error && report.steps.length === 0) return `${title}: FAILED: ${report.error.message}\n`;
  const verdict = report.ok
    ? mode === "apply" ? (report.changed > 0 ? `prepared (${report.changed} changed)` : "prepared (nothing to change)") : mode === "dry-run" ? "nothing would change" : "ready"
    : mode === "apply" ? "NOT prepared" : mode === "dry-run" ? "would change" : "NOT ready";
  const label = (state: string) => (mode === "dry-run" && state === "would-change" ? "would change" : state);
  const rows = report.steps.map((step) => [`  ${label(step.state)}`, step.step, step.detail]);
  return `${title}: ${verdict}\n${table(rows)}\n${report.error ? `  error: ${report.error.message}\n` : ""}`;
}
