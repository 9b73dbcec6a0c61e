import { X509Certificate, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, VERSION_INFO, type TestApiServer } from "../support/apiserver.js";
import { runCli } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer, kubectlWithHome } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

// kpki's kubeconfigs and API server certificate with a real kubectl, against
// a stand-in API server (test/support/apiserver.ts) that authenticates client
// certificates as kube-apiserver does; and every certificate, the embedded
// kubeconfig certificates and the service-account key checked with openssl.
const root = tempDir();
const hasKubectl = await havePeer("kubectl", "install kubectl (Debian: kubernetes-client conflicts; use the preinstalled /usr/bin/kubectl)");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");

const NODE = "kubectl-test";
const clusterDir = path.join(root, "cluster");
const pki = path.join(clusterDir, "pki");
const otherDir = path.join(root, "other");
const home = path.join(root, "home");
const scratch = path.join(root, "scratch");
const file = (name: string) => path.join(pki, name);
const conf = (name: string) => path.join(clusterDir, name);

const KUBECONFIGS = [
  { file: "admin.conf", user: "kubernetes-admin", groups: ["kubeadm:cluster-admins"] },
  { file: "super-admin.conf", user: "kubernetes-super-admin", groups: ["system:masters"] },
  { file: "kubelet.conf", user: `system:node:${NODE}`, groups: ["system:nodes"] },
  { file: "controller-manager.conf", user: "system:kube-controller-manager", groups: [] },
  { file: "scheduler.conf", user: "system:kube-scheduler", groups: [] },
];

// Every leaf, the CA that signed it, and what it is for (kpki's profiles: the
// API server and etcd's serving and peer certificates are also clients).
const LEAVES = [
  { cert: "apiserver.crt", ca: "ca.crt", server: true },
  { cert: "apiserver-kubelet-client.crt", ca: "ca.crt", server: false },
  { cert: "front-proxy-client.crt", ca: "front-proxy-ca.crt", server: false },
  { cert: "apiserver-etcd-client.crt", ca: "etcd/ca.crt", server: false },
  { cert: "etcd/server.crt", ca: "etcd/ca.crt", server: true },
  { cert: "etcd/peer.crt", ca: "etcd/ca.crt", server: true },
  { cert: "etcd/healthcheck-client.crt", ca: "etcd/ca.crt", server: false },
];
const CAS = ["ca.crt", "front-proxy-ca.crt", "etcd/ca.crt"];

let api: TestApiServer | undefined;

async function init(dir: string, port: number, ...extra: string[]) {
  const result = await runCli(["init", "--master-ip", "127.0.0.1", "--apiserver-port", String(port), "--node-name", NODE, "--dir", path.dirname(dir), ...extra]);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
}

beforeAll(async () => {
  mkdirSync(home);
  mkdirSync(scratch);
  // Listen first, so the port is ours, then make the PKI for it: the kubeconfigs name it through --apiserver-port.
  api = await startApiServer();
  await init(pki, api.port);
  // Another cluster whose CA has the same name (CN=kubernetes) but another key: CA and admin.conf only.
  await init(path.join(otherDir, "pki"), api.port, "--only", "admin.conf");
  api.useCredentials({ cert: readFileSync(file("apiserver.crt")), key: readFileSync(file("apiserver.key")), ca: readFileSync(file("ca.crt")) });
});

afterAll(async () => {
  await api?.close();
});

const kubectl = kubectlWithHome(home);

type Kubeconfig = {
  clusters: { name: string; cluster: Record<string, string> }[];
  users: { name: string; user: Record<string, string> }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  "current-context": string;
};
const loadKubeconfig = (name: string) => parse(readFileSync(name, "utf8")) as Kubeconfig;
const decode = (data: string) => Buffer.from(data, "base64").toString("utf8");

/** A kubeconfig in the scratch folder, made from `base` with `change` applied. */
function writeVariant(name: string, base: string, change: (config: Kubeconfig) => void): string {
  const config = loadKubeconfig(base);
  change(config);
  const target = path.join(scratch, name);
  writeFileSync(target, stringify(config), { mode: 0o600 });
  return target;
}

