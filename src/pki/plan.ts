import path from "node:path";
import { inputError } from "../errors.js";
import { certFile, keyFile, type CertEntry } from "./catalog.js";
import type { CertInfo } from "./certinfo.js";
import type { KeyPair } from "./keys.js";
import { formatAltName, missingAltNames, type AltNames } from "./names.js";
import type { ExtendedKeyUsageName } from "./profiles.js";
import type { ClusterSpec } from "./spec.js";
import type { Subject } from "./subject.js";
import { keyMatchesCert, verifyCertificate } from "./verify.js";

/** What an entry's files hold today, parsed. */
export interface ExistingEntry {
  cert?: CertInfo;
  key?: KeyPair;
}

export type Decision =
  | { kind: "keep"; cert: CertInfo; key?: KeyPair }
  | { kind: "create" }
  | { kind: "sign-with-existing-key"; key: KeyPair; reasons: string[] }
  | { kind: "reissue"; reasons: string[] };

export interface WantedCert {
  subject: Subject;
  altNames: AltNames;
  usages: readonly ExtendedKeyUsageName[];
}

export function wantedCert(entry: CertEntry, spec: ClusterSpec): WantedCert {
  return { subject: entry.subject(spec), altNames: entry.altNames(spec), usages: entry.profile.extendedKeyUsages };
}

/**
 * Decides, for every catalog entry, whether to keep, create or re-issue it.
 * Pure: it reads only what it is given. CA problems throw (a CA is never
 * replaced); leaf problems that --force would fix are collected in
 * `problems`, so the user sees all of them at once.
 */
export function planInit(
  entries: readonly CertEntry[],
  existing: ReadonlyMap<string, ExistingEntry>,
  spec: ClusterSpec,
  options: { force: boolean; now: Date; describe: (file: string) => string },
): { decisions: Map<string, Decision>; problems: string[] } {
  const decisions = new Map<string, Decision>();
  const problems: string[] = [];
  // Whether each CA can sign for its leaves (new, or kept with its key), and its certificate if kept.
  const cas = new Map<string, { canSign: boolean; cert?: CertInfo }>();

  for (const entry of entries) {
    const { cert, key } = existing.get(entry.name) ?? {};
    if (!entry.ca) {
      const decision = planCa(entry, cert, key, options);
      decisions.set(entry.name, decision);
      cas.set(entry.name, decision.kind === "keep" ? { canSign: decision.key !== undefined, cert: decision.cert } : { canSign: true });
      continue;
    }
    const ca = cas.get(entry.ca)!;
    let decision: Decision | undefined;
    if (cert && key) {
      const reasons = ca.cert ? staleness(cert, wantedCert(entry, spec), ca.cert, options.now) : ["its CA is new"];
      if (!keyMatchesCert(key.privateKeyObject, cert)) reasons.push(`${keyFile(entry)} does not belong to ${certFile(entry)}`);
      if (reasons.length === 0) decision = { kind: "keep", cert, key };
      else if (options.force) decision = { kind: "reissue", reasons };
      else problems.push(`${entry.name}: ${reasons.join("; ")}: run again with --force to re-issue it with a new key`);
    } else if (key) {
      decision = { kind: "sign-with-existing-key", key, reasons: [`${certFile(entry)} is missing`] };
    } else if (cert) {
      if (options.force) decision = { kind: "reissue", reasons: [`${keyFile(entry)} is missing`] };
      else problems.push(`${entry.name}: ${certFile(entry)} has no ${keyFile(entry)} beside it: restore the key, or run again with --force to issue a new pair`);
    } else {
      decision = { kind: "create" };
    }
    if (decision && decision.kind !== "keep" && !ca.canSign) {
      const caEntry = entries.find((candidate) => candidate.name === entry.ca)!;
      problems.push(
        `${entry.name}: needs signing, but ${keyFile(caEntry)} is missing, so ${certFile(caEntry)} is an externally managed CA: ` +
          `put its key beside it, or supply ${certFile(entry)} and ${keyFile(entry)} signed by that CA`,
      );
    }
    if (decision) decisions.set(entry.name, decision);
  }
  return { decisions, problems };
}

function planCa(
  entry: CertEntry,
  cert: CertInfo | undefined,
  key: KeyPair | undefined,
  { now, describe }: { now: Date; describe: (file: string) => string },
): Decision {
  const certPath = describe(certFile(entry));
  const keyPath = describe(keyFile(entry));
  if (!cert && !key) return { kind: "create" };
  if (!cert) throw inputError(`${keyPath} exists but ${certPath} is missing: restore the CA certificate (kpki never replaces a CA key)`);
  if (!cert.isCA) throw inputError(`${certPath} is not a CA certificate (no CA:TRUE): restore the real CA certificate`);
  if (now > cert.notAfter) {
    throw inputError(
      `${certPath} expired on ${cert.notAfter.toISOString()}: kpki never replaces a CA; move ${path.dirname(certPath)} aside and run init again for a new PKI`,
    );
  }
  if (key && !keyMatchesCert(key.privateKeyObject, cert)) {
    throw inputError(`${keyPath} does not belong to ${certPath}: restore the matching pair (kpki never replaces a CA key)`);
  }
  return { kind: "keep", cert, key };
}

/** Reasons an existing leaf no longer fits what was asked for; empty when it fits. */
export function staleness(cert: CertInfo, wanted: WantedCert, ca: CertInfo, now: Date): string[] {
  const reasons = verifyCertificate({ cert, ca, usages: wanted.usages, now }).map((problem) => problem.message);
  const missing = missingAltNames(cert.altNames, wanted.altNames);
  if (missing.length > 0) reasons.push(`it lacks ${missing.map(formatAltName).join(", ")}`);
  if (cert.commonName !== wanted.subject.commonName) reasons.push(`its CN is "${cert.commonName}", not "${wanted.subject.commonName}"`);
  return reasons;
}
