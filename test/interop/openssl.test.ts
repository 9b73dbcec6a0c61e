import { createHash, generateKeyPairSync } from "node:crypto";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it, beforeAll } from "vitest";
import { runCli } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { KEYGEN_CASES } from "../support/keygens.js";
import { havePeer } from "../support/peers.js";
import { snapshot, tempDir } from "../support/tmp.js";

const root = tempDir();

/** kubeadm's documented pin pipeline: openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256. */
async function opensslPin(certFile: string): Promise<string> {
  const pubkey = await openssl(["x509", "-pubkey", "-noout", "-in", certFile]);
  // The DER as written: execa would otherwise drop a last byte that happens to be 0x0a.
  const der = await execa("openssl", ["pkey", "-pubin", "-outform", "der"], { input: pubkey.stdout, encoding: "buffer", stripFinalNewline: false });
  return `sha256:${createHash("sha256").update(der.stdout).digest("hex")}`;
}

const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");

describe.skipIf(!hasOpenssl).each(KEYGEN_CASES)("openssl accepts kpki init output (%s, --keygen %s)", (keyType, keygen) => {
  const dir = path.join(root, `${keyType}-${keygen}`, "pki");
  const file = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    const result = await runCli([
      // --only apiserver: this suite is about the CA + API server pair, per key type.
      "init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), "--only", "apiserver", "--key-type", keyType, "--keygen", keygen,
      "--node-name", "cp-1", "--san", "api.example.com", "--san", "2001:db8::7", "--emit-openssl-conf",
    ]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
  });

  it("verifies the API server certificate strictly for its IP and service name", async () => {
    for (const check of [["-verify_ip", "192.0.2.10"], ["-verify_ip", "10.96.0.1"], ["-verify_ip", "2001:db8::7"],
      ["-verify_hostname", "kubernetes.default.svc"], ["-verify_hostname", "cp-1"], ["-verify_hostname", "api.example.com"]]) {
      const result = await openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", file("ca.crt"), ...check, file("apiserver.crt")]);
      expect(result.stdout + result.stderr, check.join(" ")).toContain("apiserver.crt: OK");
    }
    const client = await openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", file("ca.crt"), file("apiserver.crt")]);
    expect(client.exitCode).toBe(0);
  });

  it("refuses a name or IP the certificate does not cover", async () => {
    const wrongIp = await openssl(["verify", "-x509_strict", "-CAfile", file("ca.crt"), "-verify_ip", "192.0.2.11", file("apiserver.crt")]);
    expect(wrongIp.exitCode).not.toBe(0);
    const wrongName = await openssl(["verify", "-x509_strict", "-CAfile", file("ca.crt"), "-verify_hostname", "evil.example.com", file("apiserver.crt")]);
    expect(wrongName.exitCode).not.toBe(0);
  });

  it("shows every SAN and extension in openssl x509 -text", async () => {
    const { stdout } = await openssl(["x509", "-in", file("apiserver.crt"), "-noout", "-text"]);
    const sans = stdout.match(/X509v3 Subject Alternative Name: *\n\s*(.*)/)![1]!;
    expect(sans.split(", ")).toEqual([
      "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster",
      "DNS:kubernetes.default.svc.cluster.local", "DNS:cp-1", "DNS:api.example.com",
      "IP Address:192.0.2.10", "IP Address:10.96.0.1", "IP Address:2001:DB8:0:0:0:0:0:7",
    ]);
    expect(stdout).toMatch(/X509v3 Basic Constraints: critical\n\s*CA:FALSE/);
    const keyUsage = keyType.startsWith("rsa") ? "Digital Signature, Key Encipherment" : "Digital Signature";
    expect(stdout).toMatch(new RegExp(`X509v3 Key Usage: critical\\n\\s*${keyUsage}\\n`));
    expect(stdout).toMatch(/X509v3 Extended Key Usage: *\n\s*TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(stdout).toContain("X509v3 Subject Key Identifier");
    expect(stdout).toContain("Subject: CN = kube-apiserver");
    expect(stdout).toContain("Issuer: CN = kubernetes");
    expect(stdout).toContain(keyType === "ecdsa-p384" ? "ecdsa-with-SHA384" : keyType.startsWith("rsa") ? "sha256WithRSAEncryption" : "ecdsa-with-SHA256");
    // AKI equals the CA's SKI
    const ca = (await openssl(["x509", "-in", file("ca.crt"), "-noout", "-text"])).stdout;
    const caSki = ca.match(/Subject Key Identifier: *\n\s*(\S+)/)![1];
    expect(stdout.match(/Authority Key Identifier: *\n\s*(?:keyid:)?(\S+)/)![1]).toBe(caSki);
    expect(ca).toMatch(/X509v3 Basic Constraints: critical\n\s*CA:TRUE/);
    expect(ca).toMatch(/X509v3 Key Usage: critical\n\s*Digital Signature, Certificate Sign, CRL Sign/);
  });

  it("backdates NotBefore five minutes, lasts 365 days, and uses a random positive 64+ bit serial", async () => {
    const { stdout } = await openssl(["x509", "-in", file("apiserver.crt"), "-noout", "-startdate", "-enddate", "-serial"]);
    const start = new Date(stdout.match(/notBefore=(.*)/)![1]!);
    const end = new Date(stdout.match(/notAfter=(.*)/)![1]!);
    const serial = stdout.match(/serial=(\w+)/)![1]!;
    expect(Date.now() - start.getTime()).toBeGreaterThanOrEqual(5 * 60 * 1000 - 2000);
    // Five minutes of slack on top: init ran in beforeAll, and RSA-4096 from OpenSSL's generator is slow on a busy machine.
    expect(Date.now() - start.getTime()).toBeLessThan(10 * 60 * 1000);
    expect(Math.round((end.getTime() - Date.now()) / 86_400_000)).toBe(365);
    expect(serial.length).toBeGreaterThanOrEqual(16);
    expect(parseInt(serial.slice(0, 2), 16)).toBeLessThan(0x80);
  });

  it("writes a CSR openssl req -verify accepts, with the SANs in its extensionRequest", async () => {
    const result = await openssl(["req", "-in", file("apiserver.csr"), "-verify", "-noout", "-text"]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr + result.stdout).toMatch(/verify OK/i);
    expect(result.stdout).toContain("Requested Extensions");
    expect(result.stdout).toContain("DNS:kubernetes.default.svc.cluster.local");
  });

  it("writes keys as kubeadm does: PKCS#1 or SEC1, mode 0600; certificates 0644", async () => {
    const key = readFileSync(file("apiserver.key"), "utf8");
    expect(key).toMatch(keyType.startsWith("rsa") ? /^-----BEGIN RSA PRIVATE KEY-----/ : /^-----BEGIN EC PRIVATE KEY-----/);
    const { statSync } = await import("node:fs");
    expect(statSync(file("ca.key")).mode & 0o777).toBe(0o600);
    expect(statSync(file("apiserver.key")).mode & 0o777).toBe(0o600);
    expect(statSync(file("ca.crt")).mode & 0o777).toBe(0o644);
    expect(statSync(file("apiserver.crt")).mode & 0o777).toBe(0o644);
    const check = await openssl(["pkey", "-in", file("apiserver.key"), "-check", "-noout"]);
    expect(check.exitCode).toBe(0);
  });

  it("gives the same CA pin as openssl's pipeline", async () => {
    const result = await runCli(["ca", "hash", file("ca.crt")]);
    expect(result.stdout.trim()).toBe(await opensslPin(file("ca.crt")));
  });

  it("emits an openssl csr.conf whose own instructions reproduce the same extensions, never touching the live files", async () => {
    // The commands the file's header gives, run as written in a copy of the PKI folder.
    const work = path.join(root, `${keyType}-${keygen}-reproduce`);
    cpSync(dir, work, { recursive: true });
    const header = readFileSync(file("apiserver.csr.conf"), "utf8").split("\n").filter((line) => line.startsWith("#   ")).map((line) => line.slice(4)).join("\n");
    expect(header).toContain("openssl x509 -req");
    const before = await snapshot(work);
    const ran = await execa("sh", ["-ec", header.replace(/\\\n/g, " ")], { cwd: work, reject: false });
    expect(ran.exitCode, ran.stderr).toBe(0);
    const after = await snapshot(work);
    // Only the two new files: apiserver.crt, apiserver.csr and the CA as they were, no ca.srl.
    expect(Object.keys(after).filter((name) => after[name] !== before[name]).sort()).toEqual(["apiserver-openssl.crt", "apiserver-openssl.csr"]);
    // Same extensions with the same values; openssl orders them as its config lists them.
    const extensions = async (cert: string) =>
      (await openssl(["x509", "-in", cert, "-noout", "-ext", "subjectAltName,keyUsage,extendedKeyUsage,basicConstraints,authorityKeyIdentifier,subjectKeyIdentifier"]))
        .stdout.split(/\n(?=X509v3)/).map((block) => block.trim()).sort();
    expect(await extensions(path.join(work, "apiserver-openssl.crt"))).toEqual(await extensions(file("apiserver.crt")));
  });
});

