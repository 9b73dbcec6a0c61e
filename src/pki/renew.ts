import { parseBoundedYaml } from "../inputbounds.js";
import { KpkiError, inputError } from "../errors.js";
import { CERTS, KUBECONFIGS, catalogEntry, certFile, csrFile, keyFile, type Component, type CertEntry, type KubeconfigEntry } from "./catalog.js";
import type { CertInfo } from "./certinfo.js";
import { buildCsr } from "./csr.js";
import { readInventory, type InventoryItem } from "./inventory.js";
import type { Keygen } from "./keygen.js";
import { encodePrivateKeyPem, keyTypeOf, type KeyPair, type KeyType } from "./keys.js";
import { takeKeyPair } from "./keypool.js";
import { PROFILES, type Profile } from "./profiles.js";
import { signCsr } from "./sign.js";
import { openClusterLayout, type ClusterLayoutOptions } from "./layout.js";
import { MODES, PkiStore, type FileWrite } from "./store.js";
import { anotherClusterMessage, issuedBy } from "./ownership.js";
import { loadSigner, type Signer } from "./signer.js";

/** What `certs renew` can renew: leaf certificates and kubeconfigs, as in kubeadm (no CAs, no sa, no kubelet.conf). */
export const RENEWABLE: readonly (CertEntry | KubeconfigEntry)[] = [
  ...CERTS.filter((entry) => entry.ca),
  ...KUBECONFIGS.filter((entry) => !entry.rotatedByKubelet),
];

export interface RenewOptions extends ClusterLayoutOptions {
  /** Catalog names, or ["all"]. */
  names: readonly string[];
  days: number;
  /** Key type of the new keys; by default the type of each key being replaced. */
  keyType?: KeyType;
  /** How new RSA keys are made (default: from primes). */
  keygen?: Keygen;
  now?: Date;
}

export interface RenewedItem {
  name: string;
  file: string;
  subject: string;
  notAfter: string;
  sha256Fingerprint: string;
}

/** What renew left alone, as kubeadm reports it: "MISSING! <name>", "Detected external <ca>, <name> can't be renewed". */
export interface SkippedItem {
  name: string;
  file: string;
  reason: "missing" | "external-ca";
  /** The externally managed CA, for "external-ca". */
  ca?: string;
}

export interface RenewReport {
  renewed: RenewedItem[];
  skipped: SkippedItem[];
  /** Components to restart so they load the new certificates. */
  restart: Component[];
}

function why(name: string): string {
  const entry = catalogEntry(name);
  if (!entry) return `"${name}" is not in kpki's catalog; renewable: ${RENEWABLE.map((e) => e.name).join(", ")}, all`;
  if (entry.kind === "keypair") return `${name} is a key pair, not a certificate: it is never renewed (tokens signed with it would stop working)`;
  if (entry.kind === "cert") return `${name} is a CA: kpki never renews CAs (kubeadm neither); replacing a CA means re-issuing everything it signed`;
  return `${name} is not renewed: the kubelet rotates its own client certificate`;
}

/**
 * kubeadm's `certs renew`: a new key for each certificate, with subject, SANs
 * and extended key usages copied from the certificate being replaced (the
 * existing certificate is the source of truth, not a config), signed by the
 * CA on disk. All renewals are prepared first and written together, so a
 * failure changes nothing.
 */
export async function renewCerts(options: RenewOptions): Promise<RenewReport> {
  const now = options.now ?? new Date();
  // Every name is checked, "all" among them: a typo renews nothing.
  const named = options.names.filter((name) => name !== "all").map((name) => RENEWABLE.find((entry) => entry.name === name) ?? failWith(why(name)));
  const wanted = options.names.includes("all") ? RENEWABLE : named;
  const layout = await openClusterLayout(options);
  const store = new PkiStore(layout.certDir, layout.certDirFlag);
  if ((await store.checkFolder()) === "missing") throw inputError(`${store.dir} does not exist: give the cluster folder with --dir, or run kpki init first`);
  const kubeconfigStore = new PkiStore(layout.kubeconfigDir, layout.kubeconfigDirFlag);
  const unlock = await store.lock();
  await store.recover([kubeconfigStore.dir]).catch(async (error) => {
    await unlock();
    throw error;
  });
  try {
    const inventory = await readInventory(store, kubeconfigStore);
    // As kubeadm: a missing file, or one whose CA is externally managed (no
    // key), is reported and skipped; every other problem stops the run.
    const skipped: SkippedItem[] = [];
    const all = options.names.includes("all");
    const targets: (CertEntry | KubeconfigEntry)[] = [];
    // "all" with an external etcd: no etcd certificates to speak of.
    const noEtcd = CERTS.filter((entry) => entry.etcd).every((entry) => inventory.get(entry.name)?.missing);
    const signers = new Map<string, Signer>();
    for (const entry of wanted) {
      const item = inventory.get(entry.name)!;
      const caItem = inventory.get(entry.ca!)!;
      if (item.missing) {
        if (all && noEtcd && entry.kind === "cert" && entry.etcd) continue;
        skipped.push({ name: entry.name, file: item.path, reason: "missing" });
        continue;
      }
      if (item.error) throw inputError(`cannot renew ${entry.name}: ${item.error}`);
      if (caItem.cert && !caItem.keyPresent) {
        skipped.push({ name: entry.name, file: item.path, reason: "external-ca", ca: entry.ca });
        continue;
      }
      if (!signers.has(entry.ca!)) signers.set(entry.ca!, await signerFor(store, caItem, entry.name));
      const signer = signers.get(entry.ca!)!;
      // Re-signing another cluster's file with this CA would leave it working for neither.
      if (!issuedBy(item.cert!, signer.cert)) throw inputError(anotherClusterMessage(item.path, item.cert!, caItem.path));
      targets.push(entry);
    }
    const prepared = await Promise.all(
      targets.map(async (entry) => {
        const item = inventory.get(entry.name)!;
        const old = item.cert!;
        const keyType = options.keyType ?? keyTypeOf(await currentPublicKey(item)) ?? "rsa-2048";
        const key = await takeKeyPair(keyType, options.keygen);
        const csr = await buildCsr(key, { commonName: old.commonName, organizations: old.organizations }, old.altNames);
        const { cert } = await signCsr(csr, signers.get(entry.ca!)!, profileFor(old), { days: options.days, now });
        return { entry, item, key, cert, csrPem: csr.pem };
      }),
    );
    const writes: FileWrite[] = [];
    const kubeconfigWrites: FileWrite[] = [];
    for (const { entry, item, key, cert, csrPem } of prepared) {
      if (entry.kind === "cert") {
        writes.push({ file: keyFile(entry), data: encodePrivateKeyPem(key), mode: MODES.key });
        if (entry.writesCsr && (await store.exists(csrFile(entry)))) writes.push({ file: csrFile(entry), data: csrPem, mode: MODES.csr });
        writes.push({ file: certFile(entry), data: cert.pem, mode: MODES.cert });
      } else {
        kubeconfigWrites.push({ file: entry.file, data: replaceCredentials(item, cert, key, signers.get(entry.ca!)!.cert), mode: MODES.kubeconfig });
      }
    }
    await store.writeAll(writes, [{ store: kubeconfigStore, writes: kubeconfigWrites }]);
    const restart = new Set<Component>(prepared.flatMap(({ entry }) => entry.usedBy));
    return {
      renewed: prepared.map(({ item, cert }) => ({
        name: item.entry.name,
        file: item.path,
        subject: cert.subject,
        notAfter: cert.notAfter.toISOString(),
        sha256Fingerprint: cert.sha256Fingerprint,
      })),
      skipped,
      restart: [...restart].filter((component) => component !== "kubelet"),
    };
  } finally {
    await unlock();
  }
}

