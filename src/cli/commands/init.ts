import type { Argv } from "yargs";
import type { InitReport } from "../../pki/init.js";
import { KEY_TYPES, type KeyType } from "../../pki/keys.js";
import { DEFAULTS, resolveClusterSpec } from "../../pki/spec.js";
import { printJson, table, type Io, type OutputFormat } from "../io.js";

export function initCommand(cli: Argv, io: Io): Argv {
  return cli.command(
    "init",
    "create (or check) the cluster PKI: the CA and the API server certificate",
    (command) =>
      command
        .option("master-ip", { type: "string", describe: "the API server's advertise address (IPv4 or IPv6)", demandOption: "give --master-ip, e.g. --master-ip 192.0.2.10" })
        .option("dir", { type: "string", default: "./pki", describe: "the PKI folder" })
        .option("node-name", { type: "string", describe: "the control-plane node's name, added to the API server's SANs" })
        .option("service-cidr", { type: "string", default: DEFAULTS.serviceCidr, describe: "service subnet; its first IP goes in the SANs" })
        .option("dns-domain", { type: "string", default: DEFAULTS.dnsDomain, describe: "cluster DNS domain" })
        .option("san", { type: "string", array: true, default: [] as string[], describe: "extra SAN (IP or DNS name), repeatable" })
        .option("ca-cn", { type: "string", default: DEFAULTS.caCommonName, describe: "the CA's common name" })
        .option("ca-days", { type: "number", default: DEFAULTS.caDays, describe: "CA validity in days" })
        .option("days", { type: "number", default: DEFAULTS.days, describe: "leaf certificate validity in days" })
        .option("key-type", { choices: KEY_TYPES, default: "rsa-2048" as KeyType, describe: "key algorithm" })
        .option("force", { type: "boolean", default: false, describe: "re-issue leaf certificates that no longer fit (new keys); never replaces the CA key" })
        .option("emit-openssl-conf", { type: "boolean", default: false, describe: "also write <name>.csr.conf, the openssl equivalent of each signed certificate" })
        .option("dry-run", { type: "boolean", default: false, describe: "show what would be created or kept; write nothing" })
        .example("$0 init --master-ip 192.0.2.10", "CA and API server certificate in ./pki")
        .example("$0 init --master-ip 192.0.2.10 --node-name cp1 --san api.example.com", "with the node name and an extra DNS SAN"),
    async (args) => {
      const spec = resolveClusterSpec({
        masterIp: args.masterIp!,
        nodeName: args.nodeName,
        serviceCidr: args.serviceCidr,
        dnsDomain: args.dnsDomain,
        sans: args.san.map(String),
        caCommonName: args.caCn,
        caDays: args.caDays,
        days: args.days,
        keyType: args.keyType,
      });
      const { initPki } = await import("../../pki/init.js");
      const report = await initPki({
        spec,
        dir: args.dir,
        force: args.force,
        emitOpensslConf: args.emitOpensslConf,
        dryRun: args.dryRun,
      });
      printInitReport(io, report, args.output as OutputFormat);
    },
  );
}

function printInitReport(io: Io, report: InitReport, format: OutputFormat): void {
  if (format === "json") return printJson(io, report);
  const lines: string[] = [];
  const verb = report.dryRun ? "would be" : "";
  lines.push(`PKI folder ${report.dir}${report.dryRun ? " (dry run: nothing written)" : ""}`);
  const rows: string[][] = [];
  for (const entry of report.entries) {
    const action = report.dryRun && entry.action !== "kept" ? `${verb} ${entry.action}` : entry.action;
    rows.push([`  ${action}`, entry.name, entry.subject, entry.notAfter ? `expires ${entry.notAfter.slice(0, 10)}` : ""]);
  }
  lines.push(table(rows));
  for (const entry of report.entries) {
    const details: string[] = [];
    if (entry.altNames.length > 0) details.push(`    SANs: ${entry.altNames.join(", ")}`);
    details.push(`    files: ${entry.files.map((file) => `${file.file} (${file.action})`).join(", ")}`);
    if (entry.sha256Fingerprint) details.push(`    SHA-256 fingerprint: ${entry.sha256Fingerprint}`);
    for (const reason of entry.reasons) details.push(`    why: ${reason}`);
    for (const warning of entry.warnings) details.push(`    warning: ${warning}`);
    lines.push(`  ${entry.name}:`, ...details);
  }
  if (report.caCertHash) lines.push(`CA pin for kubeadm join --discovery-token-ca-cert-hash: ${report.caCertHash}`);
  if (!report.changed && !report.dryRun) lines.push("Nothing changed: every certificate is present and valid.");
  io.stdout(`${lines.join("\n")}\n`);
}
