import { X509Certificate } from "node:crypto";
import { CERTS } from "../../pki/catalog.js";
import { parseCertificateDer, type CertInfo } from "../../pki/certinfo.js";
import { pemBlocksLabelled } from "../../pki/der.js";
import { shortHumanDuration } from "../../pki/expiry.js";
import { loadTemplate } from "../../templates.js";
import type { FleetHost } from "./fleet.js";
import { SshError, SshSession, type SshSettings } from "./ssh.js";

/** One certificate found on one host, with what the fleet report says of it. */
export interface FleetCertificate {
  host: string;
  /** kubeadm's name where kubeadm has one (apiserver, admin.conf), else the file's name (kubelet.crt). */
  name: string;
  file: string;
  notAfter: Date;
  /** The CA that signed it (kubeadm's caName); undefined for a CA itself. */
  caName?: string;
  isCa: boolean;
  externallyManaged: boolean;
  /** Something wrong besides expiry: a kubeconfig trusting another CA, a certificate its CA did not sign. */
  problem?: string;
}

export interface FleetHostResult {
  host: string;
  address: string;
  /** Why the host could not be read. */
  error?: string;
  /** Files that are there but could not be read or parsed. */
  unreadable: string[];
}

export interface FleetExpiry {
  hosts: FleetHostResult[];
  certificates: FleetCertificate[];
}

/** What the collection script printed: certificate files, key files that exist, kubeconfig lines. */
export interface CollectedFiles {
  certs: Map<string, Uint8Array[]>;
  keys: Set<string>;
  kubeconfigs: Map<string, Record<string, string>>;
  unreadable: string[];
}

/** The script a host runs: it prints certificates only, never a key. */
export const collectScript = () => loadTemplate("fleet/collect-certs.sh");

export function parseCollected(stdout: string): CollectedFiles {
  const collected: CollectedFiles = { certs: new Map(), keys: new Set(), kubeconfigs: new Map(), unreadable: [] };
  let current: { kind: string; path: string; lines: string[] } | undefined;
  for (const line of stdout.split("\n")) {
    const fields = line.split("\t");
    if (fields[0] === "KPKIFILE") current = { kind: fields[1]!, path: fields.slice(2).join("\t"), lines: [] };
    else if (fields[0] === "KPKIKEY") collected.keys.add(fields.slice(1).join("\t"));
    else if (fields[0] === "KPKIEND" && current) {
      if (current.kind === "cert") collected.certs.set(current.path, pemBlocksLabelled(current.lines.join("\n"), "CERTIFICATE"));
      else if (current.kind === "kubeconfig") collected.kubeconfigs.set(current.path, Object.fromEntries(current.lines.map((entry) => entry.split("\t") as [string, string]).filter((pair) => pair.length === 2)));
      else collected.unreadable.push(current.path);
      current = undefined;
    } else if (current) current.lines.push(line);
  }
  return collected;
}

const PKI = "/etc/kubernetes/pki/";
const KUBELET_PKI = "/var/lib/kubelet/pki/";
const catalogByFile = new Map(CERTS.map((entry) => [`${PKI}${entry.baseName}.crt`, entry]));

const signedBy = (cert: CertInfo, ca: CertInfo) => {
  const child = new X509Certificate(cert.der);
  const parent = new X509Certificate(ca.der);
  return child.checkIssued(parent) && child.verify(parent.publicKey);
};

/**
 * The rows of one host. `clusterCa` is the fleet's Kubernetes CA (the ca.crt
 * most hosts hold): a kubeconfig that trusts another is flagged, and so is a
 * client certificate it did not sign.
 */
