import { inputError, KpkiError } from "../errors.js";
import { CATALOG, certFile, csrFile, keyFile, type CertEntry } from "./catalog.js";
import type { CertInfo } from "./certinfo.js";
import { encodePrivateKeyPem, generateKeyPair, parsePrivateKeyPem, type KeyPair } from "./keys.js";
import { formatAltName, missingAltNames, type AltNames } from "./names.js";
import type { ClusterSpec } from "./spec.js";
import { MODES, PkiStore, type FileWrite } from "./store.js";
import { formatSubject } from "./subject.js";

export interface InitOptions {
  spec: ClusterSpec;
  dir: string;
  /** Re-issue leaf certificates (with new keys) that no longer fit. Never touches a CA key. */
  force?: boolean;
  emitOpensslConf?: boolean;
  /** Plan only: report what would happen, write nothing, generate no key. */
  dryRun?: boolean;
  now?: Date;
}

export type EntryAction = "created" | "kept" | "reissued" | "signed";

export interface EntryReport {
  name: string;
  action: EntryAction;
  /** Why a certificate was (or would be) re-issued or signed anew. */
  reasons: string[];
  files: { file: string; action: "created" | "kept" | "replaced" }[];
  subject: string;
  altNames: string[];
  notAfter?: string;
  sha256Fingerprint?: string;
  warnings: string[];
}

export interface InitReport {
  dir: string;
  dryRun: boolean;
  changed: boolean;
  caCertHash?: string;
  entries: EntryReport[];
}

interface ExistingFiles {
  cert?: Buffer;
  key?: Buffer;
  csr?: Buffer;
}

type Decision =
  | { kind: "keep"; cert: CertInfo; key?: KeyPair }
  | { kind: "create" }
  | { kind: "sign-with-existing-key"; key: KeyPair; reasons: string[] }
  | { kind: "reissue"; reasons: string[] };

/**
 * Makes the PKI folder match the spec: creates what is missing, keeps what is
 * valid, and refuses (with the fix) to replace anything without --force.
 */
