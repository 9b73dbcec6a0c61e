import { createPublicKey } from "node:crypto";
import { inputError, KpkiError } from "../errors.js";
import { pemBlock } from "./der.js";
import { caCertHash } from "./pin.js";
import { catalogEntry, certFile, csrFile, keyFile, selectEntries, type CatalogEntry, type CertEntry, type KubeconfigEntry } from "./catalog.js";
import type { CertInfo } from "./certinfo.js";
import { encodePrivateKeyPem, encodePublicKeyPem, parsePrivateKeyPem, type KeyPair } from "./keys.js";
import type { Keygen } from "./keygen.js";
import { takeKeyPair } from "./keypool.js";
import { altNameList, formatAltName } from "./names.js";
import { PROFILES } from "./profiles.js";
import { planInit, wantedCert, type Decision, type ExistingEntry } from "./plan.js";
import type { ClusterSpec } from "./spec.js";
import { openClusterLayout, type ClusterLayoutOptions } from "./layout.js";
import { MODES, missingFolders, PkiStore, removeEmptyFolders, type FileWrite } from "./store.js";
import { formatSubject } from "./subject.js";

export interface InitOptions extends ClusterLayoutOptions {
  spec: ClusterSpec;
  /** Make only these catalog entries (and the CAs they need). */
  only?: readonly string[];
  /** Re-issue certificates and kubeconfigs that no longer fit (new keys). Never touches a CA key or sa.key. */
  force?: boolean;
  emitOpensslConf?: boolean;
  /** Plan only: report what would happen; write nothing, lock nothing, generate no key. */
  dryRun?: boolean;
  /** How RSA keys are made: from primes (the default) or by OpenSSL's own generator. */
  keygen?: Keygen;
  /** Called as each new key is ready, with how many are ready and how many are wanted (for progress). */
  onKeyReady?: (ready: number, wanted: number) => void;
  now?: Date;
}

/** "needs-force": --force would re-issue it; "refused": another cluster's file, never replaced. */
export type EntryAction = "created" | "kept" | "reissued" | "signed" | "completed" | "needs-force" | "refused";
export type FileAction = "created" | "kept" | "replaced";

export interface EntryReport {
  name: string;
  kind: CatalogEntry["kind"];
  action: EntryAction;
  /** Why it was (or would be) re-issued or completed. */
  reasons: string[];
  /** Paths relative to the report's `dir` (kubeconfigs: `kubeconfigDir`). */
  files: { file: string; action: FileAction }[];
  subject?: string;
  altNames: string[];
  server?: string;
  notAfter?: string;
  sha256Fingerprint?: string;
  warnings: string[];
}

export interface InitReport {
  /** The cluster folder (laid out like /etc/kubernetes). */
  clusterDir: string;
  /** The PKI folder: `<clusterDir>/pki` unless --cert-dir moved it. */
  dir: string;
  kubeconfigDir: string;
  nodeName: string;
  dryRun: boolean;
  changed: boolean;
  caCertHash?: string;
  entries: EntryReport[];
  /** What stops the run (a dry run reports them and still succeeds: the plan was made). */
  problems: string[];
}

interface Issued {
  cert?: CertInfo;
  key?: KeyPair;
}

const confFile = (entry: CertEntry) => `${entry.baseName}.csr.conf`;

/**
 * Makes the PKI folder (and the kubeconfigs beside it) match the spec:
 * creates what is missing, keeps what is valid, and refuses (with the fix)
 * to replace anything without --force. Every missing key is generated at
 * once on the thread pool; each certificate is signed as soon as its key and
 * its CA are ready; all files are written at the end.
 */