export function hostCertificates(host: string, files: CollectedFiles, clusterCa: CertInfo | undefined): { rows: FleetCertificate[]; unreadable: string[] } {
  const rows: FleetCertificate[] = [];
  const unreadable = [...files.unreadable];
  const parse = (der: Uint8Array, label: string): CertInfo | undefined => {
    try {
      return parseCertificateDer(der, label);
    } catch {
      unreadable.push(label);
      return undefined;
    }
  };
  const cas = new Map<string, CertInfo>();
  const leaves: { file: string; cert: CertInfo; name: string; caName?: string }[] = [];
  for (const [file, blocks] of files.certs) {
    const entry = catalogByFile.get(file);
    const first = blocks[0] && parse(blocks[0], file);
    if (!first) {
      if (blocks.length === 0) unreadable.push(file);
      continue;
    }
    if (entry && !entry.ca) cas.set(entry.name, first);
    else if (file.startsWith(PKI)) leaves.push({ file, cert: first, name: entry?.name ?? file.slice(PKI.length), caName: entry?.ca });
    else {
      // The kubelet's own serving certificate comes with the CA it made for itself, in the same file.
      const bundled = blocks[1] && parse(blocks[1], `${file} (second certificate)`);
      const name = file.slice(KUBELET_PKI.length);
      if (bundled?.isCA && signedBy(first, bundled)) {
        cas.set(`${name} CA`, bundled);
        leaves.push({ file, cert: first, name, caName: `${name} CA` });
      } else leaves.push({ file, cert: first, name });
    }
  }
  const hostCa = cas.get("ca");
  const trusted = clusterCa ?? hostCa;
  // A CA whose key is not beside it signs nothing here: kubeadm calls what it signed externally managed.
  const external = new Set(
    CERTS.filter((entry) => !entry.ca && cas.has(entry.name) && !files.keys.has(`${PKI}${entry.baseName}.key`) && leaves.some((leaf) => leaf.caName === entry.name)).map((entry) => entry.name),
  );
  for (const [name, cert] of cas) {
    const file = name.endsWith(" CA") ? `${KUBELET_PKI}${name.slice(0, -3)}` : `${PKI}${CERTS.find((entry) => entry.name === name)!.baseName}.crt`;
    const problem = name === "ca" && clusterCa && cert.sha256Fingerprint !== clusterCa.sha256Fingerprint ? `not the cluster's CA (${clusterCa.subject}, which most hosts hold)` : undefined;
    rows.push({ host, name, file, notAfter: cert.notAfter, isCa: true, externallyManaged: external.has(name), problem });
  }
  for (const leaf of leaves) {
    let caName = leaf.caName;
    if (!caName) caName = [...cas].find(([, ca]) => signedBy(leaf.cert, ca))?.[0] ?? (trusted && signedBy(leaf.cert, trusted) ? "ca" : undefined);
    const ca = caName === "ca" ? trusted : caName ? cas.get(caName) : undefined;
    const problem = ca && !signedBy(leaf.cert, ca) ? `not signed by ${caName} (${ca.subject})` : caName ? undefined : `signed by none of this host's CAs (issuer ${leaf.cert.issuer})`;
    rows.push({ host, name: leaf.name, file: leaf.file, notAfter: leaf.cert.notAfter, caName, isCa: false, externallyManaged: caName ? external.has(caName) : false, problem });
  }
  for (const [file, fields] of files.kubeconfigs) {
    const name = file.slice("/etc/kubernetes/".length);
    const caData = fields["certificate-authority-data"];
    const embeddedCa = caData ? parse(pemOrDer(caData), `${file} certificate-authority-data`) : undefined;
    const caProblem =
      embeddedCa && trusted && embeddedCa.sha256Fingerprint !== trusted.sha256Fingerprint ? `its embedded CA (${embeddedCa.subject}) is not the cluster's (${trusted.subject})` : undefined;
    const clientData = fields["client-certificate-data"];
    const client = clientData ? parse(pemOrDer(clientData), `${file} client-certificate-data`) : undefined;
    if (!client) {
      // kubelet.conf on a kubeadm node points at kubelet-client-current.pem, which has its own row.
      if (caProblem) rows.push({ host, name, file, notAfter: embeddedCa!.notAfter, caName: "ca", isCa: false, externallyManaged: false, problem: caProblem });
      continue;
    }
    const signProblem = trusted && !signedBy(client, trusted) ? `its client certificate is not signed by the cluster's CA (${trusted.subject})` : undefined;
    rows.push({ host, name, file, notAfter: client.notAfter, caName: "ca", isCa: false, externallyManaged: external.has("ca"), problem: [caProblem, signProblem].filter(Boolean).join("; ") || undefined });
  }
  const order = (row: FleetCertificate) => (row.isCa ? 1 : 0);
  rows.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
  return { rows, unreadable };
}

