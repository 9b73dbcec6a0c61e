import path from "node:path";
import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { KEY_TYPES, type KeyType } from "../../pki/keys.js";
import { SIGNING_PROFILES, PROFILES, type ProfileName } from "../../pki/profiles.js";
import { checkDays, DEFAULTS } from "../../pki/spec.js";
import { clusterDirOptions, clusterLayoutOf, pkiDirOptions, refuseSystemMasters, systemMastersOption } from "../clusterdir.js";
import { inputLabel, readInput, readOptional } from "../files.js";
import { printJson, table, type Io } from "../io.js";
import { keygenOption } from "../keygenoption.js";

export function certCommand(cli: Argv, io: Io): Argv {
  return cli.command("cert", "make, sign, inspect and verify single certificates", (cert) =>
    cert
      .command(
        "csr",
        "make a private key and a CSR for an external CA",
        (command) =>
          command
            .option("name", { type: "string", demandOption: "give --name: the files are <name>.key and <name>.csr", describe: "base name of the files" })
            .option("cn", { type: "string", demandOption: "give --cn, the subject's common name", describe: "subject common name" })
            .option("org", { type: "string", array: true, default: [] as string[], describe: "subject organization (a Kubernetes group), repeatable" })
            .option("san", { type: "string", array: true, default: [] as string[], describe: "SAN (IP or DNS name), repeatable" })
            .option("key-type", { choices: KEY_TYPES, default: "rsa-2048" as KeyType, describe: "key algorithm" })
            .option("keygen", keygenOption)
            .option("dir", { type: "string", default: ".", describe: "folder to write the files to" })
            .option("force", { type: "boolean", default: false, describe: "replace an existing key" })
            .example("$0 cert csr --name node-1 --cn system:node:node-1 --org system:nodes --san 192.0.2.21", "node-1.key and node-1.csr for an external CA"),
        async (args) => {
          const { createCsrFiles } = await import("../../pki/csrfiles.js");
          const result = await createCsrFiles({
            dir: args.dir,
            name: args.name,
            subject: { commonName: args.cn, organizations: args.org.map(String) },
            sans: args.san.map(String),
            keyType: args.keyType,
            keygen: args.keygen,
            force: args.force,
          });
          if (args.output === "json") return printJson(io, result);
          io.stdout(`wrote ${result.keyFile} and ${result.csrFile}\n  subject: ${result.subject}\n  SANs: ${result.altNames.join(", ") || "none"}\n`);
        },
      )
      .command(
        "sign",
        "sign a CSR (e.g. one openssl made) with the cluster CA under a profile",
        (command) =>
          command
            .option("csr", { type: "string", demandOption: "give --csr FILE (or - for standard input)", describe: "the CSR to sign" })
            .option("profile", { choices: SIGNING_PROFILES, demandOption: "give --profile server, client or peer", describe: "usages to grant" })
            .options(pkiDirOptions)
            .option("ca-cert", { type: "string", describe: "CA certificate [default: the cluster's pki/ca.crt]" })
            .option("ca-key", { type: "string", describe: "CA private key [default: the cluster's pki/ca.key]" })
            .options(systemMastersOption)
            .option("days", { type: "number", default: DEFAULTS.days, describe: "validity in days" })
            .option("out", { type: "string", describe: "write the certificate here instead of standard output" })
            .example("$0 cert sign --csr node-1.csr --profile peer --out node-1.crt", "signed by ./kubernetes/pki/ca.key")
            .example("$0 cert sign --csr etcd-client.csr --profile client --ca-cert kubernetes/pki/etcd/ca.crt --ca-key kubernetes/pki/etcd/ca.key", "by another CA"),
        async (args) => {
          const days = checkDays(args.days, "--days");
          const certDir = args.caCert && args.caKey ? "" : (await clusterLayoutOf(args)).certDir;
          const caCertPath = args.caCert ?? path.join(certDir, "ca.crt");
          const caKeyPath = args.caKey ?? path.join(certDir, "ca.key");
          const [{ parseCsr }, { signCsr }, { loadSigner }] = await Promise.all([
            import("../../pki/csr.js"),
            import("../../pki/sign.js"),
            import("../../pki/signer.js"),
          ]);
          const csr = await parseCsr(await readInput(args.csr, io), inputLabel(args.csr));
          if (args.profile !== "server") refuseSystemMasters(csr.subjectName.getField("O"), args.allowSystemMasters, `${inputLabel(args.csr)} asks for a client certificate that`);
          const signer = await loadSigner(
            { cert: await readOptional(caCertPath, io), key: await readOptional(caKeyPath, io) },
            { cert: caCertPath, key: caKeyPath },
          );
          const profile = PROFILES[args.profile as ProfileName];
          const { cert, clampedToIssuer } = await signCsr(csr, signer, profile, { days });
          if (args.out) {
            const { PkiStore, MODES } = await import("../../pki/store.js");
            const out = path.resolve(args.out);
            await new PkiStore(path.dirname(out), "--out").writeAll([{ file: path.basename(out), data: cert.pem, mode: MODES.cert }]);
          }
          const warning = clampedToIssuer ? `cut to the CA's expiry, ${cert.notAfter.toISOString()}` : undefined;
          if (args.output === "json") {
            const { certificateView } = await import("../../pki/inspect.js");
            return printJson(io, { out: args.out ?? null, profile: profile.name, warning, certificate: certificateView(cert), pem: args.out ? undefined : cert.pem });
          }
          if (!args.out) return io.stdout(cert.pem);
          io.stdout(`wrote ${args.out}: ${cert.subject}, ${profile.description}, expires ${cert.notAfter.toISOString()}\n`);
          if (warning) io.stderr(`kpki: warning: ${warning}\n`);
        },
      )
      .command(
        "inspect <file>",
        "show a certificate, CSR, key or kubeconfig's certificates (never key material), or the chain https://HOST:PORT presents",
        (command) =>
          command
            .positional("file", { type: "string", demandOption: true, describe: "PEM or DER file, a kubeconfig, https://HOST:PORT, or - for standard input" })
            .option("servername", { type: "string", describe: "with https://: the TLS server name (SNI) to ask for, and that the certificate must cover" })
            .option("ca", { type: "string", describe: "with https://: say whether the chain verifies against this CA, and why not" })
            .option("out", { type: "string", describe: "with https://: save the chain (or --save root: its CA) as PEM" })
            .option("save", { choices: ["chain", "root"] as const, default: "chain" as const, describe: "with --out: the whole chain, or only its CA certificate" })
            .option("timeout", { type: "number", default: 10, describe: "with https://: seconds to wait for the server" })
            .example("$0 cert inspect kubernetes/pki/apiserver.crt", "subject, SANs, usages, validity, fingerprint")
            .example("$0 cert inspect https://192.0.2.10:6443 --ca kubernetes/pki/ca.crt", "the chain the API server presents, and whether it verifies")
            .example("$0 cert inspect kubernetes/admin.conf", "a kubeconfig's embedded CA and client certificate"),
        async (args) => {
          if (/^https:\/\//.test(args.file)) {
            const { inspectServer } = await import("../inspectremote.js");
            return inspectServer({ url: args.file, servername: args.servername, ca: args.ca, out: args.out, save: args.save, timeout: args.timeout, output: args.output as string }, io);
          }
          if (args.servername || args.ca || args.out) throw new KpkiError("usage", "--servername, --ca and --out go with cert inspect https://HOST:PORT; for a file, use cert verify FILE --ca CA");
          const data = await readInput(args.file, io);
          const { inspect } = await import("../../pki/inspect.js");
          const { looksLikeKubeconfig, inspectKubeconfig } = await import("../inspectremote.js");
          if (looksLikeKubeconfig(data)) {
            const parts = await inspectKubeconfig(data.toString(), inputLabel(args.file));
            if (args.output === "json") return printJson(io, parts.map((part) => ({ role: part.role, ...part.items[0] })));
            return io.stdout(parts.map((part) => `${part.role}:\n${part.items.map(formatInspection).join("\n")}`).join("\n"));
          }
          const results = await inspect(data, inputLabel(args.file));
          if (args.output === "json") return printJson(io, results.length === 1 ? results[0] : results);
          io.stdout(results.map(formatInspection).join("\n"));
        },
      )
      .command(
        "verify <file>",
        "verify a certificate against a CA: chain, validity, host, key, purpose",
        (command) =>
          command
            .positional("file", { type: "string", demandOption: true, describe: "the certificate" })
            .option("ca", { type: "string", demandOption: "give --ca FILE, the CA certificate to verify against", describe: "CA certificate" })
            .option("host", { type: "string", describe: "DNS name or IP the certificate must cover" })
            .option("key", { type: "string", describe: "private key that must belong to the certificate" })
            .option("purpose", { choices: ["server", "client", "peer"] as const, describe: "usage the certificate must allow (peer: both, as sign --profile peer gives)" })
            .example("$0 cert verify kubernetes/pki/apiserver.crt --ca kubernetes/pki/ca.crt --host 192.0.2.10 --purpose server", "each failure named; exit 4 if any")
            .example("$0 cert verify kubernetes/pki/etcd/peer.crt --ca kubernetes/pki/etcd/ca.crt --purpose peer", "server and client both"),
        async (args) => {
          if (args.host?.trim() === "") throw new KpkiError("usage", "--host is empty: give the DNS name or IP the certificate must cover, or leave --host out");
          const [{ parseCertificate }, { verifyCertificate }, { parsePrivateKeyPem }] = await Promise.all([
            import("../../pki/certinfo.js"),
            import("../../pki/verify.js"),
            import("../../pki/keys.js"),
          ]);
          const cert = parseCertificate(await readInput(args.file, io), inputLabel(args.file));
          const ca = parseCertificate(await readInput(args.ca, io), inputLabel(args.ca));
          const key = args.key ? (await parsePrivateKeyPem(await readInput(args.key, io), inputLabel(args.key))).privateKeyObject : undefined;
          const usages = args.purpose ? PROFILES[args.purpose].extendedKeyUsages : [];
          const problems = verifyCertificate({ cert, ca, host: args.host, key, usages });
          if (args.output === "json") printJson(io, { file: args.file, ok: problems.length === 0, problems });
          else if (problems.length === 0) io.stdout(`${args.file}: OK (${cert.subject}, issued by ${ca.subject}, expires ${cert.notAfter.toISOString()})\n`);
          else io.stdout(`${args.file}: FAILED\n${problems.map((problem) => `  ${problem.code}: ${problem.message}`).join("\n")}\n`);
          if (problems.length > 0) throw new KpkiError("verify", `${args.file} does not verify: ${problems.map((problem) => problem.code).join(", ")}`);
        },
      )
      .command(
        "export <name>",
        "write a PKCS#12 (.p12) of a client certificate and key, e.g. admin.conf's for a browser",
        (command) =>
          command
            .positional("name", { type: "string", demandOption: true, describe: "a kubeconfig (admin.conf, …) or a certificate (apiserver-kubelet-client, …) of the catalog" })
            .option("p12", { type: "boolean", default: true, describe: "PKCS#12 format (the only one)" })
            .option("out", { type: "string", describe: "file to write [default: <name>.p12 in the cluster folder]" })
            .options(clusterDirOptions)
            .option("password-file", { type: "string", describe: "read the password from this file (first line)" })
            .option("password-stdin", { type: "boolean", default: false, describe: "read the password from standard input" })
            .option("legacy", { type: "boolean", default: false, describe: "3DES instead of AES-256, for old importers" })
            .option("force", { type: "boolean", default: false, describe: "replace an existing file (it holds a key)" })
            .example("$0 cert export admin.conf --out admin.p12", "for a browser; asks for the password")
            .example("$0 cert export admin.conf --password-file pw.txt --legacy", "3DES and SHA-1, for old importers"),
        async (args) => {
          const { exportP12 } = await import("../export.js");
          const result = await exportP12(
            {
              name: args.name,
              out: args.out,
              layout: await clusterLayoutOf(args),
              passwordFile: args.passwordFile,
              passwordStdin: args.passwordStdin,
              legacy: args.legacy,
              force: args.force,
            },
            io,
          );
          if (args.output === "json") return printJson(io, result);
          io.stdout(`wrote ${result.file}: ${result.subject}, with its key and CA (${result.encryption})\n`);
        },
      )
      .demandCommand(1, "give a cert command: csr, sign, inspect, verify, export"),
  );
}

