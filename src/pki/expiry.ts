import { CERTS } from "./catalog.js";
import type { InventoryItem } from "./inventory.js";

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

/** "30d", "12h", "2w", "1y", "90m", "45s" → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = text.trim().match(/^(\d+)(s|m|h|d|w|y)$/);
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 }[match[2] as "s"]!;
  return Number(match[1]) * unit * 1000;
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
    return {
      name: item.entry.name,
      file: item.path,
      expires: item.cert.notAfter.toISOString(),
      residualSeconds: Math.trunc(left / 1000),
      residual: shortHumanDuration(left),
      certificateAuthority: ca,
      externallyManaged,
      missing: false,
      needsAttention: left <= failWithinMs,
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
