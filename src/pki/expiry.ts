import { parseGoDuration } from "../duration.js";
import { CERTS } from "./catalog.js";
import type { InventoryItem } from "./inventory.js";
import { anotherClusterMessage, issuedBy } from "./ownership.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (value: number) => String(value).padStart(2, "0");

/** kubeadm's date format: "Dec 30, 2020 23:36 UTC". */
export function formatExpiry(date: Date): string {
  return `${MONTHS[date.getUTCMonth()]} ${pad(date.getUTCDate())}, ${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

/** apimachinery's ShortHumanDuration, which kubeadm prints as RESIDUAL TIME ("364d", "9y", "<invalid>"). */
export function shortHumanDuration(milliseconds: number): string {
  const seconds = Math.trunc(milliseconds / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`;
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** "30d", "12h", "1.5h", "2h30m", "2w" → milliseconds (Go's syntax, plus d, w, y); undefined when not a duration or negative. */
export function parseDuration(text: string): number | undefined {
  const result = parseGoDuration(text);
  return "ms" in result ? result.ms : undefined;
}

export interface ExpiryRow {
  name: string;
  file: string;
  expires?: string;
  /** Seconds left (negative once expired). */
  residualSeconds?: number;
  residual?: string;
  certificateAuthority?: string;
  externallyManaged: boolean;
  missing: boolean;
  error?: string;
  /** Signed by another CA than this cluster's: the file belongs to another cluster. */
  anotherCluster?: string;
  /** Expired, missing, unreadable, or inside the --fail-within window. */
  needsAttention: boolean;
}

export interface ExpiryReport {
  certificates: ExpiryRow[];
  certificateAuthorities: ExpiryRow[];
}

/**
 * kubeadm's two tables: every leaf certificate and kubeconfig but
 * kubelet.conf (the kubelet rotates its own), then the CAs. A CA without its
 * key is externally managed, and so is everything it signs. etcd rows are
 * left out when the folder has no etcd/ at all (external etcd).
 */
export function expiryReport(items: ReadonlyMap<string, InventoryItem>, now: Date, failWithinMs = 0): ExpiryReport {
  const externalCa = new Set(CERTS.filter((entry) => !entry.ca && items.get(entry.name)?.cert && !items.get(entry.name)?.keyPresent).map((entry) => entry.name));
  const noEtcd = CERTS.filter((entry) => entry.etcd).every((entry) => items.get(entry.name)?.missing);
  const row = (item: InventoryItem): ExpiryRow => {
    const ca = item.entry.kind === "cert" ? item.entry.ca : item.entry.ca;
    const externallyManaged = ca ? externalCa.has(ca) : externalCa.has(item.entry.name);
    if (!item.cert) {
      return { name: item.entry.name, file: item.path, certificateAuthority: ca, externallyManaged, missing: item.missing, error: item.error, needsAttention: true };
    }
    const left = item.cert.notAfter.getTime() - now.getTime();
    const caItem = ca ? items.get(ca) : undefined;
    const anotherCluster = caItem?.cert && !issuedBy(item.cert, caItem.cert) ? anotherClusterMessage(item.path, item.cert, caItem.path) : undefined;
    return {
      name: item.entry.name,
      file: item.path,
      expires: item.cert.notAfter.toISOString(),
      residualSeconds: Math.trunc(left / 1000),
      residual: shortHumanDuration(left),
      certificateAuthority: ca,
      externallyManaged,
      missing: false,
      ...(anotherCluster ? { anotherCluster } : {}),
      needsAttention: left <= failWithinMs || anotherCluster !== undefined,
    };
  };
  const byName = (a: ExpiryRow, b: ExpiryRow) => a.name.localeCompare(b.name);
  const shown = [...items.values()].filter((item) => !(noEtcd && item.entry.kind === "cert" && item.entry.etcd));
  return {
    certificates: shown
      .filter((item) => (item.entry.kind === "cert" ? Boolean(item.entry.ca) : !item.entry.rotatedByKubelet))
      .map(row)
      .sort(byName),
    certificateAuthorities: shown.filter((item) => item.entry.kind === "cert" && !item.entry.ca).map(row).sort(byName),
  };
}

/** One row of kubeadm's output.kubeadm.k8s.io/v1alpha3 Certificate. */
export interface KubeadmCertificate {
  name: string;
  expirationDate: string | null;
  residualTime: number;
  externallyManaged: boolean;
  caName?: string;
  missing: boolean;
}

/**
 * `kubeadm certs check-expiration -o json`, field for field
 * (cmd/kubeadm/app/apis/output/v1alpha3): a missing or unreadable file is a
 * row with only its name and missing: true, as kubeadm writes it.
 */
export function kubeadmExpirationInfo(report: ExpiryReport) {
  const row = (item: ExpiryRow): KubeadmCertificate =>
    item.expires
      ? {
          name: item.name,
          expirationDate: item.expires.replace(/\.\d+Z$/, "Z"),
          residualTime: item.residualSeconds!,
          externallyManaged: item.externallyManaged,
          ...(item.certificateAuthority ? { caName: item.certificateAuthority } : {}),
          missing: false,
        }
      : { name: item.name, expirationDate: null, residualTime: 0, externallyManaged: false, missing: true };
  return {
    kind: "CertificateExpirationInfo",
    apiVersion: "output.kubeadm.k8s.io/v1alpha3",
    certificates: report.certificates.map(row),
    certificateAuthorities: report.certificateAuthorities.map(row),
  };
}