describe.skipIf(!hasOpenssl)("kpki cert sign signs a CSR that openssl made", () => {
  const dir = path.join(root, "sign", "pki");
  beforeAll(async () => {
    expect((await runCli(["init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), "--only", "apiserver"])).exitCode).toBe(0);
  });

  it("copies the SANs, applies the profile's usages and verifies", async () => {
    const conf = path.join(dir, "client.conf");
    writeFileSync(conf, [
      "[ req ]", "prompt = no", "distinguished_name = dn", "req_extensions = req_ext",
      "[ dn ]", "O = system:nodes", "CN = system:node:worker-1",
      "[ req_ext ]", "subjectAltName = DNS:worker-1, IP:192.0.2.21", "keyUsage = keyCertSign", "",
    ].join("\n"));
    const made = await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "w.key"), "-out", path.join(dir, "w.csr"), "-config", conf]);
    expect(made.exitCode, made.stderr).toBe(0);
    const signed = await runCli(["cert", "sign", "--csr", path.join(dir, "w.csr"), "--profile", "peer", "--dir", path.dirname(dir), "--out", path.join(dir, "w.crt")]);
    expect(signed.stderr).toBe("");
    expect(signed.exitCode).toBe(0);
    const verify = await openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", path.join(dir, "ca.crt"), "-verify_ip", "192.0.2.21", path.join(dir, "w.crt")]);
    expect(verify.stdout).toContain("w.crt: OK");
    const text = (await openssl(["x509", "-in", path.join(dir, "w.crt"), "-noout", "-text"])).stdout;
    expect(text).toContain("Subject: O = system:nodes, CN = system:node:worker-1");
    expect(text).toContain("DNS:worker-1, IP Address:192.0.2.21");
    // The CSR asked for keyCertSign; the profile decides usages, not the CSR.
    expect(text).toMatch(/Key Usage: critical\n\s*Digital Signature, Key Encipherment\n/);
    const keyCheck = await runCli(["cert", "verify", path.join(dir, "w.crt"), "--ca", path.join(dir, "ca.crt"), "--key", path.join(dir, "w.key"), "--host", "worker-1", "--purpose", "client"]);
    expect(keyCheck.exitCode).toBe(0);
  });

  it("refuses a CSR that asks for CA:TRUE, and one whose signature is broken", async () => {
    const caCsr = await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "c.key"), "-out", path.join(dir, "c.csr"),
      "-subj", "/CN=sub-ca", "-addext", "basicConstraints=critical,CA:TRUE"]);
    expect(caCsr.exitCode).toBe(0);
    const refused = await runCli(["cert", "sign", "--csr", path.join(dir, "c.csr"), "--profile", "server", "--dir", path.dirname(dir)]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/CA:TRUE/);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);

    const der = (await openssl(["req", "-in", path.join(dir, "w.csr"), "-outform", "PEM"])).stdout;
    const body = Buffer.from(der.replace(/-----[^-]+-----|\s+/g, ""), "base64");
    body[body.length - 10]! ^= 0xff; // flip bits in the signature
    const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${body.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE REQUEST-----\n`;
    writeFileSync(path.join(dir, "broken.csr"), broken);
    const rejected = await runCli(["cert", "sign", "--csr", path.join(dir, "broken.csr"), "--profile", "client", "--dir", path.dirname(dir)]);
    expect(rejected.exitCode).toBe(2);
    expect(rejected.stderr).toMatch(/signature does not verify/);
  });
});

describe.skipIf(!hasOpenssl)("kpki ca hash of a CA openssl made", () => {
  it("is openssl's pin, also for a public key whose DER ends in a newline byte", async () => {
    const dir = tempDir();
    // About one P-256 key in 256 has an SPKI ending in 0x0a: the byte a text pipeline would eat.
    let key;
    do key = generateKeyPairSync("ec", { namedCurve: "P-256" });
    while (key.publicKey.export({ type: "spki", format: "der" }).at(-1) !== 0x0a);
    writeFileSync(path.join(dir, "ca.key"), key.privateKey.export({ type: "sec1", format: "pem" }), { mode: 0o600 });
    const made = await openssl(["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=kubernetes", "-days", "1",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature", "-out", "ca.crt"], { cwd: dir });
    expect(made.exitCode, made.stderr).toBe(0);
    const pin = await opensslPin(path.join(dir, "ca.crt"));
    expect(pin).toBe(`sha256:${createHash("sha256").update(key.publicKey.export({ type: "spki", format: "der" })).digest("hex")}`);
    const result = await runCli(["ca", "hash", path.join(dir, "ca.crt")]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${pin}\n`);
  });
});

