import { KpkiError } from "../errors.js";
import type { AltNames } from "./names.js";
import { PROFILES, type ExtendedKeyUsageName, type Profile } from "./profiles.js";
import type { Subject } from "./subject.js";
import { apiServerAltNames, clusterServerUrl, etcdAltNames, kubeadmApiServerAltNames, localServerUrl, type ClusterSpec } from "./spec.js";

/**
 * The cluster PKI as data, after kubeadm's certlist.go (newest, v1.29+
 * subjects): one record per certificate, key pair and kubeconfig; what
 * depends on the cluster is a small function of the spec. `init`, `renew`,
 * `check-expiration` and the README's table all read these lists.
 */
export interface CertEntry {
  kind: "cert";
  /** kubeadm's name for it, e.g. "apiserver". */
  name: string;
  description: string;
  /** Path of .crt/.key under the PKI folder, without extension. */
  baseName: string;
  /** The entry that signs it; undefined for a self-signed CA. */
  ca?: string;
  /** Belongs to the local etcd: left out with --external-etcd. */
  etcd?: boolean;
  /** Also keep the CSR the certificate was signed from (<baseName>.csr). */
  writesCsr?: boolean;
  profile: Profile;
  subject: (spec: ClusterSpec) => Subject;
  altNames: (spec: ClusterSpec) => AltNames;
  validityDays: (spec: ClusterSpec) => number;
  /** Control-plane components that read it and must restart after a renewal. */
  usedBy: readonly Component[];
  /**
   * What an existing certificate needs to be kept, where kpki issues more
   * than kubeadm does: a kubeadm-made certificate is then kept, not re-issued.
   */
  keptWith?: { usages: readonly ExtendedKeyUsageName[]; altNames: (spec: ClusterSpec) => AltNames };
}

export type Component = "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "etcd" | "kubelet";

/** A bare key pair: the service-account signing key. */
export interface KeyPairEntry {
  kind: "keypair";
  name: string;
  description: string;
  keyFile: string;
  publicKeyFile: string;
}

/** A kubeconfig with an embedded client certificate, beside the PKI folder as in /etc/kubernetes. */
export interface KubeconfigEntry {
  kind: "kubeconfig";
  name: string;
  description: string;
  file: string;
  ca: string;
  subject: (spec: ClusterSpec) => Subject;
  server: (spec: ClusterSpec) => string;
  validityDays: (spec: ClusterSpec) => number;
  usedBy: readonly Component[];
  /** kubeadm leaves it out of check-expiration and renew: the kubelet rotates its own client certificate. */
  rotatedByKubelet?: boolean;
}

export type CatalogEntry = CertEntry | KeyPairEntry | KubeconfigEntry;

const none = (): AltNames => ({ dns: [], ips: [] });
const leafDays = (spec: ClusterSpec) => spec.days;
const caDays = (spec: ClusterSpec) => spec.caDays;
const named = (commonName: string, ...organizations: string[]) => () => ({ commonName, organizations });
const nodeNamed = (spec: ClusterSpec) => ({ commonName: spec.nodeName, organizations: [] });
const selfNamed = (commonName: string) => () => ({ dns: [commonName], ips: [] });

export const CERTS: readonly CertEntry[] = [
  {
    kind: "cert",
    name: "ca",
    usedBy: ["kube-apiserver", "kube-controller-manager", "kubelet"],
    description: "Kubernetes CA: signs the API server, its kubelet client and the kubeconfigs",
    baseName: "ca",
    profile: PROFILES.ca,
    subject: (spec) => ({ commonName: spec.caCommonName, organizations: [] }),
    // kubeadm gives its CAs a DNS SAN equal to the CN; none when the CN is no host name.
    altNames: (spec) => spec.caAltNames,
    validityDays: caDays,
  },
  {
    kind: "cert",
    name: "apiserver",
    usedBy: ["kube-apiserver"],
    description: "serving certificate of kube-apiserver",
    baseName: "apiserver",
    ca: "ca",
    writesCsr: true,
    // serverAuth + clientAuth, as the Kubernetes docs' csr.conf grants (kubeadm grants serverAuth only).
    profile: PROFILES.peer,
    subject: named("kube-apiserver"),
    altNames: apiServerAltNames,
    keptWith: { usages: ["serverAuth"], altNames: kubeadmApiServerAltNames },
    validityDays: leafDays,
  },
  {
    kind: "cert",
    name: "apiserver-kubelet-client",
    usedBy: ["kube-apiserver"],
    description: "client certificate kube-apiserver uses to reach kubelets",
    baseName: "apiserver-kubelet-client",
    ca: "ca",
    profile: PROFILES.client,
    // kubeadm v1.29+: kubeadm:cluster-admins (was system:masters).
    subject: named("kube-apiserver-kubelet-client", "kubeadm:cluster-admins"),
    altNames: none,
    validityDays: leafDays,
  },
  {
    kind: "cert",
    name: "front-proxy-ca",
    usedBy: ["kube-apiserver", "kube-controller-manager"],
    description: "CA of the front proxy (API aggregation)",
    baseName: "front-proxy-ca",
    profile: PROFILES.ca,
    subject: named("front-proxy-ca"),
    altNames: selfNamed("front-proxy-ca"),
    validityDays: caDays,
  },
  {
    kind: "cert",
    name: "front-proxy-client",
    usedBy: ["kube-apiserver"],
    description: "client certificate of the front proxy",
    baseName: "front-proxy-client",
    ca: "front-proxy-ca",
    profile: PROFILES.client,
    subject: named("front-proxy-client"),
    altNames: none,
    validityDays: leafDays,
  },
  {
    kind: "cert",
    name: "etcd-ca",
    usedBy: ["etcd", "kube-apiserver"],
    description: "CA of etcd: signs its serving, peer and client certificates",
    baseName: "etcd/ca",
    etcd: true,
    profile: PROFILES.ca,
    subject: named("etcd-ca"),
    altNames: selfNamed("etcd-ca"),
    validityDays: caDays,
  },
  {
    kind: "cert",
    name: "etcd-server",
    usedBy: ["etcd"],
    description: "serving certificate of etcd",
    baseName: "etcd/server",
    ca: "etcd-ca",
    etcd: true,
    profile: PROFILES.peer,
    subject: nodeNamed,
    altNames: etcdAltNames,
    validityDays: leafDays,
  },
  {
    kind: "cert",
    name: "etcd-peer",
    usedBy: ["etcd"],
    description: "certificate etcd members use to talk to each other",
    baseName: "etcd/peer",
    ca: "etcd-ca",
    etcd: true,
    profile: PROFILES.peer,
    subject: nodeNamed,
    altNames: etcdAltNames,
    validityDays: leafDays,
  },
  {
    kind: "cert",
    name: "etcd-healthcheck-client",
    usedBy: [],
    description: "client certificate for etcd's liveness probe",
    baseName: "etcd/healthcheck-client",
    ca: "etcd-ca",
    etcd: true,
    profile: PROFILES.client,
    subject: named("kube-etcd-healthcheck-client"),
    altNames: none,
    validityDays: leafDays,
  },
  {
    kind: "cert",
    name: "apiserver-etcd-client",
    usedBy: ["kube-apiserver"],
    description: "client certificate kube-apiserver uses to reach etcd",
    baseName: "apiserver-etcd-client",
    ca: "etcd-ca",
    etcd: true,
    profile: PROFILES.client,
    // kubeadm v1.29+: no organization (was system:masters).
    subject: named("kube-apiserver-etcd-client"),
    altNames: none,
    validityDays: leafDays,
  },
];

