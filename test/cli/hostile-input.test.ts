// The smallest reproducer of every failure class the reliability harness
// found (issue 13), through the CLI: each ends in exit 2 and one line that
// names the file, never "internal error" or a native abort, and changes
// nothing on disk. The EC-key ones run the built bin in a child process,
// since an abort would take the test runner down with it.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBin, runCli, type CliResult } from "../support/cli.js";
import {
  aliasBomb,
  certificateAtInfinity,
  certificateWithExtension,
  csrAtInfinity,
  csrWithExtension,
  deepYaml,
  ecKeyLongScalar,
  ecKeyPointAtInfinity,
  hugeLengthCertificate,
  ipSanOfLength,
  pem,
  pkcs8LongScalar,
  repeatedBeginLines,
  rsaCsr,
  SAN,
  sanNotGeneralNames,
  seq,
  spkiAtInfinity,
  tlv,
  truncatedCertificate,
} from "../support/hostile.js";
import { snapshot, tempDir } from "../support/tmp.js";
import { x509 } from "../../src/pki/x509.js";

delete process.env.KPKI_DEBUG;

const root = tempDir("kpki-hostile-");
/** One cluster folder, laid out like /etc/kubernetes: the PKI in its pki/. */
const cluster = path.join(root, "cluster");
const pki = path.join(cluster, "pki");
let count = 0;
function file(name: string, data: string | Buffer): string {
  const dir = path.join(root, `case-${++count}`);
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, name);
  writeFileSync(target, data);
  return target;
}

function expectInputError(result: CliResult, names: string, says?: RegExp) {
  const context = `exit ${result.exitCode}\nstderr: ${JSON.stringify(result.stderr)}`;
  expect(result.exitCode, context).toBe(2);
  expect(result.stderr, context).toMatch(/^kpki: [^\n]+\n?$/);
  expect(result.stderr, context).not.toMatch(/internal error|^\s+at /im);
  expect(result.stderr, context).toContain(names);
  if (says) expect(result.stderr, context).toMatch(says);
}

beforeAll(async () => {
  const made = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", cluster, "--only", "apiserver", "--key-type", "ecdsa-p256"]);
  expect(made.exitCode, made.stderr).toBe(0);
});

describe("malformed EC keys never abort the process", () => {
  const keys: [string, () => string][] = [
    ["a SEC1 key with a 33-byte scalar", ecKeyLongScalar],
    ["a SEC1 key whose public point is at infinity", ecKeyPointAtInfinity],
    ["a PKCS#8 key with a 33-byte scalar", pkcs8LongScalar],
    ["a PUBLIC KEY at infinity", () => pem("PUBLIC KEY", spkiAtInfinity())],
  ];

  // The reproducers are real: Node itself dies on them (the check in keyshape.ts is what stands between).
  it.runIf(process.versions.node.startsWith("20."))("Node 20 aborts on each reproducer when asked for its details", () => {
    for (const [, make] of keys) {
      const key = make();
      const read = key.includes("PUBLIC KEY-") ? "createPublicKey" : "createPrivateKey";
      const script = `require("crypto").${read}(require("fs").readFileSync(0)).asymmetricKeyDetails`;
      const result = spawnSync(process.execPath, ["-e", script], { input: key, encoding: "utf8" });
      expect(result.signal).toBe("SIGABRT");
      expect(result.stderr).toContain("Assertion failed: (ec) != nullptr");
    }
  });

  for (const [name, make] of keys) {
    it(`cert inspect of ${name}: exit 2, one line`, async () => {
      const target = file("damaged.key", make());
      expectInputError(await runBin(["cert", "inspect", target]), target, /damaged and cannot be read/);
    });
  }

  it("cert verify --key with the reproducer: exit 2", async () => {
    const target = file("damaged.key", ecKeyLongScalar());
    expectInputError(await runBin(["cert", "verify", path.join(pki, "apiserver.crt"), "--ca", path.join(pki, "ca.crt"), "--key", target]), target);
  });

  it("init on a folder whose ca.key is the reproducer: exit 2 naming ca.key, nothing changed", async () => {
    const dir = path.join(root, "damaged-ca-key");
    cpSync(cluster, dir, { recursive: true });
    writeFileSync(path.join(dir, "pki", "ca.key"), ecKeyPointAtInfinity());
    const before = await snapshot(dir);
    const result = await runBin(["init", "--master-ip", "192.0.2.10", "--dir", dir, "--only", "apiserver", "--key-type", "ecdsa-p256"]);
    expect(result.exitCode, result.stderr).not.toBe(1);
    expect(result.stderr).toContain(path.join(dir, "pki", "ca.key"));
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(await snapshot(dir)).toEqual(before);
  });

  it("a certificate and a CSR whose public key is at infinity: cert inspect, ca hash, cert sign exit 2", async () => {
    const cert = file("infinity.crt", await certificateAtInfinity());
    expectInputError(await runBin(["cert", "inspect", cert]), cert, /point at infinity/);
    expectInputError(await runBin(["ca", "hash", cert]), cert, /point at infinity/);
    const csr = file("infinity.csr", csrAtInfinity());
    expectInputError(await runBin(["cert", "inspect", csr]), csr, /point at infinity/);
    expectInputError(await runBin(["cert", "sign", "--csr", csr, "--profile", "client", "--dir", cluster]), csr, /point at infinity/);
  });
});

