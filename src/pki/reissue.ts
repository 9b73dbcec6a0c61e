import type { InventoryItem } from "./inventory.js";
import type { ClusterLayout } from "./layout.js";
import { shellWord } from "../shellquote.js";

/** What init takes from flags beyond the address and node name, by the entries that carry it. */
const FLAGS_BEHIND: readonly { names: ReadonlySet<string>; flags: readonly string[] }[] = [
  { names: new Set(["apiserver"]), flags: ["--san", "--control-plane-endpoint", "--service-cidr"] },
  { names: new Set(["etcd-server", "etcd-peer"]), flags: ["--etcd-san"] },
  { names: new Set(["admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"]), flags: ["--control-plane-endpoint", "--apiserver-port", "--cluster-name"] },
];

/**
 * The `kpki init --force --only …` that re-issues damaged files of this
 * cluster and no other: its own folder flags, and the advertise address and
 * node name read from etcd's certificates (kubeadm and kpki both put the
 * advertise address first there; the API server's lists the service IP
 * first in kubeadm's), else placeholders to fill in, never a guess.
 */
export function reissueCommand(items: ReadonlyMap<string, InventoryItem>, layout: ClusterLayout, names: readonly string[]): string {
  const readable = (name: string) => items.get(name)?.cert;
  const etcd = ["etcd-server", "etcd-peer"].map(readable).find(Boolean);
  const nodeName = etcd?.commonName || readable("kubelet.conf")?.commonName.replace(/^system:node:/, "");
  const words = ["kpki", "init", "--dir", shellWord(layout.dir)];
  if (layout.certDirFlag === "--cert-dir") words.push("--cert-dir", shellWord(layout.certDir));
  if (layout.kubeconfigDirFlag === "--kubeconfig-dir") words.push("--kubeconfig-dir", shellWord(layout.kubeconfigDir));
  words.push("--master-ip", etcd?.altNames.ips[0] ?? "<the API server's address>");
  words.push("--node-name", nodeName ? shellWord(nodeName) : "<the node's name>");
  // No etcd CA here: an external etcd, whose CA init must not make anew.
  if (items.get("etcd-ca")?.missing) words.push("--external-etcd");
  words.push("--force", "--only", ...names);
  const flags = [...new Set(FLAGS_BEHIND.filter((group) => names.some((name) => group.names.has(name))).flatMap((group) => group.flags))];
  return `${words.join(" ")}${flags.length > 0 ? ` (with the ${flags.join(", ")} the cluster was made with)` : ""}`;
}
