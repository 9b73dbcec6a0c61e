import path from "node:path";
import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { CATALOG } from "../../pki/catalog.js";
import type { InitConfig } from "../../pki/config.js";
import type { InitReport } from "../../pki/init.js";
import { KEY_TYPES } from "../../pki/keys.js";
import { DEFAULTS, resolveClusterSpec } from "../../pki/spec.js";
import { clusterDirOptions } from "../clusterdir.js";
import { inputLabel, readInput } from "../files.js";
import { printJson, table, type Io, type OutputFormat } from "../io.js";
import { keygenOption } from "../keygenoption.js";
import { keyProgress } from "../keyprogress.js";

export function initCommand(cli: Argv, io: Io): Argv {
  return cli.command(
    "init",
    "create (or check) the cluster PKI: kubeadm's CAs, certificates, sa key pair and kubeconfigs",
    (command) =>
      command
        // No yargs defaults here: a value in --config must win over a default, and a flag over --config.
        .option("master-ip", { type: "string", describe: "the API server's advertise address (IPv4 or IPv6)" })
        .option("config", { type: "string", describe: "YAML file with these settings in camelCase (masterIp, nodeName, san, …: the flags' names); flags override it" })
        .options(clusterDirOptions)
        .option("node-name", { type: "string", describe: "the control-plane node's name: etcd's CN, kubelet.conf's user, an API server SAN [default: this host's name]" })
        .option("control-plane-endpoint", { type: "string", describe: "host[:port] of a load balancer in front of the API servers: a SAN and the server of admin.conf and kubelet.conf" })
        .option("apiserver-port", { type: "number", describe: `the API server's port [default: ${DEFAULTS.apiServerPort}]` })
        .option("service-cidr", { type: "string", describe: `service subnet; its first IP is an API server SAN [default: ${DEFAULTS.serviceCidr}]` })
        .option("dns-domain", { type: "string", describe: `cluster DNS domain [default: ${DEFAULTS.dnsDomain}]` })
        .option("san", { type: "string", array: true, describe: "extra API server SAN (IP or DNS name), repeatable" })
        .option("etcd-san", { type: "string", array: true, describe: "extra etcd server and peer SAN, repeatable" })
        .option("external-etcd", { type: "boolean", describe: "etcd runs elsewhere: make no etcd certificates" })
        .option("only", { type: "string", array: true, describe: `make only these (and the CAs they need): ${CATALOG.map((entry) => entry.name).join(", ")}` })
        .option("cluster-name", { type: "string", describe: `the cluster's name in kubeconfigs [default: ${DEFAULTS.clusterName}]` })
        .option("ca-cn", { type: "string", describe: `the Kubernetes CA's common name [default: ${DEFAULTS.caCommonName}]` })
        .option("ca-days", { type: "number", describe: `CA validity in days [default: ${DEFAULTS.caDays}]` })
        .option("days", { type: "number", describe: `certificate validity in days [default: ${DEFAULTS.days}]` })
        .option("key-type", { choices: KEY_TYPES, describe: "key algorithm [default: rsa-2048]" })
        .option("keygen", keygenOption)
        .option("force", { type: "boolean", default: false, describe: "re-issue certificates and kubeconfigs that no longer fit (new keys); never replaces a CA key or sa.key" })
        .option("emit-openssl-conf", { type: "boolean", default: false, describe: "also write <name>.csr.conf, the openssl equivalent of each signed certificate" })
        .option("dry-run", { type: "boolean", default: false, describe: "show what would be created or kept; write nothing" })
        .example("$0 init --master-ip 192.0.2.10 --node-name cp-1", "the whole PKI in ./kubernetes/pki, kubeconfigs in ./kubernetes")
        .example("$0 init --master-ip 192.0.2.10 --dir /etc/kubernetes", "straight into kubeadm's folder")
        .example("$0 init --master-ip 192.0.2.10 --dry-run", "the whole plan, nothing written")
        .example("$0 init --config kpki.yaml", "repeatable runs from a file"),
    async (args) => {
      const loaded = args.config ? await loadConfig(args.config, io) : undefined;
      const config: InitConfig = loaded?.config ?? {};
      const pick = <T>(flag: T | undefined, fromConfig: T | undefined) => (flag !== undefined ? flag : fromConfig);
      const masterIp = pick(args.masterIp, config.masterIp);
      if (!masterIp) throw new KpkiError("usage", "give --master-ip (or masterIp in --config), e.g. --master-ip 192.0.2.10 (see kpki init --help)");
      const spec = resolveClusterSpec({
        masterIp,
        apiServerPort: pick(args.apiserverPort, config.apiserverPort),
        nodeName: pick(args.nodeName, config.nodeName),
        controlPlaneEndpoint: pick(args.controlPlaneEndpoint, config.controlPlaneEndpoint),
        serviceCidr: pick(args.serviceCidr, config.serviceCidr),
        dnsDomain: pick(args.dnsDomain, config.dnsDomain),
        sans: pick(args.san?.map(String), config.san),
        etcdSans: pick(args.etcdSan?.map(String), config.etcdSan),
        externalEtcd: pick(args.externalEtcd, config.externalEtcd),
        clusterName: pick(args.clusterName, config.clusterName),
        caCommonName: pick(args.caCn, config.caCn),
        caDays: pick(args.caDays, config.caDays),
        days: pick(args.days, config.days),
        keyType: pick(args.keyType, config.keyType),
      });
      const { initPki } = await import("../../pki/init.js");
      // Progress only on a terminal, and only for a slow run (RSA-4096 takes seconds).
      const progress = io.isTTY && args.output !== "json" ? keyProgress(io) : undefined;
      let report: InitReport;
      try {
        report = await initPki({
          spec,
          dir: pick(args.dir, config.dir),
          certDir: pick(args.certDir, config.certDir),
          kubeconfigDir: pick(args.kubeconfigDir, config.kubeconfigDir),
          only: pick(args.only?.map(String), config.only),
          force: args.force,
          emitOpensslConf: args.emitOpensslConf,
          dryRun: args.dryRun,
          keygen: pick(args.keygen, config.keygen),
          onKeyReady: progress?.keyReady,
        });
      } finally {
        progress?.done();
      }
      printInitReport(io, report, args.output as OutputFormat, loaded && { file: inputLabel(args.config!), format: loaded.format, ignored: loaded.ignored });
    },
  );
}