function failWith(message: string): never {
  throw new KpkiError("usage", message);
}

async function signerFor(store: PkiStore, ca: InventoryItem, forName: string): Promise<Signer> {
  const caEntry = ca.entry as CertEntry;
  if (ca.error) throw inputError(`cannot renew ${forName}: ${ca.error}`);
  try {
    return await loadSigner(
      { cert: await store.read(certFile(caEntry)), key: await store.read(keyFile(caEntry)) },
      { cert: store.path(certFile(caEntry)), key: store.path(keyFile(caEntry)) },
    );
  } catch (error) {
    if (error instanceof KpkiError) throw inputError(`cannot renew ${forName}: ${error.message}`);
    throw error;
  }
}

async function currentPublicKey(item: InventoryItem) {
  const { createPublicKey } = await import("node:crypto");
  const { spkiFromCertificateDer } = await import("./der.js");
  return createPublicKey({ key: Buffer.from(spkiFromCertificateDer(item.cert!.der)), format: "der", type: "spki" });
}

/** The profile whose usages the old certificate had: renew copies them. */
function profileFor(cert: CertInfo): Profile {
  const server = cert.extendedKeyUsages.includes("serverAuth");
  const client = cert.extendedKeyUsages.includes("clientAuth");
  if (server && client) return PROFILES.peer;
  if (server) return PROFILES.server;
  if (client) return PROFILES.client;
  throw inputError(`${cert.subject} has neither serverAuth nor clientAuth; kpki renews only TLS certificates`);
}

/**
 * Rewrites only the current context's client-certificate-data and
 * client-key-data, and its cluster's certificate-authority-data (the CA on
 * disk, as kubeadm refreshes it); the rest of the kubeconfig stays as it was.
 */
function replaceCredentials(item: InventoryItem, cert: CertInfo, key: KeyPair, ca: CertInfo): string {
  const document = parseBoundedYaml(item.kubeconfigText!, item.path, { prettyErrors: true });
  const contextName = String(document.get("current-context"));
  const contexts = (document.toJS().contexts ?? []) as { name: string; context: { user: string; cluster: string } }[];
  const current = contexts.find((context) => context.name === contextName)?.context;
  const userName = current?.user;
  const clusters = (document.toJS().clusters ?? []) as { name: string }[];
  const clusterIndex = clusters.findIndex((cluster) => cluster.name === current?.cluster);
  if (clusterIndex >= 0) {
    const cluster = document.getIn(["clusters", clusterIndex, "cluster"], true) as { delete: (key: string) => void; set: (key: string, value: string) => void };
    cluster.delete("certificate-authority");
    cluster.set("certificate-authority-data", Buffer.from(ca.pem).toString("base64"));
  }
  const users = (document.toJS().users ?? []) as { name: string }[];
  const index = users.findIndex((user) => user.name === userName);
  if (index < 0) throw inputError(`${item.path}: its current context's user is not in its users list`);
  const user = document.getIn(["users", index, "user"], true) as { delete: (key: string) => void; set: (key: string, value: string) => void };
  // A file reference would now point at the old certificate: embed instead.
  user.delete("client-certificate");
  user.delete("client-key");
  user.set("client-certificate-data", Buffer.from(cert.pem).toString("base64"));
  user.set("client-key-data", Buffer.from(encodePrivateKeyPem(key)).toString("base64"));
  // Sequences unindented, as kubeadm, kubectl and kpki's template write them: only the two values change.
  return document.toString({ indentSeq: false, lineWidth: 0 });
}
