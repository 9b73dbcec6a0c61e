import path from "node:path";
import { inputError } from "../errors.js";
import { certFile, keyFile, type CatalogEntry, type CertEntry, type KubeconfigEntry } from "./catalog.js";
import type { CertInfo } from "./certinfo.js";
import type { KeyPair } from "./keys.js";
import { formatAltName, missingAltNames, type AltNames } from "./names.js";
import type { ExtendedKeyUsageName } from "./profiles.js";
import type { ClusterSpec } from "./spec.js";
import type { Subject } from "./subject.js";
import { anotherClusterMessage, issuedBy } from "./ownership.js";
import { keyMatchesCert, verifyCertificate } from "./verify.js";

/** What an entry's files hold today, parsed. A kubeconfig's `unreadable` says why it could not be used. */
export interface ExistingEntry {
  cert?: CertInfo;
  key?: KeyPair;
  /** Key pairs: whether the public key file is there and matches the key. */
  publicKey?: "matches" | "differs";
  /** Kubeconfigs: what they point at and trust. */
  kubeconfig?: { server: string; cluster: string; caCert?: CertInfo };
  unreadable?: string;
  /** A file is there (even if it could not be parsed). */
  present: boolean;
}

export type Decision =
  | { kind: "keep"; cert?: CertInfo; key?: KeyPair }
  | { kind: "create" }
  | { kind: "sign-with-existing-key"; key: KeyPair; reasons: string[] }
  | { kind: "reissue"; reasons: string[] }
  | { kind: "write-public-key"; key: KeyPair; reasons: string[] }
  /** Not done: it needs --force, or (fix "move") the file is another cluster's and is never replaced. */
  | { kind: "blocked"; reasons: string[]; fix: "force" | "move" };

export interface WantedCert {
  subject: Subject;
  altNames: AltNames;
  usages: readonly ExtendedKeyUsageName[];
}

export function wantedCert(entry: CertEntry | KubeconfigEntry, spec: ClusterSpec): WantedCert {
  if (entry.kind === "kubeconfig") return { subject: entry.subject(spec), altNames: { dns: [], ips: [] }, usages: ["clientAuth"] };
  return { subject: entry.subject(spec), altNames: entry.altNames(spec), usages: entry.profile.extendedKeyUsages };
}

interface PlanOptions {
  force: boolean;
  now: Date;
  /** The path a user sees for a file of an entry, for messages. */
  describe: (file: string) => string;
  /** The same for a kubeconfig. */
  describeKubeconfig?: (file: string) => string;
}

/** A problem that stops the plan; "move" ones (another cluster's files) --force does not override. */
interface Blocked {
  problem: string;
  fix: "force" | "move";
}
const needsForce = (problem: string): Blocked => ({ problem, fix: "force" });
const foreign = (problem: string): Blocked => ({ problem, fix: "move" });

/**
 * Decides, for every selected catalog entry, whether to keep, create or
 * re-issue it. Pure: it reads only what it is given. CA problems throw (a CA
 * is never replaced); problems --force would fix are collected, so the user
 * sees all of them at once.
 */
