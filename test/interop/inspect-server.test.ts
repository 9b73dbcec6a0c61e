// Issue 11, item 6: the seed's `openssl s_client -showcerts -connect HOST:PORT
// | openssl x509 -text > ca.pem`, done right, against real Node TLS servers
// on 127.0.0.1: one serving a kpki chain, one serving another CA's.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { tempDir } from "../support/tmp.js";

delete process.env.KPKI_DEBUG;

const root = tempDir("kpki-inspect-server-");
const ours = path.join(root, "ours");
const theirs = path.join(root, "theirs");
const servers: Server[] = [];

async function serve(cert: string, key: string): Promise<number> {
  const server = createServer({ cert, key }, (_request, response) => response.end("ok"));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

const read = (cluster: string, file: string) => readFileSync(path.join(cluster, "pki", file), "utf8");
let leafOnly: number;
let withCa: number;
let foreign: number;

beforeAll(async () => {
  for (const cluster of [ours, theirs]) {
    const made = await runCli(["init", "--master-ip", "127.0.0.1", "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--only", "apiserver", "--only", "admin.conf", "--dir", cluster]);
    expect(made.exitCode, made.stderr).toBe(0);
  }
  // As kube-apiserver serves: its certificate only. Then one that sends its CA along.
  leafOnly = await serve(read(ours, "apiserver.crt"), read(ours, "apiserver.key"));
  withCa = await serve(read(ours, "apiserver.crt") + read(ours, "ca.crt"), read(ours, "apiserver.key"));
  foreign = await serve(read(theirs, "apiserver.crt"), read(theirs, "apiserver.key"));
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe("kpki cert inspect https://127.0.0.1:PORT", () => {
  it("shows the chain a kpki API server presents, and with --ca says it verifies and gives the CA pin", async () => {
    const result = await runCli(["cert", "inspect", `https://127.0.0.1:${leafOnly}`, "--ca", path.join(ours, "pki/ca.crt")]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`127.0.0.1:${leafOnly} presents 1 certificate(s):`);
    expect(result.stdout).toMatch(/1\. subject\s+CN=kube-apiserver/);
    expect(result.stdout).toMatch(/SANs\s+.*DNS:kubernetes\.default\.svc.*IP:127\.0\.0\.1/);
    expect(result.stdout).toContain(`verified against ${path.join(ours, "pki/ca.crt")} (CN=kubernetes)`);
    const pin = (await runCli(["ca", "hash", "--dir", ours])).stdout.trim();
    expect(result.stdout).toContain(`CA pin: ${pin} — confirm it out of band`);
    const json = JSON.parse((await runCli(["cert", "inspect", `https://127.0.0.1:${leafOnly}`, "--ca", path.join(ours, "pki/ca.crt"), "-o", "json"])).stdout);
    expect(json).toMatchObject({ server: `127.0.0.1:${leafOnly}`, verified: true, problems: [], caPin: pin });
    expect(json.chain[0]).toMatchObject({ subject: "CN=kube-apiserver", issuer: "CN=kubernetes", isCA: false });
  });

  it("without --ca, says the server does not present its CA rather than pinning its leaf", async () => {
    const result = await runCli(["cert", "inspect", `https://127.0.0.1:${leafOnly}`]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("The server does not present its CA");
    expect(result.stdout).not.toContain("CA pin:");
  });

  it("a server that sends its CA: the pin is the CA's, and --out --save root writes that CA", async () => {
    const out = path.join(root, "saved-ca.pem");
    const result = await runCli(["cert", "inspect", `https://127.0.0.1:${withCa}`, "--out", out, "--save", "root"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("presents 2 certificate(s)");
    const pin = (await runCli(["ca", "hash", "--dir", ours])).stdout.trim();
    expect(result.stdout).toContain(`CA pin: ${pin}`);
    expect(readFileSync(out, "utf8")).toBe(read(ours, "ca.crt"));
    // The whole chain, and never over an existing file.
    const chainFile = path.join(root, "chain.pem");
    expect((await runCli(["cert", "inspect", `https://127.0.0.1:${withCa}`, "--out", chainFile])).exitCode).toBe(0);
    expect(readFileSync(chainFile, "utf8")).toBe(read(ours, "apiserver.crt") + read(ours, "ca.crt"));
    const again = await runCli(["cert", "inspect", `https://127.0.0.1:${withCa}`, "--out", chainFile]);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/chain\.pem exists: choose another --out/);
  });

  it("a server with a chain from another CA: does not verify (exit 4), and says why", async () => {
    const result = await runCli(["cert", "inspect", `https://127.0.0.1:${foreign}`, "--ca", path.join(ours, "pki/ca.crt")]);
    expect(result.exitCode).toBe(4);
    expect(result.stdout).toContain("does NOT verify against");
    expect(result.stdout).toMatch(/not-issued-by-ca: the server's certificate \(CN=kube-apiserver\) is issued by "CN=kubernetes", which is neither the given CA .* nor in the chain/);
    expect(result.stdout).not.toContain("CA pin:");
    expect(result.stderr).toMatch(/^kpki: 127\.0\.0\.1:\d+ does not verify against \S+: not-issued-by-ca\n$/);
  });

  it("--servername the certificate does not cover: host-mismatch (exit 4)", async () => {
    const result = await runCli(["cert", "inspect", `https://127.0.0.1:${leafOnly}`, "--servername", "evil.example.com", "--ca", path.join(ours, "pki/ca.crt")]);
    expect(result.exitCode).toBe(4);
    expect(result.stdout).toMatch(/host-mismatch: does not cover evil\.example\.com/);
  });

  it("a closed port: one line, exit 4", async () => {
    const server = servers.pop()!;
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    const result = await runCli(["cert", "inspect", `https://127.0.0.1:${port}`]);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/^kpki: 127\.0\.0\.1:\d+ refused the connection\n$/);
  });
});

describe("kpki cert inspect on a kubeconfig", () => {
  it("shows its embedded CA and client certificate, never the key", async () => {
    const result = await runCli(["cert", "inspect", path.join(ours, "admin.conf")]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^cluster kubernetes CA \(server https:\/\/127\.0\.0\.1:6443\):\ncertificate\s+\(CA\)\n\s+subject\s+CN=kubernetes\n/);
    expect(result.stdout).toMatch(/\nuser kubernetes-admin client certificate:\ncertificate\n\s+subject\s+O=kubeadm:cluster-admins, CN=kubernetes-admin\n/);
    expect(result.stdout).not.toMatch(/PRIVATE KEY|client-key-data/);
    const json = JSON.parse((await runCli(["cert", "inspect", path.join(ours, "admin.conf"), "-o", "json"])).stdout);
    expect(json.map((part: { role: string; kind: string }) => part.kind)).toEqual(["certificate", "certificate"]);
  });
});