export async function initPki(options: InitOptions): Promise<InitReport> {
  const { spec, now = new Date() } = options;
  const store = new PkiStore(options.dir);
  const folder = await store.checkFolder();
  if (folder === "missing" && !options.dryRun) await store.ensureFolder();
  const unlock = folder === "missing" && options.dryRun ? async () => {} : await store.lock();
  try {
    const existing = new Map<string, ExistingFiles>();
    for (const entry of CATALOG) {
      existing.set(entry.name, {
        cert: await store.read(certFile(entry)),
        key: await store.read(keyFile(entry)),
        csr: await store.read(csrFile(entry)),
      });
    }
    // Key generation is nearly all the work: start it for every missing key
    // now, and load the X.509 code while the thread pool works.
    const pendingKeys = new Map<string, Promise<KeyPair>>();
    if (!options.dryRun) {
      for (const entry of CATALOG) {
        if (!existing.get(entry.name)?.key) pendingKeys.set(entry.name, generateKeyPair(spec.keyType));
      }
    }
    // A rejected key promise must not go unhandled while planning fails.
    for (const pending of pendingKeys.values()) pending.catch(() => {});
    const [{ parseCertificate }, { buildCsr }, { createSelfSignedCa, signCsr }, { verifyCertificate, keyMatchesCert }, { renderOpensslConf }] =
      await Promise.all([import("./certinfo.js"), import("./csr.js"), import("./sign.js"), import("./verify.js"), import("./opensslconf.js")]);

    const decisions = new Map<string, Decision>();
    const problems: string[] = [];
    // What each CA can do for its leaves: sign (new, or kept with its key) or nothing (external).
    const caStates = new Map<string, { canSign: boolean; cert?: CertInfo }>();

    for (const entry of CATALOG) {
      const files = existing.get(entry.name)!;
      const cert = files.cert ? parseCertificate(files.cert, store.path(certFile(entry))) : undefined;
      const key = files.key ? await parsePrivateKeyPem(files.key, store.path(keyFile(entry))) : undefined;
      if (!entry.ca) {
        const decision = assessCa(entry, store, cert, key, now, keyMatchesCert);
        decisions.set(entry.name, decision);
        caStates.set(entry.name, decision.kind === "keep" ? { canSign: Boolean(decision.key), cert: decision.cert } : { canSign: true });
        continue;
      }
      const issuer = caStates.get(entry.ca)!;
      const wanted = wantedCert(entry, spec);
      if (cert && key) {
        const reasons = issuer.cert ? staleness(cert, wanted, issuer.cert, now, verifyCertificate) : ["its CA is new"];
        if (!keyMatchesCert(key.privateKeyObject, cert)) reasons.push(`${keyFile(entry)} does not belong to ${certFile(entry)}`);
        if (reasons.length === 0) decisions.set(entry.name, { kind: "keep", cert, key });
        else if (options.force) decisions.set(entry.name, { kind: "reissue", reasons });
        else problems.push(`${entry.name}: ${reasons.join("; ")}: run again with --force to re-issue it with a new key`);
      } else if (key && !cert) {
        decisions.set(entry.name, { kind: "sign-with-existing-key", key, reasons: [`${certFile(entry)} is missing`] });
      } else if (cert && !key) {
        if (options.force) decisions.set(entry.name, { kind: "reissue", reasons: [`${keyFile(entry)} is missing`] });
        else problems.push(`${entry.name}: ${certFile(entry)} has no ${keyFile(entry)} beside it: restore the key, or run again with --force to issue a new pair`);
      } else {
        decisions.set(entry.name, { kind: "create" });
      }
      const decision = decisions.get(entry.name);
      if (decision && decision.kind !== "keep" && !issuer.canSign) {
        problems.push(
          `${entry.name}: needs signing but ${keyFile(catalogCa(entry))} is missing, so ${certFile(catalogCa(entry))} is an external CA: ` +
            `put its key beside it, or supply ${certFile(entry)} and ${keyFile(entry)} signed by that CA`,
        );
      }
    }
    if (problems.length > 0) {
      throw new KpkiError("conflict", `${store.dir}: ${problems.join(" | ")}`);
    }

    const report: InitReport = { dir: store.dir, dryRun: Boolean(options.dryRun), changed: false, entries: [] };
    const writes: FileWrite[] = [];
    const signed = new Map<string, { cert: CertInfo; key: KeyPair }>();
    const takeKey = async (entry: CertEntry) => pendingKeys.get(entry.name) ?? generateKeyPair(spec.keyType);

    for (const entry of CATALOG) {
      const decision = decisions.get(entry.name)!;
      const wanted = wantedCert(entry, spec);
      const entryReport: EntryReport = {
        name: entry.name,
        action: "kept",
        reasons: [],
        files: [],
        subject: formatSubject(wanted.subject),
        altNames: [...wanted.altNames.dns.map((d) => `DNS:${d}`), ...wanted.altNames.ips.map((ip) => `IP:${ip}`)],
        warnings: [],
      };
      report.entries.push(entryReport);
      if (decision.kind === "keep") {
        signed.set(entry.name, { cert: decision.cert, key: decision.key! });
        describeCert(entryReport, decision.cert);
        entryReport.files.push({ file: certFile(entry), action: "kept" }, { file: keyFile(entry), action: "kept" });
        if (options.emitOpensslConf && entry.ca) {
          writes.push({ file: `${entry.baseName}.csr.conf`, data: renderOpensslConf(decision.cert, entry.profile, entry.baseName), mode: MODES.config });
        }
        continue;
      }
      report.changed = true;
      entryReport.action = decision.kind === "create" ? "created" : decision.kind === "reissue" ? "reissued" : "signed";
      if (decision.kind !== "create") entryReport.reasons = decision.reasons;
      const hadKey = Boolean(existing.get(entry.name)?.key);
      const hadCert = Boolean(existing.get(entry.name)?.cert);
      entryReport.files.push(
        { file: keyFile(entry), action: decision.kind === "sign-with-existing-key" ? "kept" : hadKey ? "replaced" : "created" },
        { file: certFile(entry), action: hadCert ? "replaced" : "created" },
      );
      if (entry.ca) entryReport.files.push({ file: csrFile(entry), action: existing.get(entry.name)?.csr ? "replaced" : "created" });
      if (options.dryRun) continue;

      const key = decision.kind === "sign-with-existing-key" ? decision.key : await takeKey(entry);
      let cert: CertInfo;
      if (!entry.ca) {
        cert = (await createSelfSignedCa(key, wanted.subject, wanted.altNames, { days: entry.validityDays(spec), now })).cert;
      } else {
        const issuer = signed.get(entry.ca);
        if (!issuer?.key) throw inputError(`${entry.name}: no CA key to sign with`);
        const csr = await buildCsr(key, wanted.subject, wanted.altNames);
        const result = await signCsr(csr, issuer, entry.profile, { days: entry.validityDays(spec), now });
        cert = result.cert;
        if (result.clampedToIssuer) entryReport.warnings.push(`cut to the CA's expiry (${cert.notAfter.toISOString()}): the CA expires before ${entry.validityDays(spec)} days`);
        writes.push({ file: csrFile(entry), data: csr.pem, mode: MODES.csr });
      }
      signed.set(entry.name, { cert, key });
      describeCert(entryReport, cert);
      if (decision.kind !== "sign-with-existing-key") writes.unshift({ file: keyFile(entry), data: encodePrivateKeyPem(key), mode: MODES.key });
      writes.push({ file: certFile(entry), data: cert.pem, mode: MODES.cert });
      if (options.emitOpensslConf && entry.ca) {
        writes.push({ file: `${entry.baseName}.csr.conf`, data: renderOpensslConf(cert, entry.profile, entry.baseName), mode: MODES.config });
      }
    }
    const ca = signed.get("ca")?.cert ?? caStates.get("ca")?.cert;
    if (ca?.spkiHash) report.caCertHash = ca.spkiHash;
    if (!options.dryRun) await store.writeAll(writes);
    return report;
  } finally {
    await unlock();
  }
}

