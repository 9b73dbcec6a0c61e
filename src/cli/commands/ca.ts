import path from "node:path";
import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { clusterLayoutOf, pkiDirOptions } from "../clusterdir.js";
import { inputLabel, readInput, readOptional } from "../files.js";
import { printJson, type Io } from "../io.js";

export function caCommand(cli: Argv, io: Io): Argv {
  return cli.command("ca", "work with the cluster CA", (ca) =>
    ca
      .command(
        "hash [file]",
        "print kubeadm's CA pin (sha256:<hex> of the CA's SubjectPublicKeyInfo)",
        (command) =>
          command
            .positional("file", { type: "string", describe: "CA certificate [default: the cluster's pki/ca.crt]" })
            .options(pkiDirOptions)
            .example("$0 ca hash", "the pin of ./kubernetes/pki/ca.crt")
            .example("$0 ca hash --dir /etc/kubernetes", "the pin of a kubeadm control plane's CA"),
        async (args) => {
          const file = args.file ?? path.join((await clusterLayoutOf(args)).certDir, "ca.crt");
          const { parseCertificate } = await import("../../pki/certinfo.js");
          const data = args.file ? await readInput(file, io) : await readOptional(file, io);
          // The cluster's own CA, not there: the same hint check-expiration gives.
          if (!data) throw new KpkiError("input", `${file} does not exist: give the cluster folder with --dir (kpki init makes it), or the CA certificate's file`);
          const cert = parseCertificate(data, inputLabel(file));
          // A pin of a leaf would make kubeadm join refuse the real CA: say so now.
          if (!cert.isCA) throw new KpkiError("input", `${inputLabel(file)} is not a CA certificate (${cert.subject}, no CA:TRUE): give the cluster CA, e.g. the cluster's pki/ca.crt`);
          if (args.output === "json") printJson(io, { file, caCertHash: cert.spkiHash, subject: cert.subject, isCA: cert.isCA });
          else io.stdout(`${cert.spkiHash}\n`);
        },
      )
      .demandCommand(1, "give a ca command: hash"),
  );
}