describe("parse failures at every input boundary are input errors (exit 2), not internal errors", () => {
  it("ca hash of truncated DER and of a 5-byte DER length (kpki's own DER reader)", async () => {
    for (const data of [truncatedCertificate(), hugeLengthCertificate()]) {
      const target = file("ca.crt", data);
      expectInputError(await runCli(["ca", "hash", target]), target);
    }
  });

  it("ca hash --dir on a folder whose ca.crt is damaged", async () => {
    const dir = path.join(root, "damaged-ca-crt");
    mkdirSync(path.join(dir, "pki"), { recursive: true });
    writeFileSync(path.join(dir, "pki", "ca.crt"), truncatedCertificate());
    expectInputError(await runCli(["ca", "hash", "--dir", dir]), path.join(dir, "pki", "ca.crt"));
  });

  it("cert inspect and cert verify of a certificate whose subjectAltName is no GeneralNames (an ASN.1 schema error)", async () => {
    const target = file("bad-san.crt", await certificateWithExtension(SAN, sanNotGeneralNames()));
    expectInputError(await runCli(["cert", "inspect", target]), target);
    expectInputError(await runCli(["cert", "verify", target, "--ca", path.join(pki, "ca.crt")]), target);
  });

  it("cert sign --csr of a CSR whose subjectAltName is no GeneralNames", async () => {
    const target = file("bad-san.csr", await csrWithExtension(SAN, sanNotGeneralNames()));
    const before = await snapshot(pki);
    expectInputError(await runCli(["cert", "sign", "--csr", target, "--profile", "client", "--dir", cluster]), target);
    expect(await snapshot(pki)).toEqual(before);
  });

  it("what would take inspect past ~100 ms: 17 certificates, 64 KiB of them, one certificate over 32 KiB (also for ca hash and cert sign)", async () => {
    const ca = readFileSync(path.join(pki, "ca.crt"), "utf8");
    const chain = file("chain.pem", ca.repeat(17));
    expectInputError(await runCli(["cert", "inspect", chain]), chain, /holds 17 PEM blocks; kpki inspects at most 16/);
    expect((await runCli(["cert", "inspect", file("chain.pem", ca.repeat(16))])).exitCode).toBe(0);
    const names = seq(...Array.from({ length: 1_800 }, (_, i) => tlv(0x82, Buffer.from(`h${i}.example.com`))));
    const big = file("big.pem", await certificateWithExtension(SAN, names));
    expectInputError(await runCli(["cert", "inspect", big]), big, /holds a certificate of \d+ KiB, larger than the 32 KiB kpki reads/);
    expectInputError(await runCli(["ca", "hash", big]), big, /larger than the 32 KiB/);
    const bigCsr = file("big.csr", await csrWithExtension(SAN, names));
    expectInputError(await runCli(["cert", "sign", "--csr", bigCsr, "--profile", "client", "--dir", cluster]), bigCsr, /certificate request of \d+ KiB/);
    const smaller = readFileSync(file("mid.pem", await certificateWithExtension(SAN, seq(...Array.from({ length: 1_000 }, (_, i) => tlv(0x82, Buffer.from(`h${i}.example.com`)))))), "utf8");
    const many = file("many.pem", smaller.repeat(5)); // 5 × 17 KiB
    expectInputError(await runCli(["cert", "inspect", many]), many, /KiB of DER in its PEM blocks; kpki inspects at most 64 KiB/);
  });

  it("a value thousands of characters long in an inventory, config or kubeconfig: one short line that quotes the start of it", async () => {
    const long = "x!".repeat(1_500);
    const cases: [string[], string, string][] = [
      [["node", "check", "--inventory"], "hosts.yaml", `hosts:\n  - ${long}\n`],
      [["init", "--dir", path.join(root, "never"), "--config"], "kpki.yaml", `? "${long}"\n: 1\n`], // an explicit key: implicit ones stop at 1024 characters
      [["init", "--dir", path.join(root, "never"), "--config"], "kubeadm.yaml", `apiVersion: ${long}\nkind: InitConfiguration\n`],
      [["token", "list", "--kubeconfig"], "admin.conf", `apiVersion: v1\nkind: Config\ncurrent-context: ${long}\ncontexts: []\n`],
    ];
    for (const [args, name, text] of cases) {
      const target = file(name, text);
      const result = await runCli([...args, target]);
      expectInputError(result, target, /"(x!){40}…" \(3000 characters\)/);
      expect(result.stderr.length, result.stderr).toBeLessThan(600); // the fuzz bound; 3,000 characters before
    }
  });

  it("token verify --ca of a damaged CA certificate: exit 2 before any connection", async () => {
    const target = file("ca.crt", truncatedCertificate());
    const result = await runCli(["token", "verify", "--server", "https://127.0.0.1:1", "--token", "abcdef.0123456789abcdef", "--ca", target]);
    expectInputError(result, target);
  });

  it("YAML nested thousands of levels deep, an alias bomb, 5,001 lines, 10,400 values: --config, --inventory, --kubeconfig", async () => {
    for (const yaml of [deepYaml(5000), aliasBomb(), "- a\n".repeat(5_001), "- { a: [1, 2, 3], b: x }\n".repeat(1_300)]) {
      const config = file("kpki.yaml", yaml);
      expectInputError(await runCli(["init", "--config", config, "--dir", path.join(root, "never")]), config);
      const inventory = file("hosts.yaml", yaml);
      expectInputError(await runCli(["node", "check", "--inventory", inventory]), inventory);
      const kubeconfig = file("admin.conf", yaml);
      expectInputError(await runCli(["token", "list", "--kubeconfig", kubeconfig]), kubeconfig);
    }
    expect(readdirSync(root)).not.toContain("never");
  });

  it("a --kubeconfig whose CA, client certificate or client key is damaged (TLS's bare OpenSSL errors): exit 2 naming the field", async () => {
    const good = readFileSync(path.join(pki, "ca.crt"), "utf8");
    const kubeconfig = (ca: string, cert: string, key: string) =>
      [
        "apiVersion: v1", "kind: Config", "current-context: x",
        "clusters:", "- name: c", "  cluster:", "    server: https://127.0.0.1:1", `    certificate-authority-data: ${Buffer.from(ca).toString("base64")}`,
        "users:", "- name: u", "  user:", `    client-certificate-data: ${Buffer.from(cert).toString("base64")}`, `    client-key-data: ${Buffer.from(key).toString("base64")}`,
        "contexts:", "- name: x", "  context: {cluster: c, user: u}", "",
      ].join("\n");
    const cases: [string, string, string, string][] = [
      ["certificate-authority", truncatedCertificate(), good, ecKeyLongScalar()],
      ["client-certificate", good, "junk", ecKeyLongScalar()],
      ["client-key", good, good, ecKeyLongScalar()],
    ];
    for (const [field, ca, cert, key] of cases) {
      const target = file("admin.conf", kubeconfig(ca, cert, key));
      expectInputError(await runBin(["token", "list", "--kubeconfig", target]), `${target}: ${field}`);
    }
  });

  it("cert inspect of 1 MB of repeated BEGIN lines ends at once in exit 2 (the PEM scan is linear)", async () => {
    const target = file("begins.pem", repeatedBeginLines(1_000_000));
    expectInputError(await runCli(["cert", "inspect", target]), target, /no PEM block/);
  });

  it("a file above the size cap is refused with the cap named", async () => {
    const target = file("big.pem", Buffer.alloc(2 * 1024 * 1024, 0x41));
    expectInputError(await runCli(["cert", "inspect", target]), target, /larger than 1 MiB/);
  });
});

