import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { KEY_TYPES } from "../../src/pki/keys.js";
import { runCli } from "../support/cli.js";
import { KEYGEN_CASES } from "../support/keygens.js";
import { havePeer } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

// GnuTLS is a second, independent X.509 implementation: what openssl accepts
// (test/interop/openssl.test.ts) must hold for certtool too.
const root = tempDir();
const hasCerttool = await havePeer("certtool", "apt-get install -y gnutls-bin");

/** Runs certtool; never throws, so a test can look at the exit code. */
async function certtool(args: readonly string[]) {
  // LC_ALL=C: the tests read certtool's (translatable) English messages.
  const result = await execa("certtool", args, { reject: false, encoding: "utf8", stdin: "ignore", env: { LC_ALL: "C" } });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/**
 * The CA + API server pair, per key type: --only apiserver keeps it to two
 * keys and writes no kubeconfigs into the shared root; a fixed node name
 * keeps the SAN list the same on every host.
 */
const INIT = ["init", "--master-ip", "192.0.2.10", "--only", "apiserver", "--node-name", "cp-1"];

async function init(dir: string, ...extra: string[]) {
  const result = await runCli([...INIT, "--dir", path.dirname(dir), ...extra]);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
}

/** The "Public Key ID" sha256 line certtool prints for a key, certificate or request. */
const publicKeyId = (text: string) => text.match(/Public Key ID:\s*\n(?:\s*sha1:\S+\n)?\s*sha256:([0-9a-f]{64})/)?.[1];

/** certtool's description of each key type: algorithm and size or curve. */
const keyDescription: Record<(typeof KEY_TYPES)[number], RegExp> = {
  "rsa-2048": /Public Key Algorithm: RSA[\s\S]*\(2048 bits\)/,
  "rsa-3072": /Public Key Algorithm: RSA[\s\S]*\(3072 bits\)/,
  "rsa-4096": /Public Key Algorithm: RSA[\s\S]*\(4096 bits\)/,
  "ecdsa-p256": /Public Key Algorithm: EC\/ECDSA[\s\S]*SECP256R1/,
  "ecdsa-p384": /Public Key Algorithm: EC\/ECDSA[\s\S]*SECP384R1/,
};

const otherCaDir = path.join(root, "other-ca", "pki");

describe.skipIf(!hasCerttool)("certtool (GnuTLS) accepts kpki init output", () => {
  beforeAll(async () => {
    // A second PKI: its CA has the same name (CN=kubernetes) but another key.
    await init(otherCaDir);
  });

  describe.each(KEYGEN_CASES)("%s, --keygen %s", (keyType, keygen) => {
    const dir = path.join(root, `${keyType}-${keygen}`, "pki");
    const file = (name: string) => path.join(dir, name);
    const verify = (...extra: string[]) =>
      certtool(["--verify", "--load-ca-certificate", file("ca.crt"), "--infile", file("apiserver.crt"), ...extra]);

    beforeAll(async () => {
      await init(dir, "--key-type", keyType, "--keygen", keygen);
    });

    it("verifies the API server certificate against ca.crt", async () => {
      const result = await verify();
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain("Chain verification output: Verified. The certificate is trusted.");
    });

    it("verifies it under the medium profile (kubeadm's RSA 2048 is 112-bit) for a TLS server and a TLS client", async () => {
      for (const purpose of ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]) {
        const result = await verify("--verify-profile", "medium", "--verify-purpose", purpose);
        expect(result.exitCode, `${purpose}: ${result.stdout}${result.stderr}`).toBe(0);
      }
    });

    it("refuses it for a purpose it lacks (code signing)", async () => {
      const result = await verify("--verify-purpose", "1.3.6.1.5.5.7.3.3");
      expect(result.exitCode).not.toBe(0);
      expect(result.stdout).toContain("NOT trusted");
    });

    it("matches the service name, the node's name and IPs, and nothing else", async () => {
      for (const name of ["kubernetes.default.svc", "kubernetes", "kubernetes.default.svc.cluster.local", "cp-1", "192.0.2.10", "10.96.0.1"]) {
        const result = await verify("--verify-hostname", name);
        expect(result.exitCode, `${name}: ${result.stdout}`).toBe(0);
        expect(result.stdout).toContain("Chain verification output: Verified.");
      }
      for (const name of ["evil.example.com", "kubernetes.default.svc.evil.example.com", "192.0.2.11"]) {
        const result = await verify("--verify-hostname", name);
        expect(result.exitCode, name).not.toBe(0);
        expect(result.stdout, name).toContain("The name in the certificate does not match the expected.");
      }
    });

    it("refuses it against another CA with the same name", async () => {
      const result = await certtool(["--verify", "--load-ca-certificate", path.join(otherCaDir, "ca.crt"), "--infile", file("apiserver.crt")]);
      expect(result.exitCode).not.toBe(0);
      expect(result.stdout).toContain("NOT trusted");
    });

    it("parses the API server certificate with --certificate-info", async () => {
      const result = await certtool(["--certificate-info", "--infile", file("apiserver.crt")]);
      expect(result.exitCode, result.stderr).toBe(0);
      const text = result.stdout;
      expect(text).toContain("Version: 3");
      expect(text).toMatch(/\tSubject: CN=kube-apiserver\n/);
      expect(text).toMatch(/\tIssuer: CN=kubernetes\n/);
      expect(text).toMatch(keyDescription[keyType]);
      expect(text).toMatch(/Basic Constraints \(critical\):\s*\n\s*Certificate Authority \(CA\): FALSE/);
      expect(text).toMatch(/Key Purpose \(not critical\):\s*\n\s*TLS WWW Server\.\s*\n\s*TLS WWW Client\./);
      const sans = [...text.matchAll(/^\s*(DNSname|IPAddress): (\S+)$/gm)].map((match) => `${match[1]}:${match[2]}`);
      expect(sans).toEqual([
        "DNSname:kubernetes", "DNSname:kubernetes.default", "DNSname:kubernetes.default.svc",
        "DNSname:kubernetes.default.svc.cluster", "DNSname:kubernetes.default.svc.cluster.local", "DNSname:cp-1",
        "IPAddress:192.0.2.10", "IPAddress:10.96.0.1",
      ]);
      expect(text).toMatch(keyType === "ecdsa-p384" ? /Signature Algorithm: ECDSA-SHA384/ : keyType.startsWith("rsa") ? /Signature Algorithm: RSA-SHA256/ : /Signature Algorithm: ECDSA-SHA256/);
      // certtool's SHA-256 fingerprint is the one kpki reports
      const report = JSON.parse((await runCli([...INIT, "--dir", path.dirname(dir), "--key-type", keyType, "--output", "json"])).stdout);
      const apiserver = report.entries.find((entry: { name: string }) => entry.name === "apiserver");
      const fingerprint = text.match(/sha256:([0-9a-f]{64})/)![1]!;
      expect(apiserver.sha256Fingerprint.replaceAll(":", "").toLowerCase()).toBe(fingerprint);
      // the AKI is the CA's SKI
      const ca = (await certtool(["--certificate-info", "--infile", file("ca.crt")])).stdout;
      const caSki = ca.match(/Subject Key Identifier \(not critical\):\s*\n\s*([0-9a-f]+)/)![1];
      expect(text.match(/Authority Key Identifier \(not critical\):\s*\n\s*([0-9a-f]+)/)![1]).toBe(caSki);
    });

    it("parses the CA certificate with --certificate-info", async () => {
      const result = await certtool(["--certificate-info", "--infile", file("ca.crt")]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/\tSubject: CN=kubernetes\n/);
      expect(result.stdout).toMatch(/Basic Constraints \(critical\):\s*\n\s*Certificate Authority \(CA\): TRUE/);
      expect(result.stdout).toMatch(/Key Usage \(critical\):\s*\n\s*Digital signature\.\s*\n\s*Certificate signing\.\s*\n\s*CRL signing\./);
      expect(result.stdout).toMatch(keyDescription[keyType]);
    });

    it("parses the CSR with --crq-info and checks its self-signature", async () => {
      const result = await certtool(["--crq-info", "--infile", file("apiserver.csr")]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain("Self signature: verified");
      expect(result.stdout).toMatch(/\tSubject: CN=kube-apiserver\n/);
      expect(result.stdout).toMatch(keyDescription[keyType]);
      expect(result.stdout).toContain("DNSname: kubernetes.default.svc.cluster.local");
      expect(result.stdout).toContain("IPAddress: 192.0.2.10");
      expect(result.stdout).toContain("IPAddress: 10.96.0.1");
    });

    it("reads each private key with --key-info, and each matches its certificate", async () => {
      for (const [key, cert] of [["ca.key", "ca.crt"], ["apiserver.key", "apiserver.crt"]] as const) {
        const info = await certtool(["--key-info", "--infile", file(key)]);
        expect(info.exitCode, `${key}: ${info.stderr}`).toBe(0);
        expect(info.stdout).toMatch(keyDescription[keyType]);
        expect(info.stdout).toContain(keyType.startsWith("rsa") ? "-----BEGIN RSA PRIVATE KEY-----" : "-----BEGIN EC PRIVATE KEY-----");
        const certInfo = await certtool(["--certificate-info", "--infile", file(cert)]);
        const keyId = publicKeyId(info.stdout);
        expect(keyId, `${key} has a public key ID`).toBeDefined();
        expect(publicKeyId(certInfo.stdout), `${key} belongs to ${cert}`).toBe(keyId);
      }
      const csrInfo = await certtool(["--crq-info", "--infile", file("apiserver.csr")]);
      expect(publicKeyId(csrInfo.stdout)).toBe(publicKeyId((await certtool(["--key-info", "--infile", file("apiserver.key")])).stdout));
    });
  });
});