/** A kubeconfig's *-data is base64 of PEM (kubeadm's) or, rarely, of DER. */
function pemOrDer(base64: string): Uint8Array {
  const bytes = Buffer.from(base64, "base64");
  return pemBlocksLabelled(bytes.toString("latin1"), "CERTIFICATE")[0] ?? new Uint8Array(bytes);
}

/** The Kubernetes CA most hosts hold (by fingerprint): what "the cluster's CA" means across a fleet. */
function majorityCa(collected: readonly (CollectedFiles | undefined)[]): CertInfo | undefined {
  const counts = new Map<string, { cert: CertInfo; count: number }>();
  for (const files of collected) {
    const der = files?.certs.get(`${PKI}ca.crt`)?.[0];
    if (!der) continue;
    try {
      const cert = parseCertificateDer(der, "ca.crt");
      const seen = counts.get(cert.sha256Fingerprint) ?? { cert, count: 0 };
      seen.count++;
      counts.set(cert.sha256Fingerprint, seen);
    } catch {
      // Reported as unreadable on its host.
    }
  }
  return [...counts.values()].sort((a, b) => b.count - a.count)[0]?.cert;
}

/** Reads every host's certificates over SSH, `parallel` hosts at a time; a host that fails is its own error. */
export async function readFleetExpiry(hosts: readonly FleetHost[], options: { parallel: number; ssh: SshSettings }, onDone?: (result: FleetHostResult) => void): Promise<FleetExpiry> {
  const session = new SshSession(options.ssh);
  const collected: (CollectedFiles | undefined)[] = new Array(hosts.length);
  const results: FleetHostResult[] = hosts.map((host) => ({ host: host.name, address: host.address, unreadable: [] }));
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const index = next++;
      try {
        const run = await session.run(hosts[index]!, collectScript());
        if (run.exitCode !== 0) results[index]!.error = `${hosts[index]!.name}: reading the certificates failed (exit ${run.exitCode}): ${run.stderr.trim().split("\n").at(-1) ?? ""}`;
        else collected[index] = parseCollected(run.stdout);
      } catch (error) {
        if (!(error instanceof SshError)) throw error;
        results[index]!.error = error.message;
      }
      onDone?.(results[index]!);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.parallel, hosts.length) }, worker));
  } finally {
    await session.close();
  }
  const clusterCa = majorityCa(collected);
  const certificates: FleetCertificate[] = [];
  hosts.forEach((host, index) => {
    const files = collected[index];
    if (!files) return;
    const { rows, unreadable } = hostCertificates(host.name, files, clusterCa);
    certificates.push(...rows);
    results[index]!.unreadable = unreadable;
  });
  return { hosts: results, certificates };
}

/** RFC 3339 in UTC to the second, as Go's metav1.Time marshals. */
const rfc3339 = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * The report in kubeadm's output.kubeadm.k8s.io/v1alpha3
 * CertificateExpirationInfo shape, each entry with the host it is on (and
 * `problem` where kpki found one).
 */
export function fleetExpirationInfo(report: FleetExpiry, now: Date) {
  const entry = (row: FleetCertificate) => ({
    host: row.host,
    name: row.name,
    expirationDate: rfc3339(row.notAfter),
    residualTime: Math.trunc((row.notAfter.getTime() - now.getTime()) / 1000),
    externallyManaged: row.externallyManaged,
    ...(row.caName ? { caName: row.caName } : {}),
    missing: false,
    ...(row.problem ? { problem: row.problem } : {}),
  });
  return {
    kind: "CertificateExpirationInfo",
    apiVersion: "output.kubeadm.k8s.io/v1alpha3",
    certificates: report.certificates.filter((row) => !row.isCa).map(entry),
    certificateAuthorities: report.certificates.filter((row) => row.isCa).map(entry),
  };
}

/** kubeadm's RESIDUAL TIME for a row. */
export const residual = (row: FleetCertificate, now: Date) => shortHumanDuration(row.notAfter.getTime() - now.getTime());