export async function initPki(options: InitOptions): Promise<InitReport> {
  const { spec, now = new Date() } = options;
  const dryRun = Boolean(options.dryRun);
  const entries = selectEntries({ only: options.only, externalEtcd: spec.externalEtcd });
  const layout = await openClusterLayout(options);
  const store = new PkiStore(layout.certDir, layout.certDirFlag);
  const kubeconfigStore = new PkiStore(layout.kubeconfigDir, layout.kubeconfigDirFlag);
  const folder = await store.checkFolder();
  // What this run would create, so a failure leaves no empty folder behind.
  const newFolders = dryRun ? [] : [...(await missingFolders(store.path("etcd"))), ...(await missingFolders(kubeconfigStore.dir))];
  const lock = dryRun || folder === "missing" ? undefined : await tryLock(store);
  let unlock = lock?.unlock;
  try {
    if (folder === "missing" && !dryRun) {
      await store.ensureFolder();
      unlock = await store.lock();
    }
    // A killed run's interrupted commit is completed (or its temp files removed) before anything is read.
    if (unlock) await store.recover([kubeconfigStore.dir]);
    const raw = await readEntries(entries, store, kubeconfigStore, Boolean(options.emitOpensslConf));
    // Key generation is nearly all the work: start it for every missing key
    // now, and load the X.509 code while the thread pool works.
    // CAs ask first, so the first keys done go to them and signing starts early.
    const pendingKeys = new Map<string, Promise<KeyPair>>();
    let wanted = 0;
    let ready = 0;
    const newKey = () => {
      wanted++;
      const key = takeKeyPair(spec.keyType, options.keygen);
      key.then(() => options.onKeyReady?.(++ready, wanted), () => {});
      return key;
    };
    if (!dryRun) {
      const isCa = (entry: CatalogEntry) => entry.kind === "cert" && !entry.ca;
      for (const entry of [...entries.filter(isCa), ...entries.filter((entry) => !isCa(entry))]) {
        if (needsNewKey(entry, raw.get(entry.name)!)) pendingKeys.set(entry.name, newKey());
      }
      for (const pending of pendingKeys.values()) pending.catch(() => {}); // unused if planning fails
    }
    const modules = await loadX509Modules();
    const existing = await parseEntries(entries, raw, store, kubeconfigStore, modules);
    const { decisions, problems } = planInit(entries, existing, spec, {
      force: Boolean(options.force),
      now,
      describe: (file) => store.path(file),
      describeKubeconfig: (file) => kubeconfigStore.path(file),
    });
    if (problems.length > 0 && !dryRun) throw new KpkiError("conflict", `${store.dir}: ${problems.join(" | ")}`);

    const keyFor = (entry: CatalogEntry) => pendingKeys.get(entry.name) ?? newKey();
    const issued = new Map<string, Promise<Issued>>();
    const results = new Map<string, Promise<{ report: EntryReport; writes: FileWrite[]; kubeconfigWrites: FileWrite[] }>>();
    for (const entry of entries) {
      const work = issueEntry(entry, decisions.get(entry.name)!, {
        spec, now, dryRun, raw: raw.get(entry.name)!, keyFor, issued, modules, emitOpensslConf: Boolean(options.emitOpensslConf), store,
      });
      issued.set(entry.name, work.then((result) => result.issued));
      results.set(entry.name, work);
    }
    const done = await Promise.all(entries.map((entry) => results.get(entry.name)!));
    const writes = done.flatMap((result) => result.writes);
    const kubeconfigWrites = done.flatMap((result) => result.kubeconfigWrites);
    const report: InitReport = {
      clusterDir: layout.dir,
      dir: store.dir,
      kubeconfigDir: kubeconfigStore.dir,
      nodeName: spec.nodeName,
      dryRun,
      changed: done.some((result) => result.report.action !== "kept" || result.report.files.some((file) => file.action !== "kept")),
      caCertHash: (await issued.get("ca"))?.cert?.spkiHash,
      entries: done.map((result) => result.report),
      problems,
    };
    if (!dryRun && writes.length + kubeconfigWrites.length > 0) {
      if (lock?.error) throw lock.error;
      // Keys first, so a certificate is never on disk without its key.
      const isKey = (write: FileWrite) => write.file.endsWith(".key");
      // One unit with the kubeconfigs: a kill leaves all of it or none (see PkiStore.writeAll).
      await store.writeAll([...writes.filter(isKey), ...writes.filter((write) => !isKey(write))], [{ store: kubeconfigStore, writes: kubeconfigWrites }]);
      await checkReportedCa(store, report);
    }
    return report;
  } catch (error) {
    await unlock?.();
    unlock = undefined;
    await removeEmptyFolders(newFolders);
    throw error;
  } finally {
    await unlock?.();
  }
}

