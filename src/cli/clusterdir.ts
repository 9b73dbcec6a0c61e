import { KpkiError } from "../errors.js";
import { openClusterLayout, type ClusterLayout } from "../pki/layout.js";

/**
 * The same three flags on every command that reads or writes a cluster: one
 * cluster, one folder. No yargs defaults, so init's --config can fill them.
 */
export const clusterDirOptions = {
  dir: { type: "string", describe: "the cluster folder, laid out like /etc/kubernetes: pki/ and the *.conf kubeconfigs [default: ./kubernetes]" },
  "cert-dir": { type: "string", describe: "where the certificates and keys are, when not <dir>/pki (kubeadm's --cert-dir)" },
  "kubeconfig-dir": { type: "string", describe: "where the kubeconfigs are, when not <dir> (kubeadm's --kubeconfig-dir)" },
} as const;

/** For commands that use only the PKI (the CA): --dir and --cert-dir. */
export const pkiDirOptions = { dir: clusterDirOptions.dir, "cert-dir": clusterDirOptions["cert-dir"] } as const;

export interface ClusterDirArgs {
  dir?: string;
  certDir?: string;
  kubeconfigDir?: string;
}

/** The cluster's folders from the flags, checked (see openClusterLayout). */
export function clusterLayoutOf(args: ClusterDirArgs): Promise<ClusterLayout> {
  return openClusterLayout({ dir: args.dir, certDir: args.certDir, kubeconfigDir: args.kubeconfigDir });
}

/**
 * Signing into system:masters needs --allow-system-masters: that group
 * bypasses RBAC and cannot be revoked short of rotating the CA, which is why
 * kubeadm (v1.29) moved admin.conf out of it into kubeadm:cluster-admins.
 */
export const systemMastersOption = {
  "allow-system-masters": { type: "boolean", default: false, describe: "allow a client certificate in system:masters (it bypasses RBAC and cannot be revoked)" },
} as const;

export function refuseSystemMasters(groups: readonly string[], allowed: boolean, what: string): void {
  if (allowed || !groups.includes("system:masters")) return;
  throw new KpkiError(
    "usage",
    `${what} is in system:masters, which bypasses RBAC and cannot be revoked short of a new CA (kubeadm moved admin.conf out of it into kubeadm:cluster-admins): use a group bound to cluster-admin, or give --allow-system-masters if you mean it`,
  );
}