export function planInit(
  entries: readonly CatalogEntry[],
  existing: ReadonlyMap<string, ExistingEntry>,
  spec: ClusterSpec,
  options: PlanOptions,
): { decisions: Map<string, Decision>; problems: string[] } {
  const decisions = new Map<string, Decision>();
  const problems: string[] = [];
  // Whether each CA can sign (new, or kept with its key), and its certificate if kept.
  const cas = new Map<string, { canSign: boolean; cert?: CertInfo }>();
  const decide = (entry: CatalogEntry, decision: Decision | Blocked) => {
    if ("problem" in decision) {
      problems.push(`${entry.name}: ${decision.problem}`);
      decisions.set(entry.name, { kind: "blocked", reasons: [decision.problem], fix: decision.fix });
    } else decisions.set(entry.name, decision);
  };

  for (const entry of entries) {
    const found = existing.get(entry.name) ?? { present: false };
    if (entry.kind === "keypair") {
      decide(entry, planKeyPair(found, options.force, entry.publicKeyFile, entry.keyFile));
      continue;
    }
    if (entry.kind === "cert" && !entry.ca) {
      const decision = planCa(entry, found, options);
      decide(entry, decision);
      cas.set(entry.name, decision.kind === "keep" ? { canSign: decision.key !== undefined, cert: decision.cert } : { canSign: true });
      continue;
    }
    const ca = cas.get(entry.ca!) ?? { canSign: false };
    const caFile = ca.cert ? options.describe(certFile(entries.find((candidate) => candidate.name === entry.ca) as CertEntry)) : undefined;
    const decision =
      entry.kind === "cert" ? planLeaf(entry, found, ca.cert, caFile, spec, options) : planKubeconfig(entry, found, ca.cert, caFile, spec, options);
    decide(entry, decision);
    if (!("problem" in decision) && decision.kind !== "keep" && !ca.canSign) {
      const caEntry = entries.find((candidate) => candidate.name === entry.ca) as CertEntry;
      problems.push(
        `${entry.name}: needs signing, but ${keyFile(caEntry)} is missing, so ${certFile(caEntry)} is an externally managed CA: ` +
          `put its key beside it, or supply ${entry.kind === "cert" ? `${certFile(entry)} and ${keyFile(entry)}` : entry.file} signed by that CA`,
      );
    }
  }
  return { decisions, problems };
}

function planCa(entry: CertEntry, { cert, key, present }: ExistingEntry, { now, describe }: PlanOptions): Decision {
  const certPath = describe(certFile(entry));
  const keyPath = describe(keyFile(entry));
  if (!present) return { kind: "create" };
  if (!cert) throw inputError(`${keyPath} exists but ${certPath} is missing: restore the CA certificate (kpki never replaces a CA key)`);
  if (!cert.isCA) throw inputError(`${certPath} is not a CA certificate (no CA:TRUE): restore the real CA certificate`);
  if (now > cert.notAfter) {
    throw inputError(`${certPath} expired on ${cert.notAfter.toISOString()}: kpki never replaces a CA; move ${path.dirname(certPath)} aside and run init again for a new PKI`);
  }
  if (key && !keyMatchesCert(key.privateKeyObject, cert)) {
    throw inputError(`${keyPath} does not belong to ${certPath}: restore the matching pair (kpki never replaces a CA key)`);
  }
  return { kind: "keep", cert, key };
}

function planLeaf(
  entry: CertEntry,
  { cert, key, unreadable }: ExistingEntry,
  ca: CertInfo | undefined,
  caFile: string | undefined,
  spec: ClusterSpec,
  { force, now, describe }: PlanOptions,
): Decision | Blocked {
  if (unreadable) return force ? { kind: "reissue", reasons: [unreadable] } : needsForce(`${unreadable}: run again with --force to re-issue it with a new key`);
  if (cert && !(ca && issuedBy(cert, ca))) return foreign(anotherClusterMessage(describe(certFile(entry)), cert, caFile));
  if (cert && key) {
    const wanted = wantedCert(entry, spec);
    const needed = entry.keptWith ? { ...wanted, usages: entry.keptWith.usages, altNames: entry.keptWith.altNames(spec) } : wanted;
    const reasons = staleness(cert, needed, ca!, now);
    if (!keyMatchesCert(key.privateKeyObject, cert)) reasons.push(`${keyFile(entry)} does not belong to ${certFile(entry)}`);
    if (reasons.length === 0) return { kind: "keep", cert, key };
    reasons.push(...dropped(cert, wanted));
    if (force) return { kind: "reissue", reasons };
    return needsForce(`${reasons.join("; ")}: run again with --force to re-issue it with a new key`);
  }
  if (key) return { kind: "sign-with-existing-key", key, reasons: [`${certFile(entry)} is missing`] };
  if (cert) {
    if (force) return { kind: "reissue", reasons: [`${keyFile(entry)} is missing`] };
    return needsForce(`${certFile(entry)} has no ${keyFile(entry)} beside it: restore the key, or run again with --force to issue a new pair`);
  }
  return { kind: "create" };
}