describe("the signing policy refuses what it cannot vouch for, naming the CSR field", () => {
  for (const bytes of [0, 5, 17]) {
    it(`an IP SAN of ${bytes} bytes`, async () => {
      const target = file("ip.csr", await csrWithExtension(SAN, ipSanOfLength(bytes)));
      expectInputError(await runCli(["cert", "sign", "--csr", target, "--profile", "server", "--dir", cluster]), target, new RegExp(`subjectAltName has an iPAddress of ${bytes} bytes`));
    });
  }

  it("4- and 16-byte IP SANs are signed", async () => {
    for (const bytes of [4, 16]) {
      const target = file("ip.csr", await csrWithExtension(SAN, ipSanOfLength(bytes)));
      const result = await runCli(["cert", "sign", "--csr", target, "--profile", "server", "--dir", cluster]);
      expect(result.exitCode, result.stderr).toBe(0);
    }
  });

  it("an RSA-1024 key", async () => {
    const target = file("weak.csr", await rsaCsr(1024));
    expectInputError(await runCli(["cert", "sign", "--csr", target, "--profile", "client", "--dir", cluster]), target, /subjectPublicKeyInfo is an RSA key of 1024 bits/);
  });

  it("an invalid DNS SAN", async () => {
    const target = file("dns.csr", await csrWithExtension(SAN, Buffer.from([0x30, 0x0b, 0x82, 0x09, ...Buffer.from("bad_name!")])));
    expectInputError(await runCli(["cert", "sign", "--csr", target, "--profile", "client", "--dir", cluster]), target, /subjectAltName DNS:bad_name! is not a valid DNS name/);
  });
});

