import path from "node:path";
import type { Argv } from "yargs";
import { readInput } from "../files.js";
import { printJson, type Io } from "../io.js";

export function caCommand(cli: Argv, io: Io): Argv {
  return cli.command("ca", "work with the cluster CA", (ca) =>
    ca
      .command(
        "hash [file]",
        "print kubeadm's CA pin (sha256:<hex> of the CA's SubjectPublicKeyInfo)",
        (command) =>
          command
            .positional("file", { type: "string", describe: "CA certificate (default: <dir>/ca.crt)" })
            .option("dir", { type: "string", default: "./pki", describe: "the PKI folder" }),
        async (args) => {
          const file = args.file ?? path.join(args.dir, "ca.crt");
          const { parseCertificate } = await import("../../pki/certinfo.js");
          const cert = parseCertificate(await readInput(file, io), file);
          if (args.output === "json") printJson(io, { file, caCertHash: cert.spkiHash, subject: cert.subject, isCA: cert.isCA });
          else io.stdout(`${cert.spkiHash}\n`);
        },
      )
      .demandCommand(1, "give a ca command: hash"),
  );
}