function formatInspection(item: import("../../pki/inspect.js").Inspection): string {
  switch (item.kind) {
    case "certificate":
      return (
        table([
          ["certificate", item.isCA ? "(CA)" : ""],
          ["  subject", item.subject],
          ["  issuer", item.issuer + (item.selfSigned ? " (self-signed)" : "")],
          ["  serial", item.serialNumber],
          ["  valid", `${item.notBefore} to ${item.notAfter}`],
          ["  SANs", item.altNames.join(", ") || "none"],
          ["  key usage", item.keyUsages.join(", ") || "none"],
          ["  ext key usage", item.extendedKeyUsages.join(", ") || "none"],
          ["  public key", item.publicKey],
          ["  signature", item.signatureAlgorithm],
          ["  SHA-256", item.sha256Fingerprint],
          ...(item.isCA ? [["  CA pin", item.spkiHash]] : []),
        ]) + "\n"
      );
    case "certificate-request":
      return (
        table([
          ["certificate request", "(signature valid)"],
          ["  subject", item.subject],
          ["  SANs", item.altNames.join(", ") || "none"],
          ["  asks for CA", item.requestsCA ? "yes" : "no"],
          ["  public key", item.publicKey],
        ]) + "\n"
      );
    case "private-key":
      return table([["private key", `(${item.format})`], ["  type", item.publicKey], ["  public key SHA-256", item.publicKeySha256]]) + "\n";
    case "public-key":
      return table([["public key", ""], ["  type", item.publicKey], ["  SHA-256", item.publicKeySha256]]) + "\n";
  }
}
