import { certFile, CERTS, KUBECONFIGS, keyFile, type CertEntry, type KubeconfigEntry } from "./catalog.js";
import { parseCertificate, type CertInfo } from "./certinfo.js";
import { KpkiError } from "../errors.js";
import { parseKubeconfig } from "./kubeconfig.js";
import type { PkiStore } from "./store.js";

/** One catalog certificate (or kubeconfig client certificate) as found on disk. */
export interface InventoryItem {
  entry: CertEntry | KubeconfigEntry;
  /** The file a user would look at. */
  path: string;
  missing: boolean;
  cert?: CertInfo;
  keyPresent: boolean;
  /** Why the file could not be read, when it could not. */
  error?: string;
  /** A kubeconfig's text, for renewal in place. */
  kubeconfigText?: string;
}

/**
 * Reads every certificate of the catalog from a PKI folder (kpki's or
 * kubeadm's /etc/kubernetes layout). A damaged file is reported on its item,
 * never thrown, so one bad file does not hide the others.
 */
export async function readInventory(store: PkiStore, kubeconfigStore: PkiStore): Promise<Map<string, InventoryItem>> {
  const items = new Map<string, InventoryItem>();
  for (const entry of CERTS) {
    const path = store.path(certFile(entry));
    const item: InventoryItem = { entry, path, missing: false, keyPresent: await store.exists(keyFile(entry)) };
    try {
      const data = await store.read(certFile(entry));
      if (!data) item.missing = true;
      else item.cert = parseCertificate(data, path);
    } catch (error) {
      item.error = describe(error);
    }
    items.set(entry.name, item);
  }
  for (const entry of KUBECONFIGS) {
    const path = kubeconfigStore.path(entry.file);
    const item: InventoryItem = { entry, path, missing: false, keyPresent: false };
    try {
      const data = await kubeconfigStore.read(entry.file);
      if (!data) item.missing = true;
      else {
        item.kubeconfigText = data.toString();
        const loaded = parseKubeconfig(item.kubeconfigText, path, { baseDir: kubeconfigStore.dir });
        if (!loaded.clientCertPem) throw new KpkiError("input", `${path} has no client certificate`);
        item.cert = parseCertificate(loaded.clientCertPem, `${path} client certificate`);
        item.keyPresent = Boolean(loaded.clientKeyPem);
      }
    } catch (error) {
      item.error = describe(error);
    }
    items.set(entry.name, item);
  }
  return items;
}

function describe(error: unknown): string {
  if (error instanceof KpkiError) return error.message;
  throw error;
}
