import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Io } from "../../src/cli/io.js";
import { keyProgress } from "../../src/cli/keyprogress.js";
import { initPki, parseKeygen, resolveClusterSpec } from "../../src/index.js";
import { runBin, runCli } from "../support/cli.js";
import { tempDir } from "../support/tmp.js";

const root = tempDir();
let folders = 0;
const newDir = (name: string) => path.join(root, `${++folders}-${name}`);

/** The CA + API server pair in the PKI folder dir: the certificate verifies under the CA and matches its key. */
function expectGoodPair(dir: string) {
  const ca = new X509Certificate(readFileSync(path.join(dir, "ca.crt")));
  const apiserver = new X509Certificate(readFileSync(path.join(dir, "apiserver.crt")));
  expect(apiserver.verify(ca.publicKey)).toBe(true);
  for (const name of ["ca", "apiserver"]) {
    const key = createPrivateKey(readFileSync(path.join(dir, `${name}.key`)));
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(new X509Certificate(readFileSync(path.join(dir, `${name}.crt`))).checkPrivateKey(key)).toBe(true);
  }
}

describe("--keygen", () => {
  it("openssl and primes both make a working CA + API server pair, in-process and from the bin", async () => {
    for (const [run, keygen] of [[runCli, "openssl"], [runCli, "primes"], [runBin, "openssl"]] as const) {
      const dir = newDir(`init-${keygen}`);
      const result = await run(["init", "--master-ip", "192.0.2.10", "--dir", dir, "--only", "apiserver", "--keygen", keygen]);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expectGoodPair(path.join(dir, "pki"));
    }
  });

  it("is read from --config, and a flag overrides it", async () => {
    const file = path.join(root, "keygen.yaml");
    writeFileSync(file, "masterIp: 192.0.2.10\nkeygen: openssl\nonly: [apiserver]\n");
    for (const extra of [[], ["--keygen", "primes"]]) {
      const dir = newDir("config");
      const result = await runCli(["init", "--config", file, "--dir", dir, ...extra]);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expectGoodPair(path.join(dir, "pki"));
    }
  });

  it("is a library option of initPki", async () => {
    const dir = newDir("library");
    const ready: [number, number][] = [];
    await initPki({ spec: resolveClusterSpec({ masterIp: "192.0.2.10" }), dir, only: ["apiserver"], keygen: "openssl", onKeyReady: (done, wanted) => ready.push([done, wanted]) });
    expectGoodPair(path.join(dir, "pki"));
    expect(ready).toEqual([[1, 2], [2, 2]]);
  });

  it("is taken by cert csr, certs renew and kubeconfig create", async () => {
    const dir = newDir("others");
    expect((await runCli(["cert", "csr", "--name", "web", "--cn", "web", "--dir", dir, "--keygen", "openssl"])).exitCode).toBe(0);
    expect(createPrivateKey(readFileSync(path.join(dir, "web.key"))).asymmetricKeyDetails?.modulusLength).toBe(2048);
    const pki = path.join(dir, "pki");
    expect((await runCli(["init", "--master-ip", "192.0.2.10", "--dir", dir, "--only", "apiserver"])).exitCode).toBe(0);
    const renewed = await runCli(["certs", "renew", "apiserver", "--dir", dir, "--keygen", "openssl"]);
    expect(renewed.stderr).toBe("");
    expect(renewed.exitCode).toBe(0);
    expectGoodPair(pki);
    const made = await runCli(["kubeconfig", "create", "--user", "alice", "--server", "https://192.0.2.10:6443", "--dir", dir, "--out", path.join(dir, "alice.conf"), "--keygen", "openssl"]);
    expect(made.stderr).toBe("");
    expect(made.exitCode).toBe(0);
  });

  it("parseKeygen names the choices", () => {
    expect(parseKeygen(" OpenSSL ")).toBe("openssl");
    expect(() => parseKeygen("go")).toThrow('unknown key generator "go": use one of primes, openssl');
  });
});

describe("key generation progress on a terminal", () => {
  const capture = () => {
    let stderr = "";
    const io: Io = { stdout: () => {}, stderr: (text) => void (stderr += text), readStdin: async () => Buffer.alloc(0), isTTY: true };
    return { io, stderr: () => stderr };
  };

  it("counts keys on one rewritten line, and erases it when done", () => {
    const { io, stderr } = capture();
    const progress = keyProgress(io, 0);
    progress.keyReady(1, 3);
    progress.keyReady(2, 3);
    progress.keyReady(3, 3);
    progress.done();
    expect(stderr()).toBe(["1 of 3", "2 of 3", "3 of 3"].map((count) => `\r\x1b[Kgenerating keys: ${count} ready`).join("") + "\r\x1b[K");
  });

  it("prints nothing for a run done before the delay", () => {
    const { io, stderr } = capture();
    const progress = keyProgress(io, 60_000);
    progress.keyReady(1, 2);
    progress.keyReady(2, 2);
    progress.done();
    expect(stderr()).toBe("");
  });

  it("appears once the delay has passed with keys still to come", async () => {
    const { io, stderr } = capture();
    const progress = keyProgress(io, 10);
    progress.keyReady(1, 4);
    await new Promise((resolve) => setTimeout(resolve, 50));
    progress.keyReady(2, 4);
    progress.done();
    expect(stderr()).toBe("\r\x1b[Kgenerating keys: 1 of 4 ready\r\x1b[Kgenerating keys: 2 of 4 ready\r\x1b[K");
  });
});
