import { boundedToJs, parseBoundedYaml } from "../../inputbounds.js";
import { KpkiError } from "../../errors.js";

export const CLUSTER_INFO_PATH = "/api/v1/namespaces/kube-public/configmaps/cluster-info";

export interface ClusterInfo {
  /** The kubeconfig text exactly as served (what the JWS signs). */
  kubeconfig: string;
  /** jws-kubeconfig-<id> → detached JWS. */
  signatures: Record<string, string>;
}

/** The ConfigMap's data, or why it cannot be used. */
export function clusterInfoFromConfigMap(body: unknown): ClusterInfo {
  const data = (body as { data?: Record<string, string> } | undefined)?.data ?? {};
  if (typeof data.kubeconfig !== "string") throw new KpkiError("verify", "kube-public/cluster-info has no kubeconfig key: kubeadm init phase bootstrap-token has not run (or something rewrote it)");
  const signatures = Object.fromEntries(
    Object.entries(data)
      .filter(([key, value]) => key.startsWith("jws-kubeconfig-") && typeof value === "string")
      .map(([key, value]) => [key.slice("jws-kubeconfig-".length), value]),
  );
  return { kubeconfig: data.kubeconfig, signatures };
}

/** cluster-info's kubeconfig: exactly one cluster (named ""), with its server and CA; no users or contexts. */
export function clusterOfClusterInfo(kubeconfig: string): { server: string; caPem: string } {
  let config: { clusters?: { cluster?: { server?: string; "certificate-authority-data"?: string } }[] };
  try {
    const document = parseBoundedYaml(kubeconfig, "cluster-info's kubeconfig");
    if (document.errors.length > 0) throw new Error("not valid YAML");
    config = (boundedToJs(document, "cluster-info's kubeconfig") as typeof config) ?? {};
  } catch (error) {
    throw new KpkiError("verify", error instanceof KpkiError ? error.message : "cluster-info's kubeconfig is not valid YAML");
  }
  if (typeof config !== "object" || !Array.isArray(config.clusters ?? [])) throw new KpkiError("verify", "cluster-info's kubeconfig is not a kubeconfig");
  const clusters = config.clusters ?? [];
  if (clusters.length !== 1) throw new KpkiError("verify", `cluster-info's kubeconfig holds ${clusters.length} clusters; kubeadm join requires exactly one`);
  const cluster = (clusters[0] as { cluster?: unknown } | null)?.cluster as { server?: unknown; "certificate-authority-data"?: unknown } | undefined ?? {};
  if (typeof cluster.server !== "string" || typeof cluster["certificate-authority-data"] !== "string") throw new KpkiError("verify", "cluster-info's cluster lacks a server or certificate-authority-data");
  return { server: cluster.server, caPem: Buffer.from(cluster["certificate-authority-data"], "base64").toString("utf8") };
}