export const KEY_PAIRS: readonly KeyPairEntry[] = [
  {
    kind: "keypair",
    name: "sa",
    description: "service-account token signing key (never renewed: tokens signed with it would stop working)",
    keyFile: "sa.key",
    publicKeyFile: "sa.pub",
  },
];

const kubeconfig = (
  name: string,
  description: string,
  subject: (spec: ClusterSpec) => Subject,
  server: (spec: ClusterSpec) => string,
  usedBy: readonly Component[],
  extra: Partial<KubeconfigEntry> = {},
): KubeconfigEntry => ({ kind: "kubeconfig", name, description, file: name, ca: "ca", subject, server, usedBy, validityDays: leafDays, ...extra });

export const KUBECONFIGS: readonly KubeconfigEntry[] = [
  kubeconfig("admin.conf", "cluster administrator (group kubeadm:cluster-admins, bound to cluster-admin)", named("kubernetes-admin", "kubeadm:cluster-admins"), clusterServerUrl, []),
  kubeconfig("super-admin.conf", "break-glass administrator in system:masters, which RBAC cannot revoke", named("kubernetes-super-admin", "system:masters"), clusterServerUrl, []),
  kubeconfig("kubelet.conf", "the control-plane node's kubelet", (spec) => ({ commonName: `system:node:${spec.nodeName}`, organizations: ["system:nodes"] }), clusterServerUrl, ["kubelet"], {
    rotatedByKubelet: true,
  }),
  kubeconfig("controller-manager.conf", "kube-controller-manager", named("system:kube-controller-manager"), localServerUrl, ["kube-controller-manager"]),
  kubeconfig("scheduler.conf", "kube-scheduler", named("system:kube-scheduler"), localServerUrl, ["kube-scheduler"]),
];

export const CATALOG: readonly CatalogEntry[] = [...CERTS, ...KEY_PAIRS, ...KUBECONFIGS];

export function catalogEntry(name: string): CatalogEntry | undefined {
  return CATALOG.find((entry) => entry.name === name);
}

export const certFile = (entry: CertEntry) => `${entry.baseName}.crt`;
export const keyFile = (entry: CertEntry) => `${entry.baseName}.key`;
export const csrFile = (entry: CertEntry) => `${entry.baseName}.csr`;

/**
 * The entries `init` makes: everything, or the names in `only` plus the CAs
 * they need; etcd's left out for an external etcd.
 */
export function selectEntries(options: { only?: readonly string[]; externalEtcd?: boolean }): CatalogEntry[] {
  const available = CATALOG.filter((entry) => !(options.externalEtcd && entry.kind === "cert" && entry.etcd));
  if (!options.only || options.only.length === 0) return [...available];
  const wanted = new Set<string>();
  for (const name of options.only) {
    const entry = available.find((candidate) => candidate.name === name);
    if (!entry) {
      const reason = catalogEntry(name) ? "is an etcd certificate, and --external-etcd leaves those out" : "is not in kpki's catalog";
      throw new KpkiError("usage", `--only ${name} ${reason}; the names are: ${available.map((e) => e.name).join(", ")}`);
    }
    wanted.add(entry.name);
    if (entry.kind !== "keypair" && entry.ca) wanted.add(entry.ca);
  }
  return available.filter((entry) => wanted.has(entry.name));
}
