import { describe, expect, it } from "vitest";
import type { InventoryItem } from "../../src/pki/inventory.js";
import { resolveClusterLayout } from "../../src/pki/layout.js";
import { reissueCommand } from "../../src/pki/reissue.js";

const item = (commonName: string, ips: string[] = []) => ({ missing: false, cert: { commonName, altNames: { dns: [], ips } } }) as unknown as InventoryItem;
const missing = { missing: true } as InventoryItem;

describe("the re-issue advice for damaged files", () => {
  it("names this cluster's folders, and the address and node name etcd's certificates carry", () => {
    const items = new Map([["etcd-server", item("cp-1", ["192.0.2.10", "127.0.0.1", "::1"])]]);
    const layout = resolveClusterLayout({ dir: "/srv/my cluster", certDir: "/srv/pki" }, "/");
    expect(reissueCommand(items, layout, ["front-proxy-client"])).toBe("kpki init --dir '/srv/my cluster' --cert-dir /srv/pki --master-ip 192.0.2.10 --node-name cp-1 --force --only front-proxy-client");
  });

  it("never takes the API server's first IP, which kubeadm makes the service IP", () => {
    const items = new Map([["apiserver", item("kube-apiserver", ["10.96.0.1", "192.0.2.10"])], ["kubelet.conf", item("system:node:w-1")]]);
    expect(reissueCommand(items, resolveClusterLayout({ dir: "/k" }, "/"), ["apiserver", "admin.conf"])).toBe(
      "kpki init --dir /k --master-ip <the API server's address> --node-name w-1 --force --only apiserver admin.conf" +
        " (with the --san, --control-plane-endpoint, --service-cidr, --apiserver-port, --cluster-name the cluster was made with)",
    );
  });

  it("leaves placeholders where nothing readable says, and keeps an external etcd's CA out of it", () => {
    const items = new Map([["etcd-ca", missing]]);
    expect(reissueCommand(items, resolveClusterLayout({ dir: "/k" }, "/"), ["front-proxy-client"])).toBe(
      "kpki init --dir /k --master-ip <the API server's address> --node-name <the node's name> --external-etcd --force --only front-proxy-client",
    );
  });
});
