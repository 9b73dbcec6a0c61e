import path from "node:path";
import { KpkiError } from "../errors.js";

/**
 * The cluster folder when --dir is not given: a folder in the current
 * directory laid out like /etc/kubernetes, so `scp -r kubernetes host:/etc/`
 * puts everything where kubeadm looks.
 */
export const DEFAULT_CLUSTER_DIR = "kubernetes";

/** What the user named: --dir, and kubeadm's --cert-dir / --kubeconfig-dir for split layouts. */
export interface ClusterLayoutOptions {
  dir?: string;
  certDir?: string;
  kubeconfigDir?: string;
}

/** Where one cluster's files are. Paths are absolute. */
export interface ClusterLayout {
  /** The cluster folder, laid out like /etc/kubernetes. */
  dir: string;
  /** Certificates and keys: `<dir>/pki` unless --cert-dir moved them. */
  certDir: string;
  /** The *.conf kubeconfigs: `<dir>` unless --kubeconfig-dir moved them. */
  kubeconfigDir: string;
  /** The option that named each folder, for messages about it. */
  certDirFlag: "--dir" | "--cert-dir";
  kubeconfigDirFlag: "--dir" | "--kubeconfig-dir";
}

/** Pure: the three folders of a cluster, relative paths taken from `base`. */
export function resolveClusterLayout(options: ClusterLayoutOptions, base: string = process.cwd()): ClusterLayout {
  // An empty value would resolve to the current folder: never where a cluster was meant to go.
  for (const [flag, value] of [["--dir", options.dir], ["--cert-dir", options.certDir], ["--kubeconfig-dir", options.kubeconfigDir]] as const) {
    if (value !== undefined && value.trim() === "") throw new KpkiError("usage", `${flag} is empty: give a folder${flag === "--dir" ? " (or leave --dir out for ./kubernetes)" : ` (or leave ${flag} out)`}`);
  }
  const dir = path.resolve(base, options.dir ?? DEFAULT_CLUSTER_DIR);
  return {
    dir,
    certDir: options.certDir ? path.resolve(base, options.certDir) : path.join(dir, "pki"),
    kubeconfigDir: options.kubeconfigDir ? path.resolve(base, options.kubeconfigDir) : dir,
    certDirFlag: options.certDir ? "--cert-dir" : "--dir",
    kubeconfigDirFlag: options.kubeconfigDir ? "--kubeconfig-dir" : "--dir",
  };
}

/**
 * The layout every command that reads or writes a cluster uses, checked:
 * a --dir that is itself a PKI folder (ca.crt directly inside, no pki/ of its
 * own: kubeadm's /etc/kubernetes/pki, or kpki's old layout) is refused, so
 * nothing is ever written into pki/pki or read from the wrong place.
 */
export async function openClusterLayout(options: ClusterLayoutOptions, base: string = process.cwd()): Promise<ClusterLayout> {
  const layout = resolveClusterLayout(options, base);
  if (!options.certDir) {
    // Loaded here, so prestart (which only resolves paths) stays small.
    const { PkiStore } = await import("./store.js");
    const cluster = new PkiStore(layout.dir);
    const certs = new PkiStore(layout.certDir);
    const looksLikePki = (await cluster.exists("ca.crt")) || (await cluster.exists("ca.key"));
    if (looksLikePki && !(await certs.exists("ca.crt")) && !(await certs.exists("ca.key"))) {
      const parent = path.basename(layout.dir) === "pki" ? ` --dir ${path.dirname(layout.dir)}, or` : "";
      throw new KpkiError(
        "usage",
        `--dir ${layout.dir} holds ca.crt itself: --dir names the cluster folder, laid out like /etc/kubernetes with pki/ inside; give${parent} --cert-dir ${layout.dir} (with --kubeconfig-dir for its kubeconfigs)`,
      );
    }
  }
  return layout;
}
