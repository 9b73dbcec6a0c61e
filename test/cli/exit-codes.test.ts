// Issue 11, item 4: the README's exit-code table, row by row, command by
// command, with the cases found trying kpki as a new user would. Every
// refusal leaves the files it was given byte-identical.
import { X509Certificate } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCli, type CliResult } from "../support/cli.js";
import { havePeer } from "../support/peers.js";
import { snapshot, tempDir } from "../support/tmp.js";

delete process.env.KPKI_DEBUG;

const root = tempDir("kpki-exit-codes-");
const cluster = path.join(root, "cluster");
const pki = (file: string) => path.join(cluster, "pki", file);
const hasSsh = await havePeer("ssh", "apt-get install -y openssh-client");

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function expectExit(result: CliResult, code: number, says?: RegExp) {
  const context = `exit ${result.exitCode}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.exitCode, context).toBe(code);
  if (code !== 0) {
    expect(result.stderr, context).toMatch(/^kpki: [^\n]+\n$/);
    expect(result.stderr, context).not.toMatch(/internal error|\bat .*\.js:\d+|Usage:|Options:/);
  }
  if (says) expect(result.stdout + result.stderr, context).toMatch(says);
}

beforeAll(async () => {
  const made = await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--dir", cluster]);
  expect(made.exitCode, made.stderr).toBe(0);
});

describe("0: done", () => {
  it.each([
    ["init (everything kept)", () => ["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--dir", cluster]],
    ["init --dry-run that would need --force (the plan was made)", () => ["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--dir", cluster, "--san", "new.example.com", "--dry-run"]],
    ["certs check-expiration", () => ["certs", "check-expiration", "--dir", cluster]],
    ["ca hash", () => ["ca", "hash", "--dir", cluster]],
    ["cert inspect", () => ["cert", "inspect", pki("apiserver.crt")]],
    ["cert verify --purpose peer (etcd's peer certificate)", () => ["cert", "verify", pki("etcd/peer.crt"), "--ca", pki("etcd/ca.crt"), "--purpose", "peer"]],
    ["token generate --ttl 1.5h (Go's syntax)", () => ["token", "generate", "--ttl", "1.5h"]],
  ])("%s", async (_what, args) => {
    const before = await snapshot(cluster);
    expectExit(await runCli(args()), 0);
    expect(await snapshot(cluster)).toEqual(before);
  });
});

describe("2: bad flags or input, nothing changed", () => {
  it.each([
    ["--ttl -1h", () => ["token", "generate", "--ttl", "-1h"], /--ttl "-1h" cannot be negative/],
    ["--ttl 99999999999h", () => ["token", "generate", "--ttl", "99999999999h"], /--ttl "99999999999h" is longer than a duration can be/],
    ["--ttl soon", () => ["token", "generate", "--ttl", "soon"], /--ttl "soon" is not a duration: use Go's syntax/],
    ["--fail-within -1d", () => ["certs", "check-expiration", "--dir", cluster, "--fail-within", "-1d"], /--fail-within "-1d" cannot be negative/],
    ["token verify --ca on a file that is not PEM", () => ["token", "verify", "--server", "https://127.0.0.1:1", "--token", "abcdef.0123456789abcdef", "--ca", pki("sa.pub")], /sa\.pub holds a public key, not a certificate|is not a PEM or DER certificate/],
    ["token verify --ca on a certificate that is not a CA", () => ["token", "verify", "--server", "https://127.0.0.1:1", "--token", "abcdef.0123456789abcdef", "--ca", pki("apiserver.crt")], /apiserver\.crt is not a CA certificate/],
    ["ca hash of a certificate that is not a CA", () => ["ca", "hash", pki("apiserver.crt")], /apiserver\.crt is not a CA certificate \(CN=kube-apiserver, no CA:TRUE\)/],
    ["ca hash of a cluster folder with no CA", () => ["ca", "hash", "--dir", path.join(cluster, "nowhere")], /nowhere\/pki\/ca\.crt does not exist: give the cluster folder with --dir \(kpki init makes it\), or the CA certificate's file/],
    ["cert verify --host ''", () => ["cert", "verify", pki("apiserver.crt"), "--ca", pki("ca.crt"), "--host", ""], /--host is empty: give the DNS name or IP the certificate must cover, or leave --host out/],
    ["cert verify with a --purpose it does not have", () => ["cert", "verify", pki("apiserver.crt"), "--ca", pki("ca.crt"), "--purpose", "nonsense"], /Invalid values/],
    ["kubeconfig create in system:masters", () => ["kubeconfig", "create", "--dir", cluster, "--user", "root", "--group", "system:masters", "--server", "https://192.0.2.10:6443"], /system:masters, which bypasses RBAC.*--allow-system-masters/],
    ["--dir naming the PKI folder itself", () => ["certs", "check-expiration", "--dir", path.join(cluster, "pki")], /holds ca\.crt itself/],
    ["--master-ip 0.0.0.0", () => ["init", "--master-ip", "0.0.0.0", "--dir", cluster], /the unspecified address/],
    ["-i /missing", () => ["node", "check", "127.0.0.1", "-i", "/missing/id_ed25519"], /-i \/missing\/id_ed25519: no such key file/],
  ])("%s", async (_what, args, says) => {
    const before = await snapshot(cluster);
    expectExit(await runCli(args()), 2, says);
    expect(await snapshot(cluster)).toEqual(before);
  });
});

describe("3: something kpki will not replace without --force, or another cluster's", () => {
  it("init with a SAN the certificate lacks", async () => {
    const before = await snapshot(cluster);
    expectExit(await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--dir", cluster, "--san", "new.example.com"]), 3, /it lacks DNS:new\.example\.com.*--force/);
    expect(await snapshot(cluster)).toEqual(before);
  });

  it("--force lists the SANs it would drop before dropping them", async () => {
    const copy = path.join(root, "drop");
    cpSync(cluster, copy, { recursive: true });
    expectExit(await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--dir", copy, "--only", "apiserver", "--san", "a.example.com", "--force"]), 0);
    const plan = await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-2", "--dir", copy, "--only", "apiserver", "--dry-run", "--force"]);
    expectExit(plan, 0, /apiserver: why: .*a new one would drop DNS:cp-1, DNS:a\.example\.com \(no longer asked for\)/);
    const refused = await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-2", "--dir", copy, "--only", "apiserver"]);
    expectExit(refused, 3, /would drop DNS:cp-1, DNS:a\.example\.com/);
  });
});

describe("4: a check failed", () => {
  it("check-expiration with a damaged certificate", async () => {
    const copy = path.join(root, "damaged");
    cpSync(cluster, copy, { recursive: true });
    writeFileSync(path.join(copy, "pki", "front-proxy-client.crt"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const before = await snapshot(copy);
    expectExit(await runCli(["certs", "check-expiration", "--dir", copy]), 4, /front-proxy-client\.crt/);
    expect(await snapshot(copy)).toEqual(before);
  });

  it("cert verify --purpose peer of a certificate that is a server's only", async () => {
    const copy = path.join(root, "server-only");
    mkdirSync(copy);
    const csr = await runCli(["cert", "csr", "--name", "web", "--cn", "web", "--san", "web.example.com", "--dir", copy, "--key-type", "ecdsa-p256"]);
    expectExit(csr, 0);
    expectExit(await runCli(["cert", "sign", "--csr", path.join(copy, "web.csr"), "--profile", "server", "--dir", cluster, "--out", path.join(copy, "web.crt")]), 0);
    expectExit(await runCli(["cert", "verify", path.join(copy, "web.crt"), "--ca", pki("ca.crt"), "--purpose", "peer"]), 4, /wrong-purpose: lacks extended key usage clientAuth/);
  });

  it("cert sign of a client CSR in system:masters needs --allow-system-masters", async () => {
    const copy = path.join(root, "masters");
    mkdirSync(copy);
    expectExit(await runCli(["cert", "csr", "--name", "root", "--cn", "root", "--org", "system:masters", "--dir", copy, "--key-type", "ecdsa-p256"]), 0);
    const sign = (...extra: string[]) => runCli(["cert", "sign", "--csr", path.join(copy, "root.csr"), "--profile", "client", "--dir", cluster, "--out", path.join(copy, "root.crt"), ...extra]);
    const before = await snapshot(copy);
    expectExit(await sign(), 2, /system:masters, which bypasses RBAC and cannot be revoked.*kubeadm moved admin\.conf out of it/);
    expect(await snapshot(copy)).toEqual(before);
    expectExit(await sign("--allow-system-masters"), 0);
    expect(new X509Certificate(readFileSync(path.join(copy, "root.crt"))).subject).toBe("O=system:masters\nCN=root");
  });

  it("cert verify against another CA", async () => {
    expectExit(await runCli(["cert", "verify", pki("apiserver.crt"), "--ca", pki("front-proxy-ca.crt")]), 4, /not-issued-by-ca/);
  });

  it.skipIf(!hasSsh)("an unreachable host: the same code from node check, node prep --dry-run and node push-pki", async () => {
    const host = `127.0.0.1:${await closedPort()}`;
    const codes: number[] = [];
    for (const args of [["node", "check", host], ["node", "prep", host, "--dry-run"], ["node", "push-pki", host, "--dir", cluster, "--role", "control-plane"]]) {
      const result = await runCli([...args, "--connect-timeout", "5"]);
      expectExit(result, 4, /cannot connect|refused/);
      codes.push(result.exitCode);
    }
    expect(new Set(codes).size).toBe(1);
  });
});

describe("5: the file system refused", () => {
  // A read-only or forbidden folder is bad-input.test.ts's (a read-only bind mount, which works as root too).
  it("a cluster folder below a file", async () => {
    const file = path.join(root, "a-file");
    writeFileSync(file, "x\n");
    expectExit(await runCli(["init", "--master-ip", "192.0.2.10", "--dir", path.join(file, "c"), "--only", "apiserver"]), 5, /a part of the path is a file/);
  });
});

describe("-o json is honoured, or refused with a clear error", () => {
  it("prints manifests as JSON objects", async () => {
    const secret = await runCli(["token", "generate", "--manifest", "-o", "json"]);
    expectExit(secret, 0);
    expect(JSON.parse(secret.stdout)).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token" });
    const opaque = await runCli(["secret", "generate", "db", "--key", "password", "-o", "json"]);
    expect(JSON.parse(opaque.stdout)).toMatchObject({ kind: "Secret", type: "Opaque", metadata: { name: "db" } });
    const sa = await runCli(["sa", "create", "ci", "--clusterrole", "view", "--dry-run", "-o", "json"]);
    const list = JSON.parse(sa.stdout);
    expect(list).toMatchObject({ apiVersion: "v1", kind: "List" });
    expect(list.items.map((item: { kind: string }) => item.kind)).toEqual(["ServiceAccount", "ClusterRoleBinding"]);
  });

  it("prints an error as one JSON object on stderr", async () => {
    const result = await runCli(["ca", "hash", pki("apiserver.crt"), "-o", "json"]);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    expect(JSON.parse(result.stderr)).toEqual({ error: expect.stringContaining("is not a CA certificate"), exitCode: 2 });
  });

  it("a kubeconfig create with -o json and the new file in the cluster folder", async () => {
    const result = await runCli(["kubeconfig", "create", "--dir", cluster, "--user", "jane", "--server", "https://192.0.2.10:6443", "-o", "json"]);
    expectExit(result, 0);
    const summary = JSON.parse(result.stdout);
    expect(summary.file).toBe(path.join(cluster, "jane.conf"));
    const doc = parseYaml(readFileSync(summary.file, "utf8"));
    const cert = new X509Certificate(Buffer.from(doc.users[0].user["client-certificate-data"], "base64"));
    expect(cert.subject).toBe("CN=jane");
  });
});
