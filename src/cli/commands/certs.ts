import type { Argv } from "yargs";
import { durationOrProblem } from "../../duration.js";
import { KpkiError } from "../../errors.js";
import type { ExpiryReport, ExpiryRow } from "../../pki/expiry.js";
import { KEY_TYPES } from "../../pki/keys.js";
import { checkDays, DEFAULTS } from "../../pki/spec.js";
import { clusterDirOptions, clusterLayoutOf } from "../clusterdir.js";
import { printJson, table, type Io } from "../io.js";
import { keygenOption } from "../keygenoption.js";
import { fleetExpiryOptions, runFleetExpiry, wantsFleet, type FleetArgs } from "./certsfleet.js";

const folderOptions = (command: Argv) => command.options(clusterDirOptions);

export function certsCommand(cli: Argv, io: Io): Argv {
  return cli.command("certs", "the cluster's certificates: expiry and renewal (kubeadm certs …)", (certs) =>
    certs
      .command(
        "check-expiration [hosts..]",
        "list every certificate and CA with its expiry, as kubeadm certs check-expiration does; with HOST… or --inventory, of every node over SSH",
        (command) =>
          fleetExpiryOptions(folderOptions(command)).option("fail-within", {
            type: "string",
            describe: "exit 4 if anything expires within this time (Go durations: 720h, 1.5h; also 30d, 2w), or is missing: for cron and monitoring",
          })
          .example("$0 certs check-expiration --dir /etc/kubernetes", "kubeadm's two tables")
          .example("$0 certs check-expiration --fail-within 720h -o json", "for cron: exit 4 within 30 days; kubeadm's JSON"),
        async (args) => {
          const { expiryReport, formatExpiry, kubeadmExpirationInfo } = await import("../../pki/expiry.js");
          let failWithin: number | undefined;
          if (args.failWithin !== undefined) {
            const parsed = durationOrProblem("--fail-within", args.failWithin, "30d, 720h, 1.5h");
            if ("message" in parsed) throw new KpkiError("usage", parsed.message);
            failWithin = parsed.ms;
          }
          if (wantsFleet(args)) return runFleetExpiry(io, args as unknown as FleetArgs, failWithin);
          const { PkiStore } = await import("../../pki/store.js");
          const [{ readInventory }, { reissueCommand }] = await Promise.all([import("../../pki/inventory.js"), import("../../pki/reissue.js")]);
          const layout = await clusterLayoutOf(args);
          const store = new PkiStore(layout.certDir, layout.certDirFlag);
          if ((await store.checkFolder()) === "missing") throw new KpkiError("input", `${store.dir} does not exist: give the cluster folder with --dir (kpki init makes it)`);
          const inventory = await readInventory(store, new PkiStore(layout.kubeconfigDir, layout.kubeconfigDirFlag));
          const report = expiryReport(inventory, new Date(), failWithin ?? 0);
          // kubeadm's printer indents JSON by four spaces.
          if (args.output === "json") io.stdout(`${JSON.stringify(kubeadmExpirationInfo(report), null, 4)}\n`);
          else io.stdout(formatExpiryTables(report, formatExpiry));
          const rows = [...report.certificates, ...report.certificateAuthorities];
          // A check that failed (4): damaged files (ours, so init --force may re-issue them), and another cluster's (never).
          const unreadable = rows.filter((row) => row.error);
          const broken = [
            ...(unreadable.length > 0
              ? [`${unreadable.map((row) => row.error).join("; ")}: restore ${unreadable.length === 1 ? "it" : "them"} from a backup, or re-issue with ${reissueCommand(inventory, layout, unreadable.map((row) => row.name))}`]
              : []),
            ...rows.flatMap((row) => (row.anotherCluster ? [row.anotherCluster] : [])),
          ];
          if (broken.length > 0) throw new KpkiError("verify", broken.join("; "));
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
            .option("key-type", { choices: KEY_TYPES, describe: "key algorithm for the new keys [default: that of each key being replaced]" })
            .option("keygen", keygenOption)
            .example("$0 certs renew all --dir /etc/kubernetes", "every certificate and kubeconfig kubeadm renews")
            .example("$0 certs renew apiserver admin.conf", "just these two, in ./kubernetes"),
        async (args) => {
          const days = checkDays(args.days, "--days");
          const { renewCerts } = await import("../../pki/renew.js");
          const report = await renewCerts({
            dir: args.dir,
            certDir: args.certDir,
            kubeconfigDir: args.kubeconfigDir,
            names: (args.names ?? []).map(String),
            days,
            keyType: args.keyType,
            keygen: args.keygen,
          });
          if (args.output === "json") return printJson(io, report);
          const lines = [
            table(report.renewed.map((item) => [`  renewed`, item.name, `expires ${item.notAfter.slice(0, 10)}`, item.file])),
            // kubeadm's words for what it leaves alone.
            ...report.skipped.map((item) => (item.reason === "missing" ? `MISSING! ${item.name} (${item.file})` : `Detected external ${item.ca}, ${item.name} can't be renewed`)),
          ].filter(Boolean);
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
  // kubeadm's "!MISSING! name" row; kpki tells an unreadable file apart.
  const named = (row: ExpiryRow) => (row.expires ? row.name : `${row.missing ? "!MISSING!" : "!UNREADABLE!"} ${row.name}`);
  const cells = (row: ExpiryRow) => (row.expires ? [formatDate(new Date(row.expires)), row.residual ?? ""] : ["", ""]);
  return (
    table([
      ["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"],
      ...report.certificates.map((row) => [named(row), ...cells(row), row.expires ? (row.certificateAuthority ?? "") : "", row.expires ? managed(row) : ""]),
    ]) +
    "\n\n" +
    table([
      ["CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"],
      ...report.certificateAuthorities.map((row) => [named(row), ...cells(row), row.expires ? managed(row) : ""]),
    ]) +
    "\n"
  );
}