describe("standard input and certs renew", () => {
  it("cert sign --csr - and cert inspect - read standard input", async () => {
    const csr = await csrWithExtension(SAN, ipSanOfLength(4));
    const signed = await runCli(["cert", "sign", "--csr", "-", "--profile", "server", "--dir", cluster], { stdin: csr });
    expect(signed.exitCode, signed.stderr).toBe(0);
    expect(signed.stdout).toContain("-----BEGIN CERTIFICATE-----");
    const inspected = await runCli(["cert", "inspect", "-"], { stdin: signed.stdout });
    expect(inspected.exitCode, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain("CN=hostile");
    expectInputError(await runCli(["cert", "inspect", "-"], { stdin: "garbage" }), "standard input");
  });

  it("every other reader of - names standard input in its errors, not \"-\"", async () => {
    const cases: [string[], string][] = [
      [["init", "--config", "-", "--dir", path.join(root, "stdin-init")], "masterIp: [\n"],
      [["init", "--config", "-", "--dir", path.join(root, "stdin-init")], "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint: { advertiseAddress: 7 }\n"],
      [["ca", "hash", "-"], "garbage"],
      [["cert", "verify", "-", "--ca", path.join(pki, "ca.crt")], "garbage"],
      [["cert", "verify", path.join(pki, "apiserver.crt"), "--ca", "-"], "garbage"],
      [["node", "check", "--inventory", "-"], "hosts: [\n"],
    ];
    for (const [args, stdin] of cases) {
      const result = await runCli(args, { stdin });
      expectInputError(result, "standard input");
      expect(result.stderr, args.join(" ")).not.toMatch(/(^|[\s(])-:|"-"/);
    }
  });

  it("certs renew with an unknown name beside all: exit 2, nothing renewed", async () => {
    const before = await snapshot(root);
    const result = await runCli(["certs", "renew", "nope", "all", "--dir", cluster]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/"nope" is not in kpki's catalog/);
    expect(await snapshot(root)).toEqual(before);
  });
});

describe("subject text is written as given, never read as RFC 4514", () => {
  it("a leading #, quotes and backslashes in --ca-cn reach the certificate unchanged, as OpenSSL reads it", async () => {
    // @peculiar/x509 reads a bare "#…" as hex-encoded DER (kpki crashed on "#abc") and drops quotes and backslash escapes.
    for (const [index, commonName] of ["#abc", "#0c03616263", 'my "ca"', "a\\0ab", "\\,x"].entries()) {
      const dir = path.join(root, `subject-${index}`);
      const result = await runBin(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--ca-cn", commonName, "--only", "apiserver", "--dir", dir, "-o", "json"]);
      expect(result.exitCode, result.stderr).toBe(0);
      const ca = (JSON.parse(result.stdout) as { entries: { name: string; subject: string }[] }).entries.find((entry) => entry.name === "ca")!;
      const certificate = readFileSync(path.join(dir, "pki", "ca.crt"));
      expect(new x509.X509Certificate(certificate).subjectName.getField("CN")).toEqual([commonName]);
      expect(new X509Certificate(certificate).subject).toBe(ca.subject);
    }
  });
});
