import type { InventoryItem } from "./inventory.js";
import type { ClusterLayout } from "./layout.js";

/** Entries whose certificate carries the node's name or the cluster's names and addresses (SANs init takes from flags). */
const NAMED_BY_FLAGS = new Set(["apiserver", "etcd-server", "etcd-peer"]);

const shellWord = (text: string) => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);

/**
 * The `kpki init --force --only …` that re-issues damaged files of this
 * cluster and no other: its own folder flags, and the advertise address and
 * node name read from the certificates still readable (the API server's, or
 * etcd's, which carry both), so the command runs as given.
 */
export function reissueCommand(items: ReadonlyMap<string, InventoryItem>, layout: ClusterLayout, names: readonly string[]): string {
  const readable = (name: string) => items.get(name)?.cert;
  const masterIp = ["apiserver", "etcd-server", "etcd-peer"].map((name) => readable(name)?.altNames.ips[0]).find(Boolean);
  const nodeName =
    ["etcd-server", "etcd-peer"].map((name) => readable(name)?.commonName).find(Boolean) ??
    readable("kubelet.conf")?.commonName.replace(/^system:node:/, "");
  const words = ["kpki", "init", "--dir", shellWord(layout.dir)];
  if (layout.certDirFlag === "--cert-dir") words.push("--cert-dir", shellWord(layout.certDir));
  if (layout.kubeconfigDirFlag === "--kubeconfig-dir") words.push("--kubeconfig-dir", shellWord(layout.kubeconfigDir));
  words.push("--master-ip", masterIp ?? "<the API server's address>");
  if (nodeName) words.push("--node-name", shellWord(nodeName));
  words.push("--force", "--only", ...names);
  const flags = names.some((name) => NAMED_BY_FLAGS.has(name)) ? " (with the --san, --control-plane-endpoint and --service-cidr the cluster was made with)" : "";
  return `${words.join(" ")}${flags}`;
}