/**
 * The CA pin a run prints is what ends up on disk: an operator hands it to
 * kubeadm join, so a pin that does not match would break every join. Read
 * back after the commit, under the lock.
 */
async function checkReportedCa(store: PkiStore, report: InitReport): Promise<void> {
  if (!report.caCertHash) return;
  const onDisk = await store.read("ca.crt");
  // The pin over the SPKI bytes as they stand (pin.ts), without parsing the whole certificate.
  const der = onDisk && pemBlock(onDisk.toString(), "CERTIFICATE");
  let pin: string | undefined;
  try {
    pin = der ? caCertHash(der) : undefined;
  } catch {
    // not a certificate: no pin, so it differs
  }
  if (pin !== report.caCertHash) {
    throw new KpkiError("io", `${store.path("ca.crt")} changed while kpki wrote it (another program writes this folder): run kpki init again to check it`);
  }
}

/** Whether an entry's key file is missing, so a key will surely be needed (a kubeconfig holds its own). */
const needsNewKey = (entry: CatalogEntry, raw: RawEntry) => !(entry.kind === "kubeconfig" ? raw.kubeconfig : raw.key);

interface RawEntry {
  cert?: Buffer;
  key?: Buffer;
  publicKey?: Buffer;
  conf?: Buffer;
  kubeconfig?: Buffer;
}

async function readEntries(entries: readonly CatalogEntry[], store: PkiStore, kubeconfigStore: PkiStore, withConf: boolean) {
  const raw = new Map<string, RawEntry>();
  for (const entry of entries) {
    if (entry.kind === "cert") {
      raw.set(entry.name, {
        cert: await store.read(certFile(entry)),
        key: await store.read(keyFile(entry)),
        conf: withConf && entry.ca ? await store.read(confFile(entry)) : undefined,
      });
    } else if (entry.kind === "keypair") {
      raw.set(entry.name, { key: await store.read(entry.keyFile), publicKey: await store.read(entry.publicKeyFile) });
    } else {
      // A kubeconfig holds its own key: generate one when the file is missing.
      const kubeconfig = await kubeconfigStore.read(entry.file);
      raw.set(entry.name, { kubeconfig });
    }
  }
  return raw;
}

type X509Modules = Awaited<ReturnType<typeof loadX509Modules>>;

function loadX509Modules() {
  return Promise.all([import("./certinfo.js"), import("./csr.js"), import("./sign.js"), import("./opensslconf.js"), import("./kubeconfig.js")]).then(
    ([certinfo, csr, sign, opensslconf, kubeconfig]) => ({ ...certinfo, ...csr, ...sign, ...opensslconf, ...kubeconfig }),
  );
}

async function parseEntries(entries: readonly CatalogEntry[], raw: Map<string, RawEntry>, store: PkiStore, kubeconfigStore: PkiStore, x509: X509Modules) {
  const existing = new Map<string, ExistingEntry>();
  for (const entry of entries) {
    const files = raw.get(entry.name)!;
    if (entry.kind === "cert") {
      const present = Boolean(files.cert || files.key);
      try {
        existing.set(entry.name, {
          present,
          cert: files.cert ? x509.parseCertificate(files.cert, store.path(certFile(entry))) : undefined,
          key: files.key ? await parsePrivateKeyPem(files.key, store.path(keyFile(entry))) : undefined,
        });
      } catch (error) {
        // A damaged CA stops everything; a damaged leaf is one more thing --force re-issues.
        if (!(error instanceof KpkiError) || !entry.ca) throw error;
        existing.set(entry.name, { present, unreadable: error.message });
      }
    } else if (entry.kind === "keypair") {
      const key = files.key ? await parsePrivateKeyPem(files.key, store.path(entry.keyFile)) : undefined;
      let publicKey: ExistingEntry["publicKey"];
      if (key && files.publicKey) {
        const { checkPublicKeyShape } = await import("./keyshape.js");
        let matches = false;
        try {
          const spki = pemBlock(files.publicKey.toString("latin1"), "PUBLIC KEY");
          if (!spki) throw inputError("not a PEM public key");
          checkPublicKeyShape(spki, store.path(entry.publicKeyFile)); // before OpenSSL sees it: see keyshape.ts
          matches = createPublicKey({ key: spki, format: "der", type: "spki" }).export({ type: "spki", format: "der" }).equals(createPublicKey(key.privateKeyObject).export({ type: "spki", format: "der" }));
        } catch {
          matches = false;
        }
        publicKey = matches ? "matches" : "differs";
      }
      existing.set(entry.name, { present: Boolean(files.key), key, publicKey });
    } else if (files.kubeconfig) {
      const label = kubeconfigStore.path(entry.file);
      try {
        const loaded = x509.parseKubeconfig(files.kubeconfig.toString(), label, { baseDir: kubeconfigStore.dir });
        if (!loaded.clientCertPem || !loaded.clientKeyPem || !loaded.caPem) throw new KpkiError("input", "it has no embedded client certificate, key and CA");
        existing.set(entry.name, {
          present: true,
          cert: x509.parseCertificate(loaded.clientCertPem, `${label} client certificate`),
          key: await parsePrivateKeyPem(loaded.clientKeyPem, `${label} client key`),
          kubeconfig: { server: loaded.server, cluster: loaded.clusterName, caCert: x509.parseCertificate(loaded.caPem, `${label} CA`) },
        });
      } catch (error) {
        if (!(error instanceof KpkiError)) throw error;
        existing.set(entry.name, { present: true, unreadable: `cannot be used (${error.message.replace(`${label}: `, "")})` });
      }
    } else {
      existing.set(entry.name, { present: false });
    }
  }
  return existing;
}

