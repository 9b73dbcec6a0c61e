import { describe, expect, it } from "vitest";
import type { InventoryItem } from "../../src/pki/inventory.js";
import { resolveClusterLayout } from "../../src/pki/layout.js";
import { reissueCommand } from "../../src/pki/reissue.js";

const item = (commonName: string, ips: string[] = []) => ({ cert: { commonName, altNames: { dns: [], ips } } }) as unknown as InventoryItem;

describe("the re-issue advice for damaged files", () => {
  it("names this cluster's folders, and the address and node name its readable certificates carry", () => {
    const items = new Map([["etcd-server", item("cp-1", ["192.0.2.10", "127.0.0.1", "::1"])]]);
    const layout = resolveClusterLayout({ dir: "/srv/my cluster", certDir: "/srv/pki" }, "/");
    expect(reissueCommand(items, layout, ["front-proxy-client"])).toBe("kpki init --dir '/srv/my cluster' --cert-dir /srv/pki --master-ip 192.0.2.10 --node-name cp-1 --force --only front-proxy-client");
  });

  it("takes the node name from kubelet.conf when etcd's certificates are gone, and says what it cannot know", () => {
    const items = new Map([["kubelet.conf", item("system:node:w-1")]]);
    expect(reissueCommand(items, resolveClusterLayout({ dir: "/k" }, "/"), ["apiserver"])).toBe(
      "kpki init --dir /k --master-ip <the API server's address> --node-name w-1 --force --only apiserver (with the --san, --control-plane-endpoint and --service-cidr the cluster was made with)",
    );
  });
});