interface LoadedConfig {
  config: InitConfig;
  format: "kpki" | "kubeadm";
  /** kubeadm fields and kinds kpki does not use. */
  ignored: string[];
}

/** kpki's own settings, or kubeadm's InitConfiguration + ClusterConfiguration. */
async function loadConfig(file: string, io: Io): Promise<LoadedConfig> {
  const [{ parseInitConfig }, { isKubeadmConfig, parseKubeadmConfig }] = await Promise.all([import("../../pki/config.js"), import("../../pki/kubeadmconfig.js")]);
  const text = (await readInput(file, io)).toString();
  const label = inputLabel(file);
  const kubeadm = isKubeadmConfig(text, label);
  const { config, ignored } = kubeadm ? parseKubeadmConfig(text, label) : { config: parseInitConfig(text, label), ignored: [] };
  // Paths in the file are relative to the file, so it works from any directory.
  const base = label === "standard input" ? process.cwd() : path.dirname(path.resolve(file));
  for (const key of ["dir", "certDir", "kubeconfigDir"] as const) if (config[key] !== undefined) config[key] = path.resolve(base, config[key]);
  return { config, format: kubeadm ? "kubeadm" : "kpki", ignored };
}

function printInitReport(io: Io, report: InitReport, format: OutputFormat, config?: { file: string; format: string; ignored: string[] }): void {
  if (format === "json") return printJson(io, config ? { ...report, config } : report);
  const lines: string[] = [];
  if (config?.ignored.length) lines.push(`${config.file}: kpki does not use ${config.ignored.join(", ")} (kubeadm does; left as they are)`);
  lines.push(`Cluster folder ${report.clusterDir}: PKI in ${report.dir}, kubeconfigs in ${report.kubeconfigDir}, node name ${report.nodeName}${report.dryRun ? " (dry run: nothing written)" : ""}`);
  lines.push(
    table(
      report.entries.map((entry) => [
        `  ${actionLabel(entry.action, report.dryRun)}`,
        entry.name,
        entry.subject ?? entry.files.map((file) => file.file).join(", "),
        entry.notAfter ? `expires ${entry.notAfter.slice(0, 10)}` : "",
        entry.server ?? "",
      ]),
    ),
  );
  for (const entry of report.entries) {
    // A blocked entry's reason is among the problems printed below.
    if (entry.action !== "needs-force" && entry.action !== "refused") for (const reason of entry.reasons) lines.push(`  ${entry.name}: why: ${reason}`);
    for (const warning of entry.warnings) lines.push(`  ${entry.name}: warning: ${warning}`);
  }
  const apiserver = report.entries.find((entry) => entry.name === "apiserver");
  if (apiserver) lines.push(`API server SANs: ${apiserver.altNames.join(", ")}`);
  for (const entry of report.entries.filter((candidate) => candidate.name.endsWith("ca") && candidate.sha256Fingerprint)) {
    lines.push(`${entry.name} SHA-256 fingerprint: ${entry.sha256Fingerprint}`);
  }
  if (report.caCertHash) lines.push(`CA pin for kubeadm join --discovery-token-ca-cert-hash: ${report.caCertHash}`);
  if (report.problems.length > 0) {
    lines.push(`A run without --dry-run would stop here, writing nothing:`, ...report.problems.map((problem) => `  ${problem}`));
  }
  if (!report.changed && !report.dryRun) lines.push("Nothing changed: everything is present and valid.");
  io.stdout(`${lines.join("\n")}\n`);
}

/** The word for an entry's action; a dry run says what would happen. */
function actionLabel(action: InitReport["entries"][number]["action"], dryRun: boolean): string {
  if (action === "needs-force") return "needs --force";
  if (action === "refused") return "refused (another cluster's)";
  return dryRun && action !== "kept" ? `would be ${action}` : action;
}