describe.skipIf(!hasOpenssl)("an IPv4-mapped IPv6 SAN", () => {
  it("is written as the IPv4 address, as kubeadm's certificates hold it, so openssl verifies that address", async () => {
    const dir = tempDir();
    const init = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", dir, "--only", "apiserver", "--key-type", "ecdsa-p256", "--san", "::ffff:192.0.2.77"]);
    expect(init.exitCode, init.stderr).toBe(0);
    const cert = path.join(dir, "pki", "apiserver.crt");
    const { stdout } = await openssl(["x509", "-in", cert, "-noout", "-ext", "subjectAltName"]);
    expect(stdout).toContain("IP Address:192.0.2.77");
    expect(stdout).not.toMatch(/FFFF/i);
    const verified = await openssl(["verify", "-x509_strict", "-CAfile", path.join(dir, "pki", "ca.crt"), "-verify_ip", "192.0.2.77", cert]);
    expect(verified.stdout + verified.stderr).toContain("apiserver.crt: OK");
    // kpki's own check takes either form of the address, as Go's does.
    for (const host of ["192.0.2.77", "::ffff:192.0.2.77"]) {
      const checked = await runCli(["cert", "verify", cert, "--ca", path.join(dir, "pki", "ca.crt"), "--host", host]);
      expect(checked.exitCode, `${host}: ${checked.stdout}`).toBe(0);
    }
    // A certificate OpenSSL made holds the 16-byte form: covered for either form too, as Go's clients see it.
    const made = await openssl(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "legacy.key", "-subj", "/CN=legacy", "-days", "1",
      "-addext", "subjectAltName=IP:::ffff:192.0.2.77", "-out", "legacy.crt"], { cwd: dir });
    expect(made.exitCode, made.stderr).toBe(0);
    expect((await openssl(["x509", "-in", path.join(dir, "legacy.crt"), "-noout", "-ext", "subjectAltName"])).stdout).toMatch(/IP Address:0:0:0:0:0:FFFF:C000:24D/);
    for (const host of ["192.0.2.77", "::ffff:192.0.2.77"]) {
      const checked = await runCli(["cert", "verify", path.join(dir, "legacy.crt"), "--ca", path.join(dir, "legacy.crt"), "--host", host]);
      expect(checked.exitCode, `${host}: ${checked.stdout}`).toBe(0);
      expect(checked.stdout, host).toMatch(/legacy\.crt: OK/);
    }
    // Asked again for the same name, init finds the certificate already covers it.
    const again = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", dir, "--only", "apiserver", "--key-type", "ecdsa-p256", "--san", "::ffff:192.0.2.77", "-o", "json"]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).changed).toBe(false);
  });
});
