import path from "node:path";
import { KpkiError } from "../errors.js";
import { catalogEntry, certFile, keyFile, type CertEntry } from "../pki/catalog.js";
import type { ClusterLayout } from "../pki/layout.js";
import { readInput, readOptional } from "./files.js";
import type { Io } from "./io.js";
import { promptHidden } from "./prompt.js";

export interface ExportOptions {
  name: string;
  out?: string;
  layout: ClusterLayout;
  passwordFile?: string;
  passwordStdin: boolean;
  legacy: boolean;
  force: boolean;
}

/** Where the password comes from: a file, standard input, or a prompt (asked twice). Never echoed. */
async function readPassword(options: ExportOptions, io: Io): Promise<string> {
  if (options.passwordFile && options.passwordStdin) throw new KpkiError("usage", "give either --password-file or --password-stdin, not both");
  let password: string;
  if (options.passwordFile) password = (await readInput(options.passwordFile, io)).toString().split(/\r?\n/)[0]!;
  else if (options.passwordStdin) password = (await io.readStdin()).toString().split(/\r?\n/)[0]!;
  else {
    password = await promptHidden("Password for the .p12: ");
    if ((await promptHidden("Again: ")) !== password) throw new KpkiError("usage", "the two passwords differ: nothing written");
  }
  if (password.length === 0) throw new KpkiError("usage", "the password is empty: a .p12 holds a private key, give a password");
  return password;
}

export async function exportP12(options: ExportOptions, io: Io) {
  const entry = catalogEntry(options.name);
  if (!entry || entry.kind === "keypair" || (entry.kind === "cert" && !entry.ca)) {
    throw new KpkiError("usage", `"${options.name}" is not a client certificate of the catalog: give a kubeconfig (admin.conf, super-admin.conf, …) or a certificate such as apiserver-kubelet-client`);
  }
  const dir = options.layout.certDir;
  const out = options.out ? path.resolve(options.out) : path.join(options.layout.dir, `${options.name.replace(/\.conf$/, "")}.p12`);
  const { PkiStore, MODES } = await import("../pki/store.js");
  const target = new PkiStore(path.dirname(out), "--out");
  if ((await target.exists(path.basename(out))) && !options.force) {
    throw new KpkiError("conflict", `${out} exists and holds a key: kpki does not overwrite it without --force; choose another --out`);
  }
  let certPem: string;
  let keyPem: string;
  let caPem: string;
  if (entry.kind === "kubeconfig") {
    const file = path.join(options.layout.kubeconfigDir, entry.file);
    const { parseKubeconfig } = await import("../pki/kubeconfig.js");
    const loaded = parseKubeconfig((await readInput(file, io)).toString(), file, { baseDir: path.dirname(file) });
    if (!loaded.clientCertPem || !loaded.clientKeyPem || !loaded.caPem) throw new KpkiError("input", `${file} has no client certificate, key and CA to export`);
    ({ clientCertPem: certPem, clientKeyPem: keyPem, caPem } = loaded as Required<typeof loaded>);
  } else {
    const ca = catalogEntry(entry.ca!) as CertEntry;
    const read = async (file: string) => {
      const data = await readOptional(path.join(dir, file), io);
      if (!data) throw new KpkiError("input", `${path.join(dir, file)} is missing: run kpki init first, or give the cluster folder with --dir`);
      return data.toString();
    };
    // One after the other, so the error names the first file missing, every time.
    certPem = await read(certFile(entry));
    keyPem = await read(keyFile(entry));
    caPem = await read(certFile(ca));
  }
  const [{ parseCertificate }, { parsePrivateKeyPem }, { keyMatchesCert }, { buildP12 }] = await Promise.all([
    import("../pki/certinfo.js"),
    import("../pki/keys.js"),
    import("../pki/verify.js"),
    import("../pki/p12.js"),
  ]);
  const cert = parseCertificate(certPem, options.name);
  const key = await parsePrivateKeyPem(keyPem, `${options.name} key`);
  if (!keyMatchesCert(key.privateKeyObject, cert)) throw new KpkiError("input", `the key of ${options.name} does not belong to its certificate`);
  const password = await readPassword(options, io);
  const p12 = buildP12({ certPem: cert.pem, keyPem, chainPems: [parseCertificate(caPem, `${options.name}'s CA certificate`).pem], password, friendlyName: cert.commonName, legacy: options.legacy });
  await target.ensureFolder();
  await target.writeAll([{ file: path.basename(out), data: p12, mode: MODES.key }]);
  return { file: out, subject: cert.subject, encryption: options.legacy ? "3DES, SHA-1 MAC (legacy)" : "AES-256, PBKDF2-HMAC-SHA256, SHA-256 MAC" };
}
