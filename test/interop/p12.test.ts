import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createSecureContext } from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runBin, runCli, type CliResult } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer } from "../support/peers.js";
import { snapshot, tempDir } from "../support/tmp.js";

const root = tempDir("kpki-p12-");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");

const PASSWORD = "correct horse battery staple";
const passwordFile = path.join(root, "pw");
writeFileSync(passwordFile, `${PASSWORD}\nsecond line is ignored\n`, { mode: 0o600 });

/** Every kpki output of this file, to show the password never appears in any. */
const outputs: CliResult[] = [];
const out = path.join(root, "out");
mkdirSync(out);
let files = 0;
const newFile = (name: string) => path.join(out, `${++files}-${name}`);

async function kpki(args: string[], options: { stdin?: string } = {}) {
  const result = await runCli(args, options);
  outputs.push(result);
  return result;
}

/** openssl pkcs12 on a .p12 with the password (via a file, so it is not in any argv). */
const pkcs12 = (file: string, ...args: string[]) => openssl(["pkcs12", "-in", file, "-passin", `file:${passwordFile}`, ...args]);

/** The PEM blocks of a given type in openssl's output. */
const blocks = (text: string, type: string) => text.match(new RegExp(`-----BEGIN ${type}-----[^-]+-----END ${type}-----\\n?`, "g")) ?? [];
const der = (certPem: string) => new X509Certificate(certPem).raw;
const spki = (pem: string) =>
  (pem.includes("CERTIFICATE") ? new X509Certificate(pem).publicKey : createPublicKey(createPrivateKey(pem))).export({ type: "spki", format: "der" });

/** The client certificate, key and CA a kubeconfig embeds. */
function kubeconfigCredentials(file: string) {
  const config = parseYaml(readFileSync(file, "utf8")) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const decode = (value: string) => Buffer.from(value, "base64").toString();
  return {
    cert: decode(config.users[0]!.user["client-certificate-data"]!),
    key: decode(config.users[0]!.user["client-key-data"]!),
    ca: decode(config.clusters[0]!.cluster["certificate-authority-data"]!),
  };
}

/**
 * runBin runs bin/kpki over dist/: builds it with the project's build when
 * it is older than its sources (not always: the build empties dist/ first,
 * under other files' feet).
 */