/** What a re-issue would leave out: SANs the certificate has that are no longer asked for. Said before --force drops them. */
function dropped(cert: CertInfo, wanted: WantedCert): string[] {
  const gone = missingAltNames(wanted.altNames, cert.altNames);
  return gone.length > 0 ? [`a new one would drop ${gone.map(formatAltName).join(", ")} (no longer asked for)`] : [];
}

function planKubeconfig(
  entry: KubeconfigEntry,
  found: ExistingEntry,
  ca: CertInfo | undefined,
  caFile: string | undefined,
  spec: ClusterSpec,
  { force, now, describeKubeconfig = (file) => file }: PlanOptions,
): Decision | Blocked {
  if (!found.present) return { kind: "create" };
  if (found.cert && !(ca && issuedBy(found.cert, ca))) return foreign(anotherClusterMessage(describeKubeconfig(entry.file), found.cert, caFile));
  const reasons: string[] = [];
  if (found.unreadable) reasons.push(found.unreadable);
  else if (!ca) reasons.push("its CA is new");
  else {
    const { cert, key, kubeconfig } = found;
    if (!kubeconfig?.caCert || Buffer.compare(Buffer.from(kubeconfig.caCert.der), Buffer.from(ca.der)) !== 0) reasons.push("it trusts a different CA");
    if (kubeconfig && kubeconfig.server !== entry.server(spec)) reasons.push(`its server is ${kubeconfig.server}, not ${entry.server(spec)}`);
    if (kubeconfig && kubeconfig.cluster !== spec.clusterName) reasons.push(`its cluster is named "${kubeconfig.cluster}", not "${spec.clusterName}"`);
    if (cert) {
      const wanted = wantedCert(entry, spec);
      reasons.push(...staleness(cert, wanted, ca, now));
      const organizations = [...cert.organizations].sort().join(",");
      if (organizations !== [...wanted.subject.organizations].sort().join(",")) {
        reasons.push(`its groups are "${cert.organizations.join(",")}", not "${wanted.subject.organizations.join(",")}"`);
      }
      if (key && !keyMatchesCert(key.privateKeyObject, cert)) reasons.push("its client key does not belong to its client certificate");
    }
  }
  if (reasons.length === 0) return { kind: "keep", cert: found.cert, key: found.key };
  if (force) return { kind: "reissue", reasons };
  return needsForce(`${reasons.join("; ")}: run again with --force to replace it (new key)`);
}

function planKeyPair(found: ExistingEntry, force: boolean, publicKeyFile: string, privateKeyFile: string): Decision | Blocked {
  if (!found.key) return { kind: "create" };
  // The private key is never regenerated (kubeadm reuses sa.key); the public half is derived from it.
  if (found.publicKey === "matches") return { kind: "keep", key: found.key };
  if (found.publicKey === undefined) return { kind: "write-public-key", key: found.key, reasons: [`${publicKeyFile} is missing`] };
  if (force) return { kind: "write-public-key", key: found.key, reasons: [`${publicKeyFile} did not match ${privateKeyFile}`] };
  return needsForce(`${publicKeyFile} does not match ${privateKeyFile}: run again with --force to write ${publicKeyFile} from ${privateKeyFile}`);
}

/** Reasons an existing leaf no longer fits what was asked for; empty when it fits. */
export function staleness(cert: CertInfo, wanted: WantedCert, ca: CertInfo, now: Date): string[] {
  const reasons = verifyCertificate({ cert, ca, usages: wanted.usages, now }).map((problem) => problem.message);
  const missing = missingAltNames(cert.altNames, wanted.altNames);
  if (missing.length > 0) reasons.push(`it lacks ${missing.map(formatAltName).join(", ")}`);
  if (cert.commonName !== wanted.subject.commonName) reasons.push(`its CN is "${cert.commonName}", not "${wanted.subject.commonName}"`);
  return reasons;
}
