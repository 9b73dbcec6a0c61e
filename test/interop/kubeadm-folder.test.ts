import { X509Certificate } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer } from "../support/peers.js";
import { snapshot, tempDir } from "../support/tmp.js";

/**
 * A PKI folder as kubeadm (or a hand-run openssl guide) leaves it, made here
 * with openssl alone, key formats mixed as they are in the wild: kpki must
 * read it, renew in it, sign with its CAs, and never replace its CAs.
 */

const root = tempDir("kpki-kubeadm-folder-");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");

type KeyFormat = "pkcs8" | "pkcs1" | "sec1";

interface Leaf {
  name: string;
  base: string;
  ca: string;
  subject: string;
  eku: string;
  sans?: string;
  key: KeyFormat;
}

const CAS = [
  { name: "ca", base: "ca", cn: "kubernetes" },
  { name: "front-proxy-ca", base: "front-proxy-ca", cn: "front-proxy-ca" },
  { name: "etcd-ca", base: "etcd/ca", cn: "etcd-ca" },
];
const API_SANS = "DNS:cp-1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:192.0.2.10";
const ETCD_SANS = "DNS:cp-1,DNS:localhost,IP:192.0.2.10,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1";
// kubeadm's usages: serverAuth for the API server, serverAuth+clientAuth for etcd's server and peer, clientAuth for clients.
const LEAVES: Leaf[] = [
  { name: "apiserver", base: "apiserver", ca: "ca", subject: "/CN=kube-apiserver", eku: "serverAuth", sans: API_SANS, key: "pkcs8" },
  { name: "apiserver-kubelet-client", base: "apiserver-kubelet-client", ca: "ca", subject: "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client", eku: "clientAuth", key: "pkcs1" },
  { name: "front-proxy-client", base: "front-proxy-client", ca: "front-proxy-ca", subject: "/CN=front-proxy-client", eku: "clientAuth", key: "pkcs8" },
  { name: "etcd-server", base: "etcd/server", ca: "etcd/ca", subject: "/CN=cp-1", eku: "serverAuth,clientAuth", sans: ETCD_SANS, key: "sec1" },
  { name: "etcd-peer", base: "etcd/peer", ca: "etcd/ca", subject: "/CN=cp-1", eku: "serverAuth,clientAuth", sans: ETCD_SANS, key: "pkcs1" },
  { name: "etcd-healthcheck-client", base: "etcd/healthcheck-client", ca: "etcd/ca", subject: "/CN=kube-etcd-healthcheck-client", eku: "clientAuth", key: "pkcs8" },
  { name: "apiserver-etcd-client", base: "apiserver-etcd-client", ca: "etcd/ca", subject: "/CN=kube-apiserver-etcd-client", eku: "clientAuth", key: "pkcs8" },
];
const KEY_HEADERS: Record<KeyFormat, string> = { pkcs8: "PRIVATE KEY", pkcs1: "RSA PRIVATE KEY", sec1: "EC PRIVATE KEY" };
const CA_FILES = ["pki/ca.crt", "pki/ca.key", "pki/front-proxy-ca.crt", "pki/front-proxy-ca.key", "pki/etcd/ca.crt", "pki/etcd/ca.key"];

