import type { AltNames } from "./names.js";
import { PROFILES, type Profile } from "./profiles.js";
import type { Subject } from "./subject.js";
import type { ClusterSpec } from "./spec.js";
import { apiServerAltNames } from "./spec.js";

/**
 * One certificate of the cluster PKI, as in kubeadm's certlist.go: data
 * first; what depends on the cluster is a small function of the spec.
 * `init`, inspection and the README's table all read this list.
 */
export interface CertEntry {
  /** kubeadm's name for it, e.g. "apiserver". */
  name: string;
  description: string;
  /** Path of .crt/.key/.csr under the PKI folder, without extension. */
  baseName: string;
  /** The entry that signs it; undefined for a self-signed CA. */
  ca?: string;
  profile: Profile;
  subject: (spec: ClusterSpec) => Subject;
  altNames: (spec: ClusterSpec) => AltNames;
  validityDays: (spec: ClusterSpec) => number;
}

export const CATALOG: readonly CertEntry[] = [
  {
    name: "ca",
    description: "self-signed Kubernetes CA: signs the API server and client certificates",
    baseName: "ca",
    profile: PROFILES.ca,
    subject: (spec) => ({ commonName: spec.caCommonName, organizations: [] }),
    // kubeadm gives its CAs a DNS SAN equal to the CN; skipped when the CN is not a host name.
    altNames: (spec) => spec.caAltNames,
    validityDays: (spec) => spec.caDays,
  },
  {
    name: "apiserver",
    description: "serving certificate of kube-apiserver",
    baseName: "apiserver",
    ca: "ca",
    profile: PROFILES.peer,
    subject: () => ({ commonName: "kube-apiserver", organizations: [] }),
    altNames: apiServerAltNames,
    validityDays: (spec) => spec.days,
  },
];

export function catalogEntry(name: string): CertEntry | undefined {
  return CATALOG.find((entry) => entry.name === name);
}

export const certFile = (entry: CertEntry) => `${entry.baseName}.crt`;
export const keyFile = (entry: CertEntry) => `${entry.baseName}.key`;
export const csrFile = (entry: CertEntry) => `${entry.baseName}.csr`;

