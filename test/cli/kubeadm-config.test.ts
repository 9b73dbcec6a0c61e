// Issue 11, item 2: `init --config` reads kubeadm's own InitConfiguration +
// ClusterConfiguration (kubeadm's documentation examples, v1beta4 and
// v1beta3), and makes the same PKI as the equivalent flags.
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { InitReport } from "../../src/index.js";
import { repoRoot, runCli } from "../support/cli.js";
import { snapshot, tempDir } from "../support/tmp.js";

delete process.env.KPKI_DEBUG;

const root = tempDir("kpki-kubeadm-config-");
const fixture = (name: string) => path.join(repoRoot, "test/fixtures", name);
let count = 0;
const newCluster = (name: string) => path.join(root, `${++count}-${name}`);

/** What makes two PKIs the same: every certificate's subject, SANs, usages, key and validity; every kubeconfig's server, cluster and user. */
function pkiOf(cluster: string) {
  const certs: Record<string, unknown> = {};
  const walk = (folder: string) => {
    for (const name of readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, name.name);
      if (name.isDirectory()) walk(full);
      else if (name.name.endsWith(".crt")) certs[path.relative(cluster, full)] = describeCert(new X509Certificate(readFileSync(full)));
      else if (name.name.endsWith(".conf") && !name.name.endsWith(".csr.conf")) {
        const doc = parseYaml(readFileSync(full, "utf8"));
        certs[path.relative(cluster, full)] = {
          server: doc.clusters[0].cluster.server,
          cluster: doc.clusters[0].name,
          client: describeCert(new X509Certificate(Buffer.from(doc.users[0].user["client-certificate-data"], "base64"))),
        };
      }
    }
  };
  walk(cluster);
  return certs;
}

function describeCert(cert: X509Certificate) {
  return {
    subject: cert.subject,
    sans: cert.subjectAltName?.split(", ").sort(),
    ca: cert.ca,
    key: `${cert.publicKey.asymmetricKeyType} ${cert.publicKey.asymmetricKeyDetails?.namedCurve ?? cert.publicKey.asymmetricKeyDetails?.modulusLength}`,
    days: Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000),
  };
}

async function init(args: string[]) {
  const result = await runCli(["init", ...args, "-o", "json"]);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout) as InitReport & { config?: { format: string; ignored: string[] } };
}

/** The flags that say what the documentation examples say. */
const EQUIVALENT_FLAGS = [
  "--master-ip", "192.0.2.21", "--apiserver-port", "6443", "--node-name", "cp-10-100-0-1",
  "--control-plane-endpoint", "lb.example.com:6443", "--san", "192.0.2.31,cp-10-100-0-1.example.com",
  "--service-cidr", "10.96.0.0/16,fd00:10:96::/112", "--dns-domain", "cluster.local", "--cluster-name", "example-cluster",
  "--etcd-san", "cp-10-100-0-1.example.com", "--etcd-san", "192.0.2.21",
];

