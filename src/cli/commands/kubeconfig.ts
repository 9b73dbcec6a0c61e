import path from "node:path";
import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { CERTS, certFile, keyFile } from "../../pki/catalog.js";
import { KEY_TYPES, type KeyType } from "../../pki/keys.js";
import { checkDays, DEFAULTS } from "../../pki/spec.js";
import { clusterDirOptions, clusterLayoutOf, refuseSystemMasters, systemMastersOption } from "../clusterdir.js";
import { readOptional } from "../files.js";
import { printJson, type Io } from "../io.js";
import { sshOptions, type SshArgs } from "../sshoptions.js";
import { keygenOption } from "../keygenoption.js";

const CA_NAMES = CERTS.filter((entry) => !entry.ca).map((entry) => entry.name);

export function kubeconfigCommand(cli: Argv, io: Io): Argv {
  return cli.command("kubeconfig", "kubeconfigs signed by the cluster CA", (kubeconfig) =>
    kubeconfig
      .command(
        "create",
        "write a kubeconfig for any user (e.g. your own, to copy to a laptop)",
        (command) =>
          command
            .option("user", { type: "string", demandOption: "give --user, the user name (the certificate's CN)", describe: "user name (CN)" })
            .option("group", { type: "string", array: true, default: [] as string[], describe: "group (O), repeatable" })
            .option("server", { type: "string", demandOption: "give --server, e.g. --server https://192.0.2.10:6443", describe: "API server URL" })
            .option("out", { type: "string", describe: "file to write [default: <user>.conf in the cluster folder]" })
            .options(clusterDirOptions)
            .options(systemMastersOption)
            .option("ca", { choices: CA_NAMES, default: "ca", describe: "the CA that signs the client certificate" })
            .option("cluster-name", { type: "string", default: DEFAULTS.clusterName, describe: "the cluster's name in the kubeconfig" })
            .option("days", { type: "number", default: DEFAULTS.days, describe: "validity in days" })
            .option("key-type", { choices: KEY_TYPES, default: "rsa-2048" as KeyType, describe: "key algorithm" })
            .option("keygen", keygenOption)
            .option("force", { type: "boolean", default: false, describe: "replace an existing file (it holds a key)" })
            .example("$0 kubeconfig create --user jane --group dev --server https://192.0.2.10:6443", "./kubernetes/jane.conf, signed by ./kubernetes/pki/ca.key"),
        async (args) => {
          const days = checkDays(args.days, "--days");
          refuseSystemMasters(args.group.map(String), args.allowSystemMasters, `--user ${args.user}`);
          const layout = await clusterLayoutOf(args);
          const out = args.out ? path.resolve(args.out) : path.join(layout.kubeconfigDir, `${args.user.replace(/[^A-Za-z0-9._-]/g, "-")}.conf`);
          const [{ loadSigner }, { createUserKubeconfig }, { PkiStore, MODES }] = await Promise.all([
            import("../../pki/signer.js"),
            import("../../pki/userkubeconfig.js"),
            import("../../pki/store.js"),
          ]);
          const caEntry = CERTS.find((entry) => entry.name === args.ca)!;
          const caCert = path.join(layout.certDir, certFile(caEntry));
          const caKey = path.join(layout.certDir, keyFile(caEntry));
          // The cluster's lock, as init and certs renew take it: the CA read is the one on disk, and a killed run's commit is put right first.
          const pkiStore = new PkiStore(layout.certDir, layout.certDirFlag);
          const unlock = (await pkiStore.checkFolder()) === "exists" ? await pkiStore.lock() : async () => {};
          let cert: Awaited<ReturnType<typeof createUserKubeconfig>>["cert"];
          try {
            await pkiStore.recover([layout.kubeconfigDir]);
            const signer = await loadSigner({ cert: await readOptional(caCert, io), key: await readOptional(caKey, io) }, { cert: caCert, key: caKey });
            const target = new PkiStore(path.dirname(out), "--out");
            if ((await target.exists(path.basename(out))) && !args.force) {
              throw new KpkiError("conflict", `${out} exists and holds a key: kpki does not overwrite it without --force; choose another --out`);
            }
            const made = await createUserKubeconfig({
              signer,
              user: args.user,
              groups: args.group.map(String),
              server: args.server,
              clusterName: args.clusterName,
              days,
              keyType: args.keyType,
              keygen: args.keygen,
            });
            cert = made.cert;
            await target.ensureFolder();
            await target.writeAll([{ file: path.basename(out), data: made.text, mode: MODES.kubeconfig }]);
          } finally {
            await unlock();
          }
          const summary = { file: out, user: cert.commonName, groups: cert.organizations, server: args.server, notAfter: cert.notAfter.toISOString() };
          if (args.output === "json") return printJson(io, summary);
          io.stdout(`wrote ${out}: user ${summary.user}${summary.groups.length ? ` in ${summary.groups.join(", ")}` : ""}, server ${summary.server}, expires ${summary.notAfter.slice(0, 10)}\n`);
        },
      )
      .command(
        "fetch <host>",
        "copy a control-plane node's admin.conf here, pointed at the address kpki reached it at (the seed's kubectl config view --flatten)",
        (command) =>
          command
            .positional("host", { type: "string", demandOption: true, describe: "[user@]host[:port]" })
            .option("file", { type: "string", default: "/etc/kubernetes/admin.conf", describe: "the kubeconfig on the node" })
            .option("server", { type: "string", describe: "server URL to write [default: https://<host>:<the file's port>]" })
            .option("out", { type: "string", default: "./kubeconfig", describe: "where to write it" })
            .option("force", { type: "boolean", default: false, describe: "replace an existing file (it holds a key)" })
            .options(sshOptions)
            .example("$0 kubeconfig fetch root@192.0.2.10", "./kubeconfig, pointed at https://192.0.2.10:6443"),
        async (args) => {
          const [{ parseHostSpec, sshSettings }, { SshSession }, { fetchFile }, { rewriteServer }, { PkiStore, MODES }] = await Promise.all([
            import("../sshoptions.js"),
            import("../../bootstrap/node/ssh.js"),
            import("../../bootstrap/node/pushpki.js"),
            import("../../pki/kubeconfig.js"),
            import("../../pki/store.js"),
          ]);
          const host = parseHostSpec(args.host, args as unknown as SshArgs);
          const out = path.resolve(args.out);
          const target = new PkiStore(path.dirname(out), "--out");
          if ((await target.exists(path.basename(out))) && !args.force) {
            throw new KpkiError("conflict", `${out} exists and holds a key: kpki does not overwrite it without --force; choose another --out`);
          }
          if (args.server) {
            const { checkApiServerUrl } = await import("../../bootstrap/api/apiclient.js");
            checkApiServerUrl(args.server);
          }
          const session = new SshSession(sshSettings(args as unknown as SshArgs));
          let text: string;
          let apiserverCert: string | undefined;
          try {
            text = await fetchFile(session, host, args.file);
            // The API server's own certificate, to check the URL written is one it covers.
            apiserverCert = await fetchFile(session, host, "/etc/kubernetes/pki/apiserver.crt").catch(() => undefined);
          } finally {
            await session.close();
          }
          const { text: rewritten, server } = rewriteServer(text, `${host.address}:${args.file}`, args.server, host.address);
          const warnings: string[] = [];
          if (apiserverCert) {
            const [{ X509Certificate }, { certCoversHost }] = await Promise.all([import("node:crypto"), import("../../pki/verify.js")]);
            const cert = new X509Certificate(apiserverCert);
            const name = new URL(server).hostname.replace(/^\[|\]$/g, "");
            if (!certCoversHost(cert, name)) {
              warnings.push(`${server}: ${name} is not among the API server's SANs (${cert.subjectAltName ?? "none"}), so kubectl will refuse it: give --server with a name or address it covers`);
            }
          } else {
            warnings.push(`${host.address} has no /etc/kubernetes/pki/apiserver.crt to check ${server} against`);
          }
          await target.ensureFolder();
          await target.writeAll([{ file: path.basename(out), data: rewritten, mode: MODES.kubeconfig }]);
          if (args.output === "json") return printJson(io, { file: out, server, warnings });
          for (const warning of warnings) io.stderr(`kpki: warning: ${warning}\n`);
          io.stdout(`wrote ${out} (server ${server}); use it with kubectl --kubeconfig ${args.out} get nodes\n`);
        },
      )
      .demandCommand(1, "give a kubeconfig command: create, fetch"),
  );
}