describe.skipIf(!hasKubectl)("kubectl with kpki's kubeconfigs", () => {
  it.each(KUBECONFIGS)("$file: get --raw /version authenticates as $user", async ({ file: name, user, groups }) => {
    const mark = api!.seen.length;
    const result = await kubectl(["--kubeconfig", conf(name), "get", "--raw", "/version"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(VERSION_INFO);
    const seen = api!.seen.slice(mark);
    expect(seen.some((request) => request.path === "/version" && request.status === 200)).toBe(true);
    for (const request of seen) expect(request).toMatchObject({ user, groups: [...groups, "system:authenticated"] });
  });

  it.each(KUBECONFIGS)("$file: kubectl auth whoami shows $user and its groups", async ({ file: name, user, groups }) => {
    const result = await kubectl(["--kubeconfig", conf(name), "auth", "whoami", "-o", "json"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).status.userInfo).toEqual({ username: user, groups: [...groups, "system:authenticated"] });
  });

  it.each(KUBECONFIGS)("$file: config view --minify --flatten shows one cluster, user and context $user@kubernetes", async ({ file: name, user }) => {
    const result = await kubectl(["config", "view", "--minify", "--flatten", "-o", "json", "--kubeconfig", conf(name)]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const view = JSON.parse(result.stdout) as Kubeconfig;
    expect(view["current-context"]).toBe(`${user}@kubernetes`);
    expect(view.contexts).toEqual([{ name: `${user}@kubernetes`, context: { cluster: "kubernetes", user } }]);
    expect(view.clusters.map((cluster) => cluster.name)).toEqual(["kubernetes"]);
    // kpki's own server URL, with the port given to init.
    expect(view.clusters[0]!.cluster.server).toBe(`https://127.0.0.1:${api!.port}`);
    expect(decode(view.clusters[0]!.cluster["certificate-authority-data"]!)).toBe(readFileSync(file("ca.crt"), "utf8"));
    expect(view.users.map((entry) => entry.name)).toEqual([user]);
    const cert = new X509Certificate(decode(view.users[0]!.user["client-certificate-data"]!));
    expect(cert.subject.split("\n")).toContain(`CN=${user}`);
    expect(cert.checkPrivateKey(createPrivateKey(decode(view.users[0]!.user["client-key-data"]!)))).toBe(true);
  });

  it("uses a kubeconfig whose key OpenSSL's own generator made (--keygen openssl)", async () => {
    const out = path.join(scratch, "openssl-keygen.conf");
    const made = await runCli(["kubeconfig", "create", "--user", "openssl-keygen", "--server", `https://127.0.0.1:${api!.port}`, "--dir", clusterDir, "--out", out, "--keygen", "openssl"]);
    expect(made.exitCode, made.stderr).toBe(0);
    const result = await kubectl(["--kubeconfig", out, "auth", "whoami", "-o", "json"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).status.userInfo.username).toBe("openssl-keygen");
  });

  it("trusts the API server under its service name and node name too (--tls-server-name)", async () => {
    for (const name of ["kubernetes.default.svc", "kubernetes.default.svc.cluster.local", NODE]) {
      const result = await kubectl(["--kubeconfig", conf("admin.conf"), "--tls-server-name", name, "get", "--raw", "/version"]);
      expect(result.stderr, name).toBe("");
      expect(result.exitCode, name).toBe(0);
    }
    const wrong = await kubectl(["--kubeconfig", conf("admin.conf"), "--tls-server-name", "evil.example.com", "get", "--raw", "/version"]);
    expect(wrong.exitCode).not.toBe(0);
    expect(wrong.stderr).toMatch(/x509: certificate is valid for .*not evil\.example\.com/);
  });

  it("refuses the server when the kubeconfig trusts another CA of the same name", async () => {
    const otherCa = loadKubeconfig(path.join(otherDir, "admin.conf")).clusters[0]!.cluster["certificate-authority-data"]!;
    const variant = writeVariant("wrong-ca.conf", conf("admin.conf"), (config) => {
      config.clusters[0]!.cluster["certificate-authority-data"] = otherCa;
    });
    const mark = api!.seen.length;
    const result = await kubectl(["--kubeconfig", variant, "get", "--raw", "/version"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/x509: certificate signed by unknown authority/);
    expect(api!.seen.length).toBe(mark);
  });

  it("refuses the server with the other cluster's admin.conf", async () => {
    const result = await kubectl(["--kubeconfig", path.join(otherDir, "admin.conf"), "get", "--raw", "/version"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/x509: certificate signed by unknown authority/);
  });

  it("is refused by the server when its client certificate comes from another CA", async () => {
    const other = loadKubeconfig(path.join(otherDir, "admin.conf")).users[0]!.user;
    const variant = writeVariant("foreign-client.conf", conf("admin.conf"), (config) => {
      config.users[0]!.user = { "client-certificate-data": other["client-certificate-data"]!, "client-key-data": other["client-key-data"]! };
    });
    const seen = api!.seen.length;
    const rejected = api!.rejected.length;
    const result = await kubectl(["--kubeconfig", variant, "get", "--raw", "/version"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
    // The server ended the connection over the certificate: nothing was served as an authenticated
    // user. (The kubectl dispatcher here may probe /version on its own, without credentials: a 401.)
    for (const request of api!.seen.slice(seen)) expect(request).toMatchObject({ user: undefined, status: 401 });
    const refusals = api!.rejected.slice(rejected);
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) {
      expect(refusal.commonName).toBe("kubernetes-admin");
      expect(refusal.error).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_SIGNATURE_FAILURE)$/);
    }
  });

  it("gets 401 Unauthorized without a client certificate (an unknown bearer token instead)", async () => {
    const variant = writeVariant("token.conf", conf("admin.conf"), (config) => {
      config.users[0]!.user = { token: "not-a-token-this-server-knows" };
    });
    const mark = api!.seen.length;
    const result = await kubectl(["--kubeconfig", variant, "get", "--raw", "/version"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/Unauthorized/);
    const seen = api!.seen.slice(mark);
    expect(seen.length).toBeGreaterThan(0);
    for (const request of seen) expect(request).toMatchObject({ user: undefined, status: 401 });
  });
});

describe.skipIf(!hasOpenssl)("openssl verifies every certificate for its purpose", () => {
  const verifyArgs = (ca: string, purpose: "sslclient" | "sslserver", cert: string) => ["verify", "-x509_strict", "-purpose", purpose, "-CAfile", ca, cert];

  it.each(LEAVES)("$cert against $ca", async ({ cert, ca, server }) => {
    const client = await openssl(verifyArgs(file(ca), "sslclient", file(cert)));
    expect(client.stdout + client.stderr).toContain(`${file(cert)}: OK`);
    const asServer = await openssl(verifyArgs(file(ca), "sslserver", file(cert)));
    if (server) expect(asServer.stdout + asServer.stderr).toContain(`${file(cert)}: OK`);
    else expect(asServer.exitCode, "a client-only certificate must not verify as a server").not.toBe(0);
    // And not against another CA of the cluster.
    for (const other of CAS.filter((candidate) => candidate !== ca)) {
      const wrong = await openssl(["verify", "-x509_strict", "-CAfile", file(other), file(cert)]);
      expect(wrong.exitCode, `${cert} against ${other}`).not.toBe(0);
    }
  });

  it.each(CAS)("%s is a self-signed CA", async (ca) => {
    const result = await openssl(["verify", "-x509_strict", "-CAfile", file(ca), file(ca)]);
    expect(result.stdout + result.stderr).toContain(`${file(ca)}: OK`);
  });

  it.each(KUBECONFIGS)("$file: the embedded client certificate verifies against ca.crt as a client", async ({ file: name, user }) => {
    const config = loadKubeconfig(conf(name));
    expect(decode(config.clusters[0]!.cluster["certificate-authority-data"]!)).toBe(readFileSync(file("ca.crt"), "utf8"));
    const embedded = path.join(scratch, `${name}.crt`);
    writeFileSync(embedded, decode(config.users[0]!.user["client-certificate-data"]!));
    const client = await openssl(verifyArgs(file("ca.crt"), "sslclient", embedded));
    expect(client.stdout + client.stderr).toContain(`${embedded}: OK`);
    const asServer = await openssl(verifyArgs(file("ca.crt"), "sslserver", embedded));
    expect(asServer.exitCode).not.toBe(0);
    const subject = await openssl(["x509", "-in", embedded, "-noout", "-subject", "-nameopt", "RFC2253"]);
    expect(subject.stdout).toMatch(new RegExp(`^subject=CN=${user.replace(/[.:]/g, "\\$&")}(,|$)`));
  });

  it("signs an RS256 service-account token with sa.key that verifies with sa.pub", async () => {
    const saKey = createPrivateKey(readFileSync(file("sa.key")));
    expect(saKey.asymmetricKeyType).toBe("rsa");
    // sa.pub is sa.key's public half.
    expect(createPublicKey(readFileSync(file("sa.pub"))).export({ type: "spki", format: "der" })).toEqual(createPublicKey(saKey).export({ type: "spki", format: "der" }));
    const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const signingInput = `${base64url({ alg: "RS256", typ: "JWT" })}.${base64url({
      iss: "https://kubernetes.default.svc.cluster.local",
      sub: "system:serviceaccount:default:default",
      aud: ["https://kubernetes.default.svc.cluster.local"],
      iat: now,
      exp: now + 3600,
    })}`;
    const signature = sign("RSA-SHA256", Buffer.from(signingInput), saKey);
    expect(verify("RSA-SHA256", Buffer.from(signingInput), readFileSync(file("sa.pub")), signature)).toBe(true);
    const data = path.join(scratch, "jwt-signing-input.txt");
    const sig = path.join(scratch, "jwt-signature.bin");
    writeFileSync(data, signingInput);
    writeFileSync(sig, signature);
    const good = await openssl(["dgst", "-sha256", "-verify", file("sa.pub"), "-signature", sig, data]);
    expect(good.stdout.trim()).toBe("Verified OK");
    expect(good.exitCode).toBe(0);
    // A changed payload does not verify.
    writeFileSync(data, `${signingInput}x`);
    const bad = await openssl(["dgst", "-sha256", "-verify", file("sa.pub"), "-signature", sig, data]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout).toContain("Verification failure");
  });
});
