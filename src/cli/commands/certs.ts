import path from "node:path";
import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import type { ExpiryReport, ExpiryRow } from "../../pki/expiry.js";
import { KEY_TYPES } from "../../pki/keys.js";
import { checkDays, DEFAULTS } from "../../pki/spec.js";
import { printJson, table, type Io } from "../io.js";
import { fleetExpiryOptions, runFleetExpiry, wantsFleet, type FleetArgs } from "./certsfleet.js";

const folderOptions = (command: Argv) =>
  command
    .option("dir", { type: "string", default: "./pki", describe: "the PKI folder (kubeadm: /etc/kubernetes/pki)" })
    .option("kubeconfig-dir", { type: "string", describe: "where the kubeconfigs are [default: the PKI folder's parent]" });

export function certsCommand(cli: Argv, io: Io): Argv {
  return cli.command("certs", "the cluster's certificates: expiry and renewal (kubeadm certs …)", (certs) =>
    certs
      .command(
        "check-expiration [hosts..]",
        "list every certificate and CA with its expiry, as kubeadm certs check-expiration does; with HOST… or --inventory, of every node over SSH",
        (command) =>
          fleetExpiryOptions(folderOptions(command)).option("fail-within", {
            type: "string",
            describe: "exit 4 if anything expires within this time (e.g. 30d, 12h, 2w), is missing or unreadable: for cron and monitoring",
          }),
        async (args) => {
          const { parseDuration, expiryReport, formatExpiry } = await import("../../pki/expiry.js");
          const failWithin = args.failWithin === undefined ? undefined : parseDuration(args.failWithin);
          if (failWithin === undefined && args.failWithin !== undefined) {
            throw new KpkiError("usage", `--fail-within "${args.failWithin}" is not a duration: use a number and s, m, h, d, w or y, e.g. 30d`);
          }
          if (wantsFleet(args)) return runFleetExpiry(io, args as unknown as FleetArgs, failWithin);
          const { PkiStore } = await import("../../pki/store.js");
          const { readInventory } = await import("../../pki/inventory.js");
          const store = new PkiStore(args.dir);
          if ((await store.checkFolder()) === "missing") throw new KpkiError("input", `${store.dir} does not exist: give the PKI folder with --dir`);
          const inventory = await readInventory(store, new PkiStore(args.kubeconfigDir ?? path.dirname(store.dir)));
          const report = expiryReport(inventory, new Date(), failWithin ?? 0);
          if (args.output === "json") printJson(io, report);
          else io.stdout(formatExpiryTables(report, formatExpiry));
          const rows = [...report.certificates, ...report.certificateAuthorities];
          const unreadable = rows.filter((row) => row.error);
          if (unreadable.length > 0) {
            throw new KpkiError("input", `${unreadable.map((row) => row.error).join("; ")}: restore ${unreadable.length === 1 ? "it" : "them"} from a backup, or re-issue with kpki init --force --only ${unreadable.map((row) => row.name).join(" ")}`);
          }
          const attention = rows.filter((row) => row.needsAttention);
          if (failWithin !== undefined && attention.length > 0) {
            throw new KpkiError("verify", `${attention.length} need attention within ${args.failWithin}: ${attention.map((row) => row.name).join(", ")}`);
          }
        },
      )
      .command(
        "renew <names..>",
        "renew certificates and kubeconfigs (new keys; subject, SANs and usages kept); 'all' for every one",
        (command) =>
          folderOptions(command)
            .positional("names", { type: "string", array: true, describe: "catalog names (apiserver, admin.conf, …) or all" })
            .option("days", { type: "number", default: DEFAULTS.days, describe: "validity of the renewed certificates in days" })
            .option("key-type", { choices: KEY_TYPES, describe: "key algorithm for the new keys [default: that of each key being replaced]" }),
        async (args) => {
          const days = checkDays(args.days, "--days");
          const { renewCerts } = await import("../../pki/renew.js");
          const dir = path.resolve(args.dir);
          const report = await renewCerts({
            dir,
            kubeconfigDir: args.kubeconfigDir ?? path.dirname(dir),
            names: (args.names ?? []).map(String),
            days,
            keyType: args.keyType,
          });
          if (args.output === "json") return printJson(io, report);
          const lines = [
            table(report.renewed.map((item) => [`  renewed`, item.name, `expires ${item.notAfter.slice(0, 10)}`, item.file])),
          ];
          if (report.restart.length > 0) {
            lines.push(
              `Restart ${report.restart.join(", ")} so ${report.restart.length === 1 ? "it loads" : "they load"} the new certificates ` +
                "(for static Pods: move their manifests out of /etc/kubernetes/manifests for 20 s, then back).",
            );
          }
          io.stdout(`${lines.join("\n")}\n`);
        },
      )
      .demandCommand(1, "give a certs command: check-expiration, renew"),
  );
}

function formatExpiryTables(report: ExpiryReport, formatDate: (date: Date) => string): string {
  const managed = (row: ExpiryRow) => (row.externallyManaged ? "yes" : "no");
  const cells = (row: ExpiryRow) =>
    row.expires
      ? [formatDate(new Date(row.expires)), row.residual ?? ""]
      : [row.missing ? "!MISSING!" : "!UNREADABLE!", ""];
  return (
    table([
      ["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"],
      ...report.certificates.map((row) => [row.name, ...cells(row), row.certificateAuthority ?? "", managed(row)]),
    ]) +
    "\n\n" +
    table([
      ["CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"],
      ...report.certificateAuthorities.map((row) => [row.name, ...cells(row), managed(row)]),
    ]) +
    "\n"
  );
}
