import path from "node:path";
import { KpkiError } from "../errors.js";
import type { CertInfo } from "../pki/certinfo.js";
import { inputLabel, readInput } from "./files.js";
import { printJson, table, type Io } from "./io.js";

export interface RemoteInspectArgs {
  url: string;
  servername?: string;
  ca?: string;
  out?: string;
  save: "chain" | "root";
  timeout: number;
  output: string;
}

/**
 * The seed's `openssl s_client -showcerts -connect HOST:PORT | openssl x509
 * -text > ca.pem`, done right: the chain the server presents, each
 * certificate described; with --ca whether it verifies and why not; the pin
 * of its CA to confirm out of band before kubeadm join trusts it.
 */
export async function inspectServer(args: RemoteInspectArgs, io: Io): Promise<void> {
  const [{ fetchServerChain }, { parseCertificateDer, parseCertificate }, { certificateView }, { verifyChain }] = await Promise.all([
    import("./tlschain.js"),
    import("../pki/certinfo.js"),
    import("../pki/inspect.js"),
    import("../pki/chain.js"),
  ]);
  const ca = args.ca ? parseCertificate(await readInput(args.ca, io), inputLabel(args.ca)) : undefined;
  if (ca && !ca.isCA) throw new KpkiError("input", `--ca ${args.ca} is not a CA certificate (${ca.subject}, no CA:TRUE): give the CA the server should chain to`);
  const served = await fetchServerChain(args.url, { servername: args.servername, timeoutMs: args.timeout * 1000 });
  const chain = served.chain.map((der, index) => parseCertificateDer(der, `certificate ${index + 1} from ${served.host}:${served.port}`));
  const top = chain.at(-1)!;
  const root = top.isCA ? top : undefined;
  const problems = ca ? verifyChain(chain, ca, { host: args.servername ?? served.host }) : [];
  const pinOf: CertInfo | undefined = ca && problems.every((problem) => problem.code !== "not-issued-by-ca") ? ca : root;
  if (args.out) await saveChain(args.out, args.save === "root" ? (root ? [root] : []) : chain, args.save);
  const report = {
    server: `${served.host}:${served.port}`,
    servername: served.servername ?? null,
    chain: chain.map(certificateView),
    verified: ca ? problems.length === 0 : null,
    problems,
    caPin: pinOf?.spkiHash ?? null,
    saved: args.out ? path.resolve(args.out) : null,
  };
  if (args.output === "json") printJson(io, report);
  else {
    const lines = [`${report.server}${served.servername ? ` (SNI ${served.servername})` : ""} presents ${chain.length} certificate(s):`];
    chain.forEach((cert, index) => {
      lines.push(
        table([
          [`  ${index + 1}. subject`, cert.subject],
          ["     issuer", cert.issuer + (cert.subject === cert.issuer ? " (self-signed)" : "")],
          ["     SANs", report.chain[index]!.altNames.join(", ") || "none"],
          ["     expires", cert.notAfter.toISOString()],
          ["     SHA-256", cert.sha256Fingerprint],
          ["     pin", cert.spkiHash + (cert.isCA ? " (a CA)" : "")],
        ]),
      );
    });
    if (ca) lines.push(problems.length === 0 ? `verified against ${args.ca} (${ca.subject})` : `does NOT verify against ${args.ca}:\n${problems.map((problem) => `  ${problem.code}: ${problem.message}`).join("\n")}`);
    lines.push(
      pinOf
        ? `CA pin: ${pinOf.spkiHash} — confirm it out of band (kpki ca hash on the control plane) before giving it to kubeadm join --discovery-token-ca-cert-hash`
        : "The server does not present its CA (kube-apiserver serves its own certificate only): take the pin from the CA file (kpki ca hash), not from this connection",
    );
    if (report.saved) lines.push(`saved the ${args.save} to ${report.saved}`);
    io.stdout(`${lines.join("\n")}\n`);
  }
  if (problems.length > 0) throw new KpkiError("verify", `${report.server} does not verify against ${args.ca}: ${problems.map((problem) => problem.code).join(", ")}`);
}

async function saveChain(out: string, certs: readonly CertInfo[], what: string): Promise<void> {
  if (certs.length === 0) throw new KpkiError("input", `--save ${what}: the server presents no CA certificate to save; save the chain, or get the CA from the cluster (pki/ca.crt)`);
  const { PkiStore, MODES } = await import("../pki/store.js");
  const target = new PkiStore(path.dirname(path.resolve(out)), "--out");
  if (await target.exists(path.basename(out))) throw new KpkiError("conflict", `${path.resolve(out)} exists: choose another --out`);
  await target.ensureFolder();
  await target.writeAll([{ file: path.basename(out), data: certs.map((cert) => cert.pem).join(""), mode: MODES.cert }]);
}

/** A kubeconfig's embedded certificates: the cluster's CA and the user's client certificate. */
export async function inspectKubeconfig(text: string, label: string) {
  const [{ parseKubeconfig }, { inspect }] = await Promise.all([import("../pki/kubeconfig.js"), import("../pki/inspect.js")]);
  const loaded = parseKubeconfig(text, label, { baseDir: path.dirname(path.resolve(label)) });
  const parts: { role: string; items: Awaited<ReturnType<typeof inspect>> }[] = [];
  if (loaded.caPem) parts.push({ role: `cluster ${loaded.clusterName} CA (server ${loaded.server})`, items: await inspect(Buffer.from(loaded.caPem), `${label} CA`) });
  if (loaded.clientCertPem) parts.push({ role: `user ${loaded.userName} client certificate`, items: await inspect(Buffer.from(loaded.clientCertPem), `${label} client certificate`) });
  if (parts.length === 0) throw new KpkiError("input", `${label} embeds no certificate (it may use a token, or files it names)`);
  return parts;
}

/** Whether a file's text is a kubeconfig rather than PEM or DER. */
export const looksLikeKubeconfig = (data: Buffer) => /^\s*(apiVersion|kind|clusters|current-context)\s*:/m.test(data.subarray(0, 4096).toString("utf8")) && !data.includes("-----BEGIN");