describe.skipIf(!hasOpenssl)("kpki cert export: PKCS#12 that openssl reads", () => {
  const rsa = path.join(root, "rsa");
  const ecdsa = path.join(root, "ecdsa");
  const only = ["--only", "admin.conf", "--only", "apiserver-kubelet-client"];

  beforeAll(async () => {
    for (const [cluster, keyType] of [[rsa, "rsa-2048"], [ecdsa, "ecdsa-p256"]] as const) {
      const result = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", cluster, "--node-name", "cp-1", "--key-type", keyType, ...only]);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
    }
  });

  const exportOf = (cluster: string, name: string, ...args: string[]) => kpki(["cert", "export", name, "--dir", cluster, ...args]);

  describe("admin.conf with --password-file", () => {
    const file = newFile("admin.p12");
    let result: CliResult;
    beforeAll(async () => {
      result = await exportOf(rsa, "admin.conf", "--password-file", passwordFile, "--out", file);
    });

    it("writes a 0600 file and says what is in it", () => {
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(`wrote ${file}: O=kubeadm:cluster-admins, CN=kubernetes-admin, with its key and CA (AES-256, PBKDF2-HMAC-SHA256, SHA-256 MAC)\n`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    });

    it("openssl pkcs12 -info lists the admin certificate and the CA, AES-256 encrypted", async () => {
      const info = await pkcs12(file, "-info", "-nokeys");
      expect(info.exitCode, info.stderr).toBe(0);
      expect(info.stdout).toContain("subject=O = kubeadm:cluster-admins, CN = kubernetes-admin");
      expect(info.stdout).toMatch(/subject=CN = kubernetes\nissuer=CN = kubernetes/);
      expect(info.stdout).toContain("friendlyName: kubernetes-admin");
      expect(info.stdout).toMatch(/localKeyID: [0-9A-F ]+/);
      // OpenSSL 3's defaults: PBKDF2 with HMAC-SHA256, AES-256-CBC, and a SHA-256 MAC.
      expect(info.stderr).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
      expect(info.stderr).toMatch(/MAC: sha256, Iteration 2048/);
      // The same certificates as admin.conf holds, byte for byte, client first.
      const certs = blocks(info.stdout, "CERTIFICATE");
      expect(certs).toHaveLength(2);
      const admin = kubeconfigCredentials(path.join(rsa, "admin.conf"));
      expect(der(certs[0]!)).toEqual(der(admin.cert));
      expect(der(certs[1]!)).toEqual(der(readFileSync(path.join(rsa, "pki", "ca.crt"), "utf8")));
      expect(der(certs[1]!)).toEqual(der(admin.ca));
      // -clcerts and -cacerts split them the same way.
      expect(blocks((await pkcs12(file, "-nokeys", "-clcerts")).stdout, "CERTIFICATE").map(der)).toEqual([der(admin.cert)]);
      expect(blocks((await pkcs12(file, "-nokeys", "-cacerts")).stdout, "CERTIFICATE").map(der)).toEqual([der(admin.ca)]);
    });

    it("openssl extracts the key (-nocerts -nodes), and it is admin.conf's and matches the certificate", async () => {
      const extracted = await pkcs12(file, "-nocerts", "-nodes");
      expect(extracted.exitCode, extracted.stderr).toBe(0);
      const [key] = blocks(extracted.stdout, "PRIVATE KEY");
      expect(key).toBeDefined();
      const keyFile = path.join(out, "admin-extracted.key");
      writeFileSync(keyFile, key!, { mode: 0o600 });
      expect((await openssl(["pkey", "-in", keyFile, "-check", "-noout"])).exitCode).toBe(0);
      const admin = kubeconfigCredentials(path.join(rsa, "admin.conf"));
      expect(spki(key!)).toEqual(spki(admin.cert));
      expect(createPrivateKey(key!).export({ type: "pkcs8", format: "der" })).toEqual(createPrivateKey(admin.key).export({ type: "pkcs8", format: "der" }));
      // And openssl's own check that key and certificate belong together.
      const certFile = path.join(out, "admin-extracted.crt");
      writeFileSync(certFile, admin.cert);
      const check = await openssl(["x509", "-in", certFile, "-noout", "-pubkey"]);
      expect((await openssl(["pkey", "-in", keyFile, "-pubout"])).stdout).toBe(check.stdout);
    });

    it("fails with a wrong password", async () => {
      for (const pass of ["pass:wrong", "pass:", `pass:${PASSWORD.toUpperCase()}`]) {
        const wrong = await openssl(["pkcs12", "-in", file, "-nokeys", "-passin", pass]);
        expect(wrong.exitCode, pass).not.toBe(0);
        expect(wrong.stderr).toMatch(/mac verify error|invalid password/i);
      }
    });

    it("Node's TLS accepts it as a pfx with the password, and not without", () => {
      expect(() => createSecureContext({ pfx: readFileSync(file), passphrase: PASSWORD })).not.toThrow();
      expect(() => createSecureContext({ pfx: readFileSync(file), passphrase: "wrong" })).toThrow(/mac verify failure|password/i);
    });

    it("refuses to overwrite it without --force (exit 3, unchanged), replaces it with --force", async () => {
      const before = await snapshot(out);
      const again = await exportOf(rsa, "super-admin.conf", "--password-file", passwordFile, "--out", file);
      expect(again.exitCode).toBe(3);
      expect(again.stdout).toBe("");
      expect(again.stderr.trim().split("\n")).toHaveLength(1);
      expect(again.stderr).toMatch(/exists.*--force/);
      expect(await snapshot(out)).toEqual(before);

      const copy = newFile("replaced.p12");
      writeFileSync(copy, "old\n", { mode: 0o644 });
      const forced = await exportOf(rsa, "admin.conf", "--password-file", passwordFile, "--out", copy, "--force");
      expect(forced.exitCode, forced.stderr).toBe(0);
      expect(statSync(copy).mode & 0o777).toBe(0o600);
      expect((await pkcs12(copy, "-nokeys", "-clcerts")).stdout).toContain("CN = kubernetes-admin");
    });
  });

  it("--password-stdin reads the password from standard input", async () => {
    const file = newFile("stdin.p12");
    const result = await exportOf(rsa, "admin.conf", "--password-stdin", "--out", file);
    // Empty standard input: an empty password, refused.
    expect(result.exitCode).toBe(2);
    expect(existsSync(file)).toBe(false);

    const piped = await kpki(["cert", "export", "admin.conf", "--dir", rsa, "--password-stdin", "--out", file], { stdin: `${PASSWORD}\r\n` });
    expect(piped.stderr).toBe("");
    expect(piped.exitCode).toBe(0);
    const info = await pkcs12(file, "-nokeys", "-clcerts");
    expect(info.exitCode, info.stderr).toBe(0);
    expect(info.stdout).toContain("subject=O = kubeadm:cluster-admins, CN = kubernetes-admin");
  });

  it("--legacy writes 3DES that openssl reads too", async () => {
    const file = newFile("legacy.p12");
    const result = await exportOf(rsa, "admin.conf", "--password-file", passwordFile, "--out", file, "--legacy");
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("(3DES, SHA-1 MAC (legacy))");
    const info = await pkcs12(file, "-info", "-nokeys");
    expect(info.exitCode, info.stderr).toBe(0);
    expect(info.stderr).toContain("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC");
    expect(info.stderr).not.toContain("AES");
    expect(info.stderr).toMatch(/MAC: sha1,/);
    expect(info.stdout).toContain("subject=O = kubeadm:cluster-admins, CN = kubernetes-admin");
    const key = blocks((await pkcs12(file, "-nocerts", "-nodes")).stdout, "PRIVATE KEY")[0]!;
    expect(spki(key)).toEqual(spki(kubeconfigCredentials(path.join(rsa, "admin.conf")).cert));
    // Old importers use openssl's -legacy provider path; that reads it as well.
    const legacy = await openssl(["pkcs12", "-legacy", "-in", file, "-nokeys", "-passin", `file:${passwordFile}`]);
    expect(legacy.exitCode, legacy.stderr).toBe(0);
  });

  it("works for an ECDSA P-256 PKI", async () => {
    const file = newFile("ecdsa.p12");
    const result = await exportOf(ecdsa, "admin.conf", "--password-file", passwordFile, "--out", file);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const info = await pkcs12(file, "-info", "-nokeys");
    expect(info.exitCode, info.stderr).toBe(0);
    const admin = kubeconfigCredentials(path.join(ecdsa, "admin.conf"));
    expect(blocks(info.stdout, "CERTIFICATE").map(der)).toEqual([der(admin.cert), der(admin.ca)]);
    const key = blocks((await pkcs12(file, "-nocerts", "-nodes")).stdout, "PRIVATE KEY")[0]!;
    expect(createPrivateKey(key).asymmetricKeyDetails).toEqual({ namedCurve: "prime256v1" });
    expect(spki(key)).toEqual(spki(admin.cert));
    expect(() => createSecureContext({ pfx: readFileSync(file), passphrase: PASSWORD })).not.toThrow();
  });

  it("exports a catalog client certificate such as apiserver-kubelet-client", async () => {
    for (const cluster of [rsa, ecdsa]) {
      const file = newFile("kubelet-client.p12");
      const result = await exportOf(cluster, "apiserver-kubelet-client", "--password-file", passwordFile, "--out", file);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const info = await pkcs12(file, "-info", "-nokeys");
      expect(info.stdout).toContain("subject=O = kubeadm:cluster-admins, CN = kube-apiserver-kubelet-client");
      expect(info.stdout).toContain("friendlyName: kube-apiserver-kubelet-client");
      const certs = blocks(info.stdout, "CERTIFICATE");
      expect(der(certs[0]!)).toEqual(der(readFileSync(path.join(cluster, "pki", "apiserver-kubelet-client.crt"), "utf8")));
      expect(der(certs[1]!)).toEqual(der(readFileSync(path.join(cluster, "pki", "ca.crt"), "utf8")));
      const key = blocks((await pkcs12(file, "-nocerts", "-nodes")).stdout, "PRIVATE KEY")[0]!;
      expect(spki(key)).toEqual(spki(readFileSync(path.join(cluster, "pki", "apiserver-kubelet-client.key"), "utf8")));
    }
  });

  it("refuses, in one line and writing nothing: an empty password, both sources, a name that is no client certificate, a missing file", async () => {
    const before = await snapshot(out);
    const file = newFile("refused.p12");
    const empty = path.join(root, "empty-pw");
    writeFileSync(empty, "\nsecond line\n");
    const cases: [string[], { stdin?: string }, number, RegExp][] = [
      [["admin.conf", "--password-file", empty], {}, 2, /the password is empty/],
      [["admin.conf", "--password-stdin"], { stdin: "\n" }, 2, /the password is empty/],
      [["admin.conf", "--password-file", passwordFile, "--password-stdin"], { stdin: PASSWORD }, 2, /either --password-file or --password-stdin/],
      [["admin.conf", "--password-file", path.join(root, "no-such-pw")], {}, 2, /cannot read .*no-such-pw: no such file/],
      [["ca"], {}, 2, /"ca" is not a client certificate of the catalog/],
      [["sa", "--password-file", passwordFile], {}, 2, /"sa" is not a client certificate/],
      [["front-proxy-ca", "--password-file", passwordFile], {}, 2, /is not a client certificate/],
      [["nope.conf", "--password-file", passwordFile], {}, 2, /is not a client certificate/],
      [["front-proxy-client", "--password-file", passwordFile], {}, 2, /front-proxy-client\.crt is missing/],
      [["scheduler.conf", "--password-file", passwordFile], {}, 2, /scheduler\.conf: no such file/],
    ];
    for (const [args, options, code, message] of cases) {
      const result = await kpki(["cert", "export", ...args, "--dir", rsa, "--out", file], options);
      expect(result.exitCode, args.join(" ")).toBe(code);
      expect(result.stdout, args.join(" ")).toBe("");
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
    expect(existsSync(file)).toBe(false);
    expect(await snapshot(out)).toEqual(before);
  });

  describe("the built bin", () => {

    it("without a password source and no terminal, says how to give one and writes nothing", async () => {
      const file = newFile("no-tty.p12");
      const result = await runBin(["cert", "export", "admin.conf", "--dir", rsa, "--out", file]);
      outputs.push(result);
      expect(result.exitCode).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim()).toBe("kpki: no terminal to ask for the password on: give --password-file FILE or --password-stdin");
      expect(existsSync(file)).toBe(false);
    });

    it("reads the password from a pipe, and names the file after the kubeconfig, in the cluster folder, by default", async () => {
      const cwd = newFile("cwd");
      mkdirSync(cwd);
      const result = await runBin(["cert", "export", "admin.conf", "--dir", rsa, "--password-stdin"], { cwd, input: `${PASSWORD}\n` });
      outputs.push(result);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      // Nothing lands outside the cluster folder: not in the current directory.
      expect(existsSync(path.join(cwd, "admin.p12"))).toBe(false);
      const file = path.join(rsa, "admin.p12");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect((await pkcs12(file, "-nokeys", "-clcerts")).stdout).toContain("CN = kubernetes-admin");
      rmSync(file);
    });
  });

  it("never prints the password", () => {
    expect(outputs.length).toBeGreaterThan(15);
    for (const result of outputs) {
      expect(result.stdout).not.toContain(PASSWORD);
      expect(result.stderr).not.toContain(PASSWORD);
      expect(result.stdout + result.stderr).not.toContain("horse");
    }
  });
});
