import { KpkiError } from "../errors.js";
import { CATALOG, certFile, csrFile, keyFile, type CertEntry } from "./catalog.js";
import type { CertInfo } from "./certinfo.js";
import { encodePrivateKeyPem, parsePrivateKeyPem, type KeyPair } from "./keys.js";
import { takeKeyPair } from "./keypool.js";
import { altNameList, formatAltName, type AltNames } from "./names.js";
import { planInit, wantedCert, type Decision, type ExistingEntry } from "./plan.js";
import type { ClusterSpec } from "./spec.js";
import { MODES, PkiStore, type FileWrite } from "./store.js";
import { formatSubject } from "./subject.js";

export interface InitOptions {
  spec: ClusterSpec;
  dir: string;
  /** Re-issue leaf certificates (with new keys) that no longer fit. Never touches a CA key. */
  force?: boolean;
  emitOpensslConf?: boolean;
  /** Plan only: report what would happen; write nothing, lock nothing, generate no key. */
  dryRun?: boolean;
  now?: Date;
}

export type EntryAction = "created" | "kept" | "reissued" | "signed";
export type FileAction = "created" | "kept" | "replaced";

export interface EntryReport {
  name: string;
  action: EntryAction;
  /** Why a certificate was (or would be) re-issued or signed anew. */
  reasons: string[];
  files: { file: string; action: FileAction }[];
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

const confFile = (entry: CertEntry) => `${entry.baseName}.csr.conf`;
const sanText = (names: AltNames) => altNameList(names).map(formatAltName);

/**
 * Makes the PKI folder match the spec: creates what is missing, keeps what is
 * valid, and refuses (with the fix) to replace anything without --force.
 */
export async function initPki(options: InitOptions): Promise<InitReport> {
  const { spec, now = new Date() } = options;
  const dryRun = Boolean(options.dryRun);
  const store = new PkiStore(options.dir);
  const folder = await store.checkFolder();
  const lock = dryRun || folder === "missing" ? undefined : await tryLock(store);
  let unlock = lock?.unlock;
  try {
    if (folder === "missing" && !dryRun) {
      await store.ensureFolder();
      unlock = await store.lock();
    }
    const raw = new Map<string, { cert?: Buffer; key?: Buffer; conf?: Buffer }>();
    for (const entry of CATALOG) {
      raw.set(entry.name, {
        cert: await store.read(certFile(entry)),
        key: await store.read(keyFile(entry)),
        conf: options.emitOpensslConf ? await store.read(confFile(entry)) : undefined,
      });
    }
    // Key generation is nearly all the work: start it for every missing key
    // now, and load the X.509 code while the thread pool works.
    const pendingKeys = new Map<string, Promise<KeyPair>>();
    if (!dryRun) {
      for (const entry of CATALOG) if (!raw.get(entry.name)!.key) pendingKeys.set(entry.name, takeKeyPair(spec.keyType));
    }
    const [{ parseCertificate }, { buildCsr }, { createSelfSignedCa, signCsr }, { renderOpensslConf }] = await Promise.all([
      import("./certinfo.js"),
      import("./csr.js"),
      import("./sign.js"),
      import("./opensslconf.js"),
    ]);

    const existing = new Map<string, ExistingEntry>();
    for (const entry of CATALOG) {
      const files = raw.get(entry.name)!;
      existing.set(entry.name, {
        cert: files.cert ? parseCertificate(files.cert, store.path(certFile(entry))) : undefined,
        key: files.key ? await parsePrivateKeyPem(files.key, store.path(keyFile(entry))) : undefined,
      });
    }
    const { decisions, problems } = planInit(CATALOG, existing, spec, { force: Boolean(options.force), now, describe: (file) => store.path(file) });
    if (problems.length > 0) throw new KpkiError("conflict", `${store.dir}: ${problems.join(" | ")}`);

    const report: InitReport = { dir: store.dir, dryRun, changed: false, entries: [] };
    const writes: FileWrite[] = [];
    const issued = new Map<string, { cert: CertInfo; key?: KeyPair }>();

    for (const entry of CATALOG) {
      const decision: Decision = decisions.get(entry.name)!;
      const wanted = wantedCert(entry, spec);
      const had = raw.get(entry.name)!;
      const entryReport: EntryReport = {
        name: entry.name,
        action: "kept",
        reasons: [],
        files: [],
        subject: formatSubject(wanted.subject),
        altNames: sanText(wanted.altNames),
        warnings: [],
      };
      report.entries.push(entryReport);
      let cert: CertInfo | undefined;
      if (decision.kind === "keep") {
        cert = decision.cert;
        issued.set(entry.name, { cert, key: decision.key });
        entryReport.files.push({ file: certFile(entry), action: "kept" });
        if (decision.key) entryReport.files.push({ file: keyFile(entry), action: "kept" });
      } else {
        report.changed = true;
        entryReport.action = decision.kind === "create" ? "created" : decision.kind === "reissue" ? "reissued" : "signed";
        if (decision.kind !== "create") entryReport.reasons = decision.reasons;
        const keyAction: FileAction = decision.kind === "sign-with-existing-key" ? "kept" : had.key ? "replaced" : "created";
        entryReport.files.push({ file: keyFile(entry), action: keyAction }, { file: certFile(entry), action: had.cert ? "replaced" : "created" });
        if (entry.ca) entryReport.files.push({ file: csrFile(entry), action: (await store.exists(csrFile(entry))) ? "replaced" : "created" });
        if (!dryRun) {
          const key = decision.kind === "sign-with-existing-key" ? decision.key : await (pendingKeys.get(entry.name) ?? takeKeyPair(spec.keyType));
          const validity = { days: entry.validityDays(spec), now };
          if (!entry.ca) {
            cert = (await createSelfSignedCa(key, wanted.subject, wanted.altNames, validity)).cert;
          } else {
            const csr = await buildCsr(key, wanted.subject, wanted.altNames);
            const signed = await signCsr(csr, issued.get(entry.ca) as { cert: CertInfo; key: KeyPair }, entry.profile, validity);
            cert = signed.cert;
            if (signed.clampedToIssuer) entryReport.warnings.push(`cut to the CA's expiry, ${cert.notAfter.toISOString()}: the CA ends before ${validity.days} days`);
            writes.push({ file: csrFile(entry), data: csr.pem, mode: MODES.csr });
          }
          issued.set(entry.name, { cert, key });
          // Keys go first, so a certificate is never on disk without its key.
          if (keyAction !== "kept") writes.unshift({ file: keyFile(entry), data: encodePrivateKeyPem(key), mode: MODES.key });
          writes.push({ file: certFile(entry), data: cert.pem, mode: MODES.cert });
        }
      }
      if (cert) {
        entryReport.subject = cert.subject;
        entryReport.altNames = sanText(cert.altNames);
        entryReport.notAfter = cert.notAfter.toISOString();
        entryReport.sha256Fingerprint = cert.sha256Fingerprint;
      }
      if (options.emitOpensslConf && entry.ca && cert) {
        const text = renderOpensslConf(cert, entry.profile, entry.baseName);
        if (had.conf?.toString() === text) {
          entryReport.files.push({ file: confFile(entry), action: "kept" });
        } else {
          report.changed = true;
          entryReport.files.push({ file: confFile(entry), action: had.conf ? "replaced" : "created" });
          writes.push({ file: confFile(entry), data: text, mode: MODES.config });
        }
      }
    }
    report.caCertHash = issued.get("ca")?.cert.spkiHash;
    if (!dryRun && writes.length > 0) {
      if (lock?.error) throw lock.error;
      await store.writeAll(writes);
    }
    return report;
  } finally {
    await unlock?.();
  }
}

/**
 * Takes the folder's lock; on a folder kpki may not write (read-only, no
 * permission) it goes on without one, so a check that changes nothing still
 * works there, and keeps the reason for when something must be written.
 */
async function tryLock(store: PkiStore): Promise<{ unlock?: () => Promise<void>; error?: KpkiError }> {
  try {
    return { unlock: await store.lock() };
  } catch (error) {
    if (error instanceof KpkiError && error.kind === "io") return { error };
    throw error;
  }
}