describe("init --config with kubeadm's own configuration", () => {
  it.each([
    // v1beta4 says ECDSA-P256, half a year and five years; v1beta3 has no such fields (kubeadm's defaults, and ECDSA by flag here for speed).
    ["v1beta4", "kubeadm-v1beta4.yaml", [] as string[], ["--key-type", "ecdsa-p256", "--days", "182", "--ca-days", "1825"]],
    ["v1beta3", "kubeadm-v1beta3.yaml", ["--key-type", "ecdsa-p256"], ["--key-type", "ecdsa-p256"]],
  ])("%s: the same PKI as the equivalent flags", async (_version, file, extra, flags) => {
    const fromConfig = newCluster(`config-${_version}`);
    const fromFlags = newCluster(`flags-${_version}`);
    // The file's certificatesDir is /etc/kubernetes/pki: --cert-dir (a flag) moves it here.
    const report = await init(["--config", fixture(file), "--dir", fromConfig, "--cert-dir", path.join(fromConfig, "pki"), ...extra]);
    await init([...EQUIVALENT_FLAGS, "--dir", fromFlags, ...flags]);
    expect(pkiOf(fromConfig)).toEqual(pkiOf(fromFlags));
    const apiserver = new X509Certificate(readFileSync(path.join(fromConfig, "pki/apiserver.crt")));
    for (const ip of ["192.0.2.21", "192.0.2.31", "10.96.0.1", "fd00:10:96::1"]) expect(apiserver.checkIP(ip), ip).toBe(ip);
    expect(apiserver.checkHost("lb.example.com")).toBe("lb.example.com");
    expect(parseYaml(readFileSync(path.join(fromConfig, "admin.conf"), "utf8")).clusters[0]).toMatchObject({ name: "example-cluster", cluster: { server: "https://lb.example.com:6443" } });
    // The report lists what kpki left to kubeadm.
    expect(report.config?.format).toBe("kubeadm");
    expect(report.config?.ignored).toEqual(expect.arrayContaining([
      "InitConfiguration.bootstrapTokens", "InitConfiguration.nodeRegistration.criSocket", "ClusterConfiguration.networking.podSubnet",
      "ClusterConfiguration.kubernetesVersion", "ClusterConfiguration.etcd.local.dataDir", "KubeletConfiguration", "KubeProxyConfiguration",
    ]));
    for (const used of ["InitConfiguration.localAPIEndpoint.advertiseAddress", "ClusterConfiguration.apiServer.certSANs", "ClusterConfiguration.certificatesDir"]) {
      expect(report.config?.ignored).not.toContain(used);
    }
  });

  it("v1beta4's validity periods and encryption algorithm reach the certificates", async () => {
    const cluster = newCluster("v1beta4-validity");
    await init(["--config", fixture("kubeadm-v1beta4.yaml"), "--dir", cluster, "--cert-dir", path.join(cluster, "pki"), "--only", "apiserver"]);
    const ca = describeCert(new X509Certificate(readFileSync(path.join(cluster, "pki/ca.crt"))));
    const leaf = describeCert(new X509Certificate(readFileSync(path.join(cluster, "pki/apiserver.crt"))));
    expect([ca.days, leaf.days, leaf.key]).toEqual([1825, 182, "ec prime256v1"]);
  });

  it("the text report says which fields kpki does not use", async () => {
    const cluster = newCluster("text");
    const result = await runCli(["init", "--config", fixture("kubeadm-v1beta4.yaml"), "--dir", cluster, "--cert-dir", path.join(cluster, "pki"), "--dry-run"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/kubeadm-v1beta4\.yaml: kpki does not use [^\n]*InitConfiguration\.bootstrapTokens[^\n]*KubeletConfiguration/);
  });

  it.each([
    ["an unknown kind", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfigurasion\n", /:1: kind "InitConfigurasion" is not a kubeadm configuration kpki knows/],
    ["kubeadm's old v1beta2", "apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\nclusterName: x\n", /ClusterConfiguration apiVersion "kubeadm\.k8s\.io\/v1beta2" is not .*kubeadm config migrate/],
    ["a wrong type", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  certSANs: api.example.com\n", /:4: ClusterConfiguration apiServer\.certSANs must be a list of strings/],
    ["an unknown encryptionAlgorithm", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nencryptionAlgorithm: DSA\n", /encryptionAlgorithm "DSA" is not one of kubeadm's RSA-2048/],
    ["a validity that is not whole days", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncertificateValidityPeriod: 36h\n", /certificateValidityPeriod "36h" must be a Go duration of whole days/],
    ["kpki's first key names", "masterIp: 192.0.2.10\nsans: [a.example.com]\n", /:2: "sans" is now "san", the camelCase of its flag/],
  ])("refuses %s: exit 2, one line, nothing written", async (_what, text, says) => {
    const folder = newCluster("bad");
    mkdirSync(folder);
    const file = path.join(folder, "config.yaml");
    writeFileSync(file, text);
    const before = await snapshot(folder);
    const result = await runCli(["init", "--config", file, "--master-ip", "192.0.2.10", "--dir", path.join(folder, "cluster")]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^kpki: [^\n]+\n$/);
    expect(result.stderr).toMatch(says);
    expect(await snapshot(folder)).toEqual(before);
  });
});

describe("init --config with kpki's own keys", () => {
  it("takes each flag's camelCase, and relative paths from the file's folder", async () => {
    const folder = newCluster("own");
    mkdirSync(path.join(folder, "configs"), { recursive: true });
    const file = path.join(folder, "configs", "kpki.yaml");
    writeFileSync(file, ["masterIp: 192.0.2.10", "nodeName: cp-1", "apiserverPort: 8443", "san: [api.example.com]", "caCn: my-ca", "keyType: ecdsa-p256", "only: [apiserver]", "dir: ../cluster"].join("\n"));
    const report = await init(["--config", file]);
    expect(report.clusterDir).toBe(path.join(folder, "cluster"));
    expect(existsSync(path.join(folder, "cluster", "pki", "apiserver.crt"))).toBe(true);
    const ca = new X509Certificate(readFileSync(path.join(folder, "cluster", "pki", "ca.crt")));
    expect(ca.subject).toBe("CN=my-ca");
    expect(new X509Certificate(readFileSync(path.join(folder, "cluster", "pki", "apiserver.crt"))).checkHost("api.example.com")).toBe("api.example.com");
  });
});