interface IssueContext {
  spec: ClusterSpec;
  now: Date;
  dryRun: boolean;
  raw: RawEntry;
  keyFor: (entry: CatalogEntry) => Promise<KeyPair>;
  issued: Map<string, Promise<Issued>>;
  modules: X509Modules;
  emitOpensslConf: boolean;
  store: PkiStore;
}

const actionOf = (decision: Decision): EntryAction =>
  decision.kind === "blocked"
    ? decision.fix === "force" ? "needs-force" : "refused"
    : (({ keep: "kept", create: "created", reissue: "reissued", "sign-with-existing-key": "signed", "write-public-key": "completed" }) as const)[decision.kind];

/** Carries out one entry's decision: its key, certificate and files, and its line of the report. */
async function issueEntry(entry: CatalogEntry, decision: Decision, context: IssueContext) {
  const { spec, now, dryRun, raw, modules } = context;
  const report: EntryReport = {
    name: entry.name,
    kind: entry.kind,
    action: actionOf(decision),
    reasons: "reasons" in decision ? decision.reasons : [],
    files: [],
    altNames: [],
    warnings: [],
  };
  const writes: FileWrite[] = [];
  const kubeconfigWrites: FileWrite[] = [];
  const fileAction = (had: unknown): FileAction => (had ? "replaced" : "created");
  let issued: Issued = decision.kind === "keep" ? { cert: decision.cert, key: decision.key } : {};

  if (decision.kind === "blocked") {
    // Only a dry run gets here (a real run stops at the plan): its files stay as they are.
    const files = entry.kind === "keypair" ? [entry.keyFile, entry.publicKeyFile] : entry.kind === "cert" ? [keyFile(entry), certFile(entry)] : [entry.file];
    report.files.push(...files.map((file) => ({ file, action: "kept" as const })));
    if (entry.kind !== "keypair") {
      const wanted = wantedCert(entry, spec);
      report.subject = formatSubject(wanted.subject);
      report.altNames = altNameList(wanted.altNames).map(formatAltName);
    }
    return { report, writes, kubeconfigWrites, issued };
  }

  if (entry.kind === "keypair") {
    const keyAction: FileAction = decision.kind === "create" ? fileAction(raw.key) : "kept";
    report.files.push({ file: entry.keyFile, action: keyAction }, { file: entry.publicKeyFile, action: decision.kind === "keep" ? "kept" : fileAction(raw.publicKey) });
    if (!dryRun && decision.kind !== "keep") {
      const key = decision.kind === "write-public-key" ? decision.key : await context.keyFor(entry);
      if (keyAction !== "kept") writes.push({ file: entry.keyFile, data: encodePrivateKeyPem(key), mode: MODES.key });
      writes.push({ file: entry.publicKeyFile, data: encodePublicKeyPem(key), mode: MODES.publicKey });
    }
    return { report, writes, kubeconfigWrites, issued };
  }

  const wanted = wantedCert(entry, spec);
  report.subject = formatSubject(wanted.subject);
  report.altNames = altNameList(wanted.altNames).map(formatAltName);
  if (entry.kind === "kubeconfig") report.server = entry.server(spec);

  if (entry.kind === "cert") {
    if (decision.kind === "keep") {
      report.files.push({ file: certFile(entry), action: "kept" });
      if (decision.key) report.files.push({ file: keyFile(entry), action: "kept" });
    } else {
      report.files.push(
        { file: keyFile(entry), action: decision.kind === "sign-with-existing-key" ? "kept" : fileAction(raw.key) },
        { file: certFile(entry), action: fileAction(raw.cert) },
      );
      if (entry.writesCsr) report.files.push({ file: csrFile(entry), action: fileAction(await context.store.exists(csrFile(entry))) });
    }
  } else {
    report.files.push({ file: entry.file, action: decision.kind === "keep" ? "kept" : fileAction(raw.kubeconfig) });
  }

  if (decision.kind !== "keep" && !dryRun) {
    const [key, issuer] = await Promise.all([
      decision.kind === "sign-with-existing-key" ? decision.key : context.keyFor(entry),
      entry.ca ? context.issued.get(entry.ca)! : undefined,
    ]);
    const validity = { days: entry.validityDays(spec), now };
    let cert: CertInfo;
    if (!entry.ca) {
      cert = (await modules.createSelfSignedCa(key, wanted.subject, wanted.altNames, validity)).cert;
    } else {
      const profile = entry.kind === "cert" ? entry.profile : PROFILES.client;
      const ca = issuer as Required<Issued>;
      // The key is in hand: it is signed directly, the certificate being what signing its CSR would give.
      const signed = modules.signNewKey(key, wanted.subject, wanted.altNames, ca, profile, validity);
      if (entry.kind === "cert" && entry.writesCsr) writes.push({ file: csrFile(entry), data: modules.buildCsrPem(key, wanted.subject, wanted.altNames), mode: MODES.csr });
      cert = signed.cert;
      if (signed.clampedToIssuer) report.warnings.push(`cut to the CA's expiry, ${cert.notAfter.toISOString()}: the CA ends before ${validity.days} days`);
    }
    issued = { cert, key };
    if (entry.kind === "cert") {
      if (decision.kind !== "sign-with-existing-key") writes.push({ file: keyFile(entry), data: encodePrivateKeyPem(key), mode: MODES.key });
      writes.push({ file: certFile(entry), data: cert.pem, mode: MODES.cert });
    } else {
      kubeconfigWrites.push({ file: entry.file, data: renderKubeconfigFor(entry, spec, cert, key, issuer!.cert!, modules), mode: MODES.kubeconfig });
    }
  }

  const cert = issued.cert;
  if (cert) {
    report.subject = cert.subject;
    report.altNames = altNameList(cert.altNames).map(formatAltName);
    report.notAfter = cert.notAfter.toISOString();
    report.sha256Fingerprint = cert.sha256Fingerprint;
  }
  if (context.emitOpensslConf && entry.kind === "cert" && entry.ca && cert) {
    const text = modules.renderOpensslConf(cert, entry.profile, entry.baseName, (catalogEntry(entry.ca) as CertEntry).baseName);
    if (raw.conf?.toString() === text) report.files.push({ file: confFile(entry), action: "kept" });
    else {
      report.files.push({ file: confFile(entry), action: fileAction(raw.conf) });
      writes.push({ file: confFile(entry), data: text, mode: MODES.config });
    }
  }
  return { report, writes, kubeconfigWrites, issued };
}

function renderKubeconfigFor(entry: KubeconfigEntry, spec: ClusterSpec, cert: CertInfo, key: KeyPair, ca: CertInfo, modules: X509Modules): string {
  return modules.renderKubeconfig({
    cluster: spec.clusterName,
    server: entry.server(spec),
    caPem: ca.pem,
    user: cert.commonName,
    clientCertPem: cert.pem,
    clientKeyPem: encodePrivateKeyPem(key),
  });
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