function catalogCa(entry: CertEntry): CertEntry {
  return CATALOG.find((candidate) => candidate.name === entry.ca)!;
}

function wantedCert(entry: CertEntry, spec: ClusterSpec) {
  return { subject: entry.subject(spec), altNames: entry.altNames(spec), usages: entry.profile.extendedKeyUsages };
}

function describeCert(report: EntryReport, cert: CertInfo) {
  report.subject = cert.subject;
  report.altNames = [...cert.altNames.dns.map((d) => `DNS:${d}`), ...cert.altNames.ips.map((ip) => `IP:${ip}`)];
  report.notAfter = cert.notAfter.toISOString();
  report.sha256Fingerprint = cert.sha256Fingerprint;
}

function assessCa(
  entry: CertEntry,
  store: PkiStore,
  cert: CertInfo | undefined,
  key: KeyPair | undefined,
  now: Date,
  keyMatchesCert: (key: KeyPair["privateKeyObject"], cert: CertInfo) => boolean,
): Decision {
  const certPath = store.path(certFile(entry));
  const keyPath = store.path(keyFile(entry));
  if (!cert && !key) return { kind: "create" };
  if (!cert) {
    throw inputError(`${keyPath} exists but ${certPath} is missing: restore the CA certificate (kpki never replaces a CA key)`);
  }
  if (!cert.isCA) throw inputError(`${certPath} is not a CA certificate (no CA:TRUE): restore the real CA certificate`);
  if (now > cert.notAfter) {
    throw inputError(
      `${certPath} expired on ${cert.notAfter.toISOString()}: kpki never replaces a CA; move ${store.dir} aside and run init again for a new PKI`,
    );
  }
  if (key && !keyMatchesCert(key.privateKeyObject, cert)) {
    throw inputError(`${keyPath} does not belong to ${certPath}: restore the matching pair (kpki never replaces a CA key)`);
  }
  return { kind: "keep", cert, key };
}

/** Reasons an existing leaf no longer fits what init was asked for. */
function staleness(
  cert: CertInfo,
  wanted: { subject: { commonName: string; organizations: readonly string[] }; altNames: AltNames; usages: readonly ("serverAuth" | "clientAuth")[] },
  ca: CertInfo,
  now: Date,
  verify: typeof import("./verify.js").verifyCertificate,
): string[] {
  const reasons = verify({ cert, ca, usages: wanted.usages, now }).map((problem) => problem.message);
  const missing = missingAltNames(cert.altNames, wanted.altNames);
  if (missing.length > 0) reasons.push(`it lacks ${missing.map(formatAltName).join(", ")}`);
  if (cert.commonName !== wanted.subject.commonName) reasons.push(`its CN is "${cert.commonName}", not "${wanted.subject.commonName}"`);
  return reasons;
}