async function run(args: string[]) {
  const result = await openssl(args);
  if (result.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`);
  return result;
}

/** The openssl-only script: CAs, leaves with kubeadm's extensions, sa pair; admin.conf by kpki kubeconfig create. */
async function buildKubeadmFolder(cluster: string): Promise<void> {
  const pki = path.join(cluster, "pki");
  mkdirSync(path.join(pki, "etcd"), { recursive: true });
  const file = (name: string) => path.join(pki, name);
  await Promise.all(
    CAS.map(({ base, cn }) =>
      run([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file(`${base}.key`), "-out", file(`${base}.crt`), "-days", "3650", "-sha256",
        "-subj", `/CN=${cn}`,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        "-addext", `subjectAltName=DNS:${cn}`,
      ]),
    ),
  );
  await Promise.all(
    LEAVES.map(async (leaf) => {
      const key = file(`${leaf.base}.key`);
      if (leaf.key === "pkcs8") await run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key]);
      else if (leaf.key === "pkcs1") await run(["genrsa", "-traditional", "-out", key, "2048"]);
      else await run(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", key]);
      const work = path.join(root, "work", path.basename(cluster), leaf.name);
      mkdirSync(work, { recursive: true });
      const ext = path.join(work, "ext.cnf");
      writeFileSync(ext, [
        "basicConstraints = critical, CA:FALSE",
        `keyUsage = critical, digitalSignature${leaf.key === "sec1" ? "" : ", keyEncipherment"}`,
        `extendedKeyUsage = ${leaf.eku}`,
        "authorityKeyIdentifier = keyid",
        ...(leaf.sans ? [`subjectAltName = ${leaf.sans}`] : []),
        "",
      ].join("\n"));
      await run(["req", "-new", "-key", key, "-subj", leaf.subject, "-out", path.join(work, "req.csr")]);
      await run([
        "x509", "-req", "-in", path.join(work, "req.csr"), "-CA", file(`${leaf.ca}.crt`), "-CAkey", file(`${leaf.ca}.key`),
        "-set_serial", `0x${Math.floor(Math.random() * 2 ** 48).toString(16)}01`, "-days", "365", "-sha256", "-extfile", ext, "-out", file(`${leaf.base}.crt`),
      ]);
    }),
  );
  await run(["genrsa", "-traditional", "-out", file("sa.key"), "2048"]);
  await run(["rsa", "-in", file("sa.key"), "-pubout", "-out", file("sa.pub")]);
  const admin = await runCli([
    "kubeconfig", "create", "--user", "kubernetes-admin", "--group", "kubeadm:cluster-admins", "--server", "https://192.0.2.10:6443",
    "--dir", cluster, "--out", path.join(cluster, "admin.conf"),
  ]);
  if (admin.exitCode !== 0) throw new Error(`kpki kubeconfig create failed: ${admin.stderr}`);
}

let copies = 0;
const copyOf = (cluster: string, name: string) => {
  const target = path.join(root, `${++copies}-${name}`);
  cpSync(cluster, target, { recursive: true });
  return target;
};
const changed = (before: Record<string, string>, after: Record<string, string>) =>
  [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((file) => before[file] !== after[file]).sort();
const text = async (file: string) => (await openssl(["x509", "-in", file, "-noout", "-text"])).stdout;
const extension = (certText: string, name: string) => certText.match(new RegExp(`X509v3 ${name}:.*\\n\\s*(.*)`))?.[1];

describe.skipIf(!hasOpenssl)("kpki on a kubeadm-style folder made with openssl alone", () => {
  const cluster = path.join(root, "kubeadm");
  const pki = (name: string) => path.join(cluster, "pki", name);

  beforeAll(async () => {
    await buildKubeadmFolder(cluster);
  }, 120_000);

  it("the script made what kubeadm would: mixed key formats, CA extensions, etcd/ subfolder", async () => {
    for (const { base } of CAS) {
      expect(readFileSync(pki(`${base}.key`), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      const caText = await text(pki(`${base}.crt`));
      expect(caText).toMatch(/Basic Constraints: critical\n\s*CA:TRUE/);
      expect(caText).toMatch(/Key Usage: critical\n\s*Digital Signature, Key Encipherment, Certificate Sign/);
    }
    for (const leaf of LEAVES) {
      expect(readFileSync(pki(`${leaf.base}.key`), "utf8"), leaf.name).toMatch(new RegExp(`^-----BEGIN ${KEY_HEADERS[leaf.key]}-----`));
      const verified = await openssl(["verify", "-CAfile", pki(`${leaf.ca}.crt`), pki(`${leaf.base}.crt`)]);
      expect(verified.stdout, leaf.name).toContain(": OK");
    }
  });

  it("cert inspect reads every certificate and key", async () => {
    for (const leaf of LEAVES) {
      const cert = await runCli(["cert", "inspect", pki(`${leaf.base}.crt`), "-o", "json"]);
      expect(cert.exitCode, `${leaf.name}: ${cert.stderr}`).toBe(0);
      const info = JSON.parse(cert.stdout) as Record<string, unknown> & { altNames: string[] };
      const issuer = CAS.find((ca) => ca.base === leaf.ca)!.cn;
      expect(info.kind).toBe("certificate");
      expect(info.subject).toBe(leaf.subject.slice(1).split("/").join(", "));
      expect(info.issuer).toBe(`CN=${issuer}`);
      expect(info.isCA).toBe(false);
      expect(info.extendedKeyUsages).toEqual(leaf.eku.split(","));
      expect(info.publicKey).toBe(leaf.key === "sec1" ? "ECDSA P-256" : "RSA 2048");
      expect(info.altNames.length).toBe(leaf.sans ? leaf.sans.split(",").length : 0);
      if (leaf.name === "etcd-server") expect(info.altNames).toEqual(["DNS:cp-1", "DNS:localhost", "IP:192.0.2.10", "IP:127.0.0.1", "IP:::1"]);

      const key = await runCli(["cert", "inspect", pki(`${leaf.base}.key`), "-o", "json"]);
      expect(key.exitCode, `${leaf.name} key: ${key.stderr}`).toBe(0);
      const keyInfo = JSON.parse(key.stdout) as { kind: string; format: string; publicKeySha256: string };
      expect(keyInfo.kind).toBe("private-key");
      expect(keyInfo.format).toBe({ pkcs8: "PKCS#8", pkcs1: "PKCS#1", sec1: "SEC1" }[leaf.key]);
      // The key inspected is the certificate's.
      const verify = await runCli(["cert", "verify", pki(`${leaf.base}.crt`), "--ca", pki(`${leaf.ca}.crt`), "--key", pki(`${leaf.base}.key`)]);
      expect(verify.exitCode, `${leaf.name}: ${verify.stdout}`).toBe(0);
    }
    for (const { base, cn } of CAS) {
      const ca = await runCli(["cert", "inspect", pki(`${base}.crt`), "-o", "json"]);
      expect(ca.exitCode).toBe(0);
      expect(JSON.parse(ca.stdout)).toMatchObject({ subject: `CN=${cn}`, isCA: true, selfSigned: true, altNames: [`DNS:${cn}`] });
    }
    const sa = await runCli(["cert", "inspect", pki("sa.pub"), "-o", "json"]);
    expect(sa.exitCode, sa.stderr).toBe(0);
    const saPub = JSON.parse(sa.stdout) as { kind: string; publicKey: string; publicKeySha256: string };
    expect(saPub).toMatchObject({ kind: "public-key", publicKey: "RSA 2048" });
    const saKey = JSON.parse((await runCli(["cert", "inspect", pki("sa.key"), "-o", "json"])).stdout) as { format: string; publicKeySha256: string };
    expect(saKey.format).toBe("PKCS#1");
    expect(saKey.publicKeySha256).toBe(saPub.publicKeySha256);
  });

  it("certs check-expiration lists them, the missing kubeconfigs as !MISSING!", async () => {
    const result = await runCli(["certs", "check-expiration", "--dir", cluster]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    // kubeadm writes a missing one as "!MISSING! name".
    const rows = new Map(result.stdout.split("\n").map((line) => [line.replace(/^!MISSING! /, "").split(/\s+/)[0]!, line]));
    for (const leaf of LEAVES) {
      const ca = CAS.find((candidate) => candidate.base === leaf.ca)!.name;
      expect(rows.get(leaf.name), leaf.name).toMatch(new RegExp(`^${leaf.name}\\s+[A-Z][a-z]{2} \\d\\d, \\d{4} \\d\\d:\\d\\d UTC\\s+364d\\s+${ca}\\s+no$`));
      // The same expiry openssl reads, to the minute.
      const end = new Date((await openssl(["x509", "-in", pki(`${leaf.base}.crt`), "-noout", "-enddate"])).stdout.replace("notAfter=", ""));
      const month = end.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
      expect(rows.get(leaf.name)).toContain(`${month} ${String(end.getUTCDate()).padStart(2, "0")}, ${end.getUTCFullYear()} ${String(end.getUTCHours()).padStart(2, "0")}:${String(end.getUTCMinutes()).padStart(2, "0")} UTC`);
    }
    expect(rows.get("admin.conf")).toMatch(/^admin\.conf\s+.* UTC\s+364d\s+ca\s+no$/);
    for (const name of ["super-admin.conf", "controller-manager.conf", "scheduler.conf"]) {
      expect(rows.get(name), name).toBe(`!MISSING! ${name}`);
    }
    for (const { name } of CAS) expect(rows.get(name), name).toMatch(/ UTC\s+9y\s+no$/);
    expect(result.stdout).not.toContain("kubelet.conf");

    const failing = await runCli(["certs", "check-expiration", "--dir", cluster, "--fail-within", "30d"]);
    expect(failing.exitCode).toBe(4);
    expect(failing.stderr.trim()).toBe("kpki: 3 need attention within 30d: controller-manager.conf, scheduler.conf, super-admin.conf");
  });

  it("certs renew apiserver: a new key and certificate the openssl CA verifies, subject, SANs and usages kept", async () => {
    const copy = copyOf(cluster, "renew");
    const file = (name: string) => path.join(copy, "pki", name);
    const before = await snapshot(copy);
    const oldText = await text(file("apiserver.crt"));

    const result = await runCli(["certs", "renew", "apiserver", "etcd-server", "apiserver-kubelet-client", "--dir", copy]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(changed(before, await snapshot(copy))).toEqual([
      "pki/apiserver-kubelet-client.crt", "pki/apiserver-kubelet-client.key", "pki/apiserver.crt", "pki/apiserver.key", "pki/etcd/server.crt", "pki/etcd/server.key",
    ]);

    const newText = await text(file("apiserver.crt"));
    expect(newText).toContain("Subject: CN = kube-apiserver");
    expect(newText).toContain("Issuer: CN = kubernetes");
    expect(extension(newText, "Subject Alternative Name")).toBe(extension(oldText, "Subject Alternative Name"));
    // kubeadm's serverAuth only, copied from the old certificate (not kpki's own profile).
    expect(extension(newText, "Extended Key Usage")).toBe("TLS Web Server Authentication");
    expect(extension(newText, "Authority Key Identifier")).toBe(extension(oldText, "Authority Key Identifier"));
    for (const check of [["-verify_ip", "192.0.2.10"], ["-verify_hostname", "kubernetes.default.svc.cluster.local"]]) {
      const verified = await openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", file("ca.crt"), ...check, file("apiserver.crt")]);
      expect(verified.stdout, check.join(" ")).toContain("apiserver.crt: OK");
    }
    expect((await openssl(["pkey", "-in", file("apiserver.key"), "-pubout"])).stdout).toBe((await openssl(["x509", "-in", file("apiserver.crt"), "-noout", "-pubkey"])).stdout);

    // The EC key stays EC, the client keeps its group, both verify against their openssl CA.
    expect(readFileSync(file("etcd/server.key"), "utf8")).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect((await openssl(["verify", "-purpose", "sslserver", "-CAfile", file("etcd/ca.crt"), "-verify_ip", "127.0.0.1", file("etcd/server.crt")])).stdout).toContain(": OK");
    expect(await text(file("apiserver-kubelet-client.crt"))).toContain("Subject: O = kubeadm:cluster-admins, CN = kube-apiserver-kubelet-client");
    expect((await openssl(["verify", "-purpose", "sslclient", "-CAfile", file("ca.crt"), file("apiserver-kubelet-client.crt")])).stdout).toContain(": OK");
  });

  it("certs renew all renews what is there and skips the kubeconfigs kubeadm would have made", async () => {
    const copy = copyOf(cluster, "renew-all");
    const before = await snapshot(copy);
    const result = await runCli(["certs", "renew", "all", "--dir", copy]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const renewed = [...result.stdout.matchAll(/^\s+renewed\s+(\S+)/gm)].map((match) => match[1]).sort();
    expect(renewed).toEqual([...LEAVES.map((leaf) => leaf.name), "admin.conf"].sort());
    const after = await snapshot(copy);
    for (const kept of [...CA_FILES, "pki/sa.key", "pki/sa.pub"]) expect(after[kept], kept).toBe(before[kept]);
  });

  it("cert sign signs an openssl CSR with the openssl CAs", async () => {
    const work = path.join(root, "sign");
    mkdirSync(work);
    const w = (name: string) => path.join(work, name);
    await run(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", w("node.key"), "-out", w("node.csr"),
      "-subj", "/O=system:nodes/CN=system:node:worker-1", "-addext", "subjectAltName=DNS:worker-1,IP:192.0.2.21"]);
    const before = await snapshot(cluster);

    const signed = await runCli(["cert", "sign", "--csr", w("node.csr"), "--profile", "peer", "--dir", cluster, "--out", w("node.crt")]);
    expect(signed.stderr).toBe("");
    expect(signed.exitCode).toBe(0);
    const verified = await openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", pki("ca.crt"), "-verify_ip", "192.0.2.21", w("node.crt")]);
    expect(verified.stdout).toContain("node.crt: OK");
    const nodeText = await text(w("node.crt"));
    expect(nodeText).toContain("Subject: O = system:nodes, CN = system:node:worker-1");
    // Its AKI is the openssl CA's SKI.
    expect(extension(nodeText, "Authority Key Identifier")!.replace(/^keyid:/, "")).toBe(extension(await text(pki("ca.crt")), "Subject Key Identifier"));

    // The etcd CA, by --ca-cert/--ca-key.
    const etcd = await runCli(["cert", "sign", "--csr", w("node.csr"), "--profile", "client", "--ca-cert", pki("etcd/ca.crt"), "--ca-key", pki("etcd/ca.key"), "--out", w("etcd-client.crt")]);
    expect(etcd.exitCode, etcd.stderr).toBe(0);
    expect((await openssl(["verify", "-purpose", "sslclient", "-CAfile", pki("etcd/ca.crt"), w("etcd-client.crt")])).stdout).toContain(": OK");
    expect(new X509Certificate(readFileSync(w("etcd-client.crt"))).issuer).toBe("CN=etcd-ca");

    expect(await snapshot(cluster)).toEqual(before);
  });

  describe("kpki init on the folder", () => {
    const init = (dir: string, ...extra: string[]) =>
      runCli(["init", "--master-ip", "192.0.2.10", "--dir", dir, "--node-name", "cp-1", ...extra]);

    it("keeps every kubeadm certificate (its serverAuth-only API server certificate too) and adds only what is missing", async () => {
      const copy = copyOf(cluster, "init-keeps");
      const before = await snapshot(copy);
      const dryRun = await init(copy, "--dry-run");
      expect(dryRun.exitCode, dryRun.stderr).toBe(0);
      expect(await snapshot(copy)).toEqual(before);

      const result = await init(copy);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      for (const name of ["ca", "front-proxy-ca", "etcd-ca", "sa", "apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd-server", "etcd-peer",
        "etcd-healthcheck-client", "apiserver-etcd-client", "admin.conf"]) {
        expect(result.stdout, name).toMatch(new RegExp(`^\\s+kept\\s+${name.replace(".", "\\.")}\\s`, "m"));
      }
      for (const name of ["super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"]) {
        expect(result.stdout, name).toMatch(new RegExp(`^\\s+created\\s+${name.replace(".", "\\.")}\\s`, "m"));
      }
      const after = await snapshot(copy);
      for (const [file, digest] of Object.entries(before)) expect(after[file], file).toBe(digest);

      // The new kubeconfigs trust the openssl CA, and a second run finds everything in place.
      const report = await runCli(["certs", "check-expiration", "--dir", copy, "--fail-within", "30d"]);
      expect(report.stderr).toBe("");
      expect(report.exitCode).toBe(0);
      const again = await init(copy);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stdout).toContain("Nothing changed");
      expect(await snapshot(copy)).toEqual(after);
    });

    it("refuses another node name in one line naming every certificate it touches, and --force re-issues only those", async () => {
      const copy = copyOf(cluster, "init-node");
      const before = await snapshot(copy);
      const asCp2 = (...extra: string[]) => runCli(["init", "--master-ip", "192.0.2.10", "--dir", copy, "--node-name", "cp-2", ...extra]);
      const otherNode = await asCp2();
      expect(otherNode.exitCode).toBe(3);
      expect(otherNode.stdout).toBe("");
      expect(otherNode.stderr.trim().split("\n")).toHaveLength(1);
      expect(otherNode.stderr).toContain("--force");
      for (const name of ["apiserver", "etcd-server", "etcd-peer"]) expect(otherNode.stderr).toMatch(new RegExp(`${name}: [^|]*cp-2`));
      expect(otherNode.stderr).not.toMatch(/\b(ca|front-proxy-client|admin\.conf):/);
      expect(await snapshot(copy)).toEqual(before);

      const forced = await asCp2("--force");
      expect(forced.exitCode, forced.stderr).toBe(0);
      expect(forced.stdout).toMatch(/^\s+reissued\s+apiserver\s/m);
      const after = await snapshot(copy);
      for (const file of [...CA_FILES, "pki/sa.key", "pki/sa.pub", "admin.conf"]) expect(after[file], file).toBe(before[file]);
      expect(after["pki/apiserver.key"]).not.toBe(before["pki/apiserver.key"]);
      const file = (name: string) => path.join(copy, "pki", name);
      const verified = await openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", file("ca.crt"), "-verify_hostname", "cp-2", file("apiserver.crt")]);
      expect(verified.stdout).toContain("apiserver.crt: OK");
    });

    it("never replaces a CA, even with --force: a CA key that does not match its certificate is an error", async () => {
      const copy = copyOf(cluster, "init-ca-mismatch");
      cpSync(path.join(copy, "pki", "front-proxy-ca.key"), path.join(copy, "pki", "ca.key"));
      const before = await snapshot(copy);
      const result = await init(copy, "--force");
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/ca\.key does not belong to .*ca\.crt/);
      expect(await snapshot(copy)).toEqual(before);
    });
  });
});
