// `kpki init` without --only: kubeadm's whole set of CAs, certificates, the
// service-account key pair and the kubeconfigs beside the PKI folder. The CA +
// API server flow per key type, --force/--dry-run semantics and bad input on
// the CA pair are in init.test.ts, bad-input.test.ts and the interop suites.
import { createPublicKey, X509Certificate } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { EntryReport, InitReport } from "../../src/index.js";
import { runCli, type CliResult } from "../support/cli.js";
import { snapshot, tempDir } from "../support/tmp.js";

// A developer's KPKI_DEBUG would add a stack to errors on purpose; these tests check the user's view.
delete process.env.KPKI_DEBUG;

const root = tempDir("kpki-init-full-");
let count = 0;
/** A fresh, not yet existing parent folder: kubeconfigs land in the PKI folder's parent, so every PKI gets its own. */
const newParent = (name: string) => path.join(root, `${++count}-${name}`);

const MASTER_IP = "192.0.2.10";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const DAY = 86_400_000;

/** kubeadm's /etc/kubernetes/pki, as `kubeadm init` leaves it (plus apiserver.csr, the seed flow's). */
const PKI_FILES = [
  "apiserver-etcd-client.crt", "apiserver-etcd-client.key",
  "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key",
  "apiserver.crt", "apiserver.csr", "apiserver.key",
  "ca.crt", "ca.key",
  "etcd/ca.crt", "etcd/ca.key",
  "etcd/healthcheck-client.crt", "etcd/healthcheck-client.key",
  "etcd/peer.crt", "etcd/peer.key",
  "etcd/server.crt", "etcd/server.key",
  "front-proxy-ca.crt", "front-proxy-ca.key",
  "front-proxy-client.crt", "front-proxy-client.key",
  "sa.key", "sa.pub",
];
const ETCD_FILES = PKI_FILES.filter((file) => file.startsWith("etcd/") || file.startsWith("apiserver-etcd-client."));
const KUBECONFIGS = ["admin.conf", "controller-manager.conf", "kubelet.conf", "scheduler.conf", "super-admin.conf"];
/** The catalog's order, which the report keeps. */
const ENTRY_NAMES = [
  "ca", "apiserver", "apiserver-kubelet-client", "front-proxy-ca", "front-proxy-client",
  "etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client",
  "sa", "admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf",
];

/** `dir` is the PKI folder, <cluster>/pki: --dir names the cluster folder that holds it. */
const initArgs = (dir: string, ...extra: string[]) => ["init", "--master-ip", MASTER_IP, "--dir", path.dirname(dir), ...extra];

/** Runs init, expecting success and a quiet stderr. */
async function init(dir: string, ...extra: string[]): Promise<CliResult> {
  const result = await runCli(initArgs(dir, ...extra));
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return result;
}

async function initJson(dir: string, ...extra: string[]): Promise<InitReport> {
  return JSON.parse((await init(dir, ...extra, "--output", "json")).stdout) as InitReport;
}

const entry = (report: InitReport, name: string): EntryReport => {
  const found = report.entries.find((candidate) => candidate.name === name);
  expect(found, `report has ${name}`).toBeDefined();
  return found!;
};
const changedEntries = (report: InitReport) => report.entries.filter((e) => e.action !== "kept").map((e) => e.name);

/** One clean line on stderr, the exit code, nothing on stdout. */
function expectOneLineError(result: CliResult, exitCode: number, ...says: RegExp[]) {
  const context = `stderr: ${JSON.stringify(result.stderr)}`;
  expect(result.exitCode, context).toBe(exitCode);
  expect(result.stdout, context).toBe("");
  expect(result.stderr, context).toMatch(/^kpki: [^\n]+\n$/);
  expect(result.stderr, context).not.toMatch(/\bNaN\b|\bundefined\b|\[object |internal error/i);
  for (const pattern of says) expect(result.stderr, context).toMatch(pattern);
}

/** Every file under a folder, relative and sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => statSync(path.join(dir, file)).isFile())
    .sort();
}

/** Modification times of every file under a folder. */
function mtimes(dir: string): Record<string, number> {
  return Object.fromEntries(filesUnder(dir).map((file) => [file, statSync(path.join(dir, file)).mtimeMs]));
}

/** The snapshot entries that differ between two snapshots. */
function differing(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((key) => before[key] !== after[key]).sort();
}

const cert = (file: string) => new X509Certificate(readFileSync(file));
const spki = (pem: string | Buffer) => createPublicKey(pem).export({ type: "spki", format: "der" }).toString("base64");

interface Kubeconfig {
  server: string;
  cluster: string;
  caPem: string;
  user: string;
  context: string;
  currentContext: string;
  cert: X509Certificate;
  keyPem: string;
}

/** Reads a kubeconfig with a plain YAML parser (not kpki's), as kubectl would see it. */
function readKubeconfig(file: string): Kubeconfig {
  const doc = parseYaml(readFileSync(file, "utf8"));
  expect(doc).toMatchObject({ apiVersion: "v1", kind: "Config" });
  expect(doc.clusters).toHaveLength(1);
  expect(doc.users).toHaveLength(1);
  expect(doc.contexts).toHaveLength(1);
  const fromBase64 = (value: string) => Buffer.from(value, "base64").toString("utf8");
  const cluster = doc.clusters[0];
  const user = doc.users[0];
  const context = doc.contexts[0];
  expect(context.context).toEqual({ cluster: cluster.name, user: user.name });
  return {
    server: cluster.cluster.server,
    cluster: cluster.name,
    caPem: fromBase64(cluster.cluster["certificate-authority-data"]),
    user: user.name,
    context: context.name,
    currentContext: doc["current-context"],
    cert: new X509Certificate(fromBase64(user.user["client-certificate-data"])),
    keyPem: fromBase64(user.user["client-key-data"]),
  };
}

describe("kpki init makes kubeadm's whole PKI (RSA 2048, the default key type)", () => {
  const parent = newParent("full");
  const dir = path.join(parent, "pki");
  const pki = (file: string) => path.join(dir, file);
  // A fixed node name and two extra etcd SANs; everything else at kubeadm's defaults.
  const args = ["--node-name", "cp-1", "--etcd-san", "etcd.example.com", "--etcd-san", "2001:db8::5"];
  let report: InitReport;
  let original: Record<string, string>;

  beforeAll(async () => {
    report = await initJson(dir, ...args);
    original = await snapshot(parent);
  }, 120_000);

  it("writes exactly kubeadm's files: the PKI in <dir>/pki with etcd/ beneath it, the kubeconfigs in --dir", () => {
    expect(filesUnder(parent)).toEqual([...KUBECONFIGS, ...PKI_FILES.map((file) => `pki/${file}`)].sort());
    expect(report).toMatchObject({ dir, kubeconfigDir: parent, nodeName: "cp-1", dryRun: false, changed: true });
    expect(report.entries.map((e) => [e.name, e.action])).toEqual(ENTRY_NAMES.map((name) => [name, "created"]));
    expect(report.caCertHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Files are named relative to the PKI folder, kubeconfigs relative to theirs.
    expect(entry(report, "etcd-server").files.map((f) => f.file)).toEqual(["etcd/server.key", "etcd/server.crt"]);
    expect(entry(report, "sa").files.map((f) => f.file)).toEqual(["sa.key", "sa.pub"]);
    expect(entry(report, "kubelet.conf").files).toEqual([{ file: "kubelet.conf", action: "created" }]);
  });

  it("uses kubeadm's modes: keys, CSR, sa.pub and kubeconfigs 0600, certificates 0644", () => {
    const expectedMode = (file: string) => (file.endsWith(".crt") ? 0o644 : 0o600);
    for (const file of filesUnder(parent)) expect(statSync(path.join(parent, file)).mode & 0o777, file).toBe(expectedMode(file));
    expect(statSync(pki("sa.pub")).mode & 0o777).toBe(0o600);
    expect(statSync(pki("etcd")).isDirectory()).toBe(true);
  });

  // file, subject as Node prints it, the CA's file, whether it is a CA, extended key usages
  const certs: [string, string, string, boolean, string[] | undefined][] = [
    ["ca", "CN=kubernetes", "ca", true, undefined],
    ["apiserver", "CN=kube-apiserver", "ca", false, [SERVER_AUTH, CLIENT_AUTH]],
    ["apiserver-kubelet-client", "O=kubeadm:cluster-admins\nCN=kube-apiserver-kubelet-client", "ca", false, [CLIENT_AUTH]],
    ["front-proxy-ca", "CN=front-proxy-ca", "front-proxy-ca", true, undefined],
    ["front-proxy-client", "CN=front-proxy-client", "front-proxy-ca", false, [CLIENT_AUTH]],
    ["etcd/ca", "CN=etcd-ca", "etcd/ca", true, undefined],
    ["etcd/server", "CN=cp-1", "etcd/ca", false, [SERVER_AUTH, CLIENT_AUTH]],
    ["etcd/peer", "CN=cp-1", "etcd/ca", false, [SERVER_AUTH, CLIENT_AUTH]],
    ["etcd/healthcheck-client", "CN=kube-etcd-healthcheck-client", "etcd/ca", false, [CLIENT_AUTH]],
    ["apiserver-etcd-client", "CN=kube-apiserver-etcd-client", "etcd/ca", false, [CLIENT_AUTH]],
  ];

  it.each(certs)("%s: the catalog's subject, its CA, usages, validity and an RSA key of its own", (file, subject, caFile, isCa, usages) => {
    const x509 = cert(pki(`${file}.crt`));
    const ca = cert(pki(`${caFile}.crt`));
    expect(x509.subject).toBe(subject);
    expect(x509.issuer).toBe(ca.subject);
    expect(x509.ca).toBe(isCa);
    expect(x509.checkIssued(ca)).toBe(true);
    expect(x509.verify(ca.publicKey)).toBe(true);
    // Not signed by either of the other two CAs.
    for (const otherCa of ["ca", "front-proxy-ca", "etcd/ca"].filter((name) => name !== caFile)) {
      expect(x509.verify(cert(pki(`${otherCa}.crt`)).publicKey), `${file} signed by ${otherCa}`).toBe(false);
    }
    if (isCa) expect(x509.keyUsage ?? []).toEqual([]);
    else expect(x509.keyUsage).toEqual(usages);
    const key = readFileSync(pki(`${file}.key`), "utf8");
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(spki(key)).toBe(spki(x509.publicKey.export({ type: "spki", format: "pem" })));
    const days = Math.round((new Date(x509.validTo).getTime() - Date.now()) / DAY);
    expect(days).toBe(isCa ? 3650 : 365);
    // kubeadm gives a CA a DNS SAN equal to its CN, and a client certificate none.
    if (isCa) expect(x509.subjectAltName).toBe(`DNS:${subject.replace(/^CN=/, "")}`);
    if (usages?.join() === CLIENT_AUTH) expect(x509.subjectAltName).toBeUndefined();
    expect(entry(report, file.replace("/", "-")).sha256Fingerprint).toBe(x509.fingerprint256);
  });

  it("gives every certificate, the sa key and every kubeconfig a key of its own", () => {
    const keys = [
      ...certs.map(([file]) => readFileSync(pki(`${file}.key`), "utf8")),
      readFileSync(pki("sa.key"), "utf8"),
      ...KUBECONFIGS.map((file) => readKubeconfig(path.join(parent, file)).keyPem),
    ];
    expect(keys).toHaveLength(16);
    expect(new Set(keys.map(spki)).size).toBe(16);
  });

  it("gives the API server the node name, the service IP and the advertise address as SANs", () => {
    const apiserver = cert(pki("apiserver.crt"));
    expect(apiserver.subjectAltName).toBe(
      "DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster, " +
        "DNS:kubernetes.default.svc.cluster.local, DNS:cp-1, IP Address:192.0.2.10, IP Address:10.96.0.1",
    );
    // The etcd SANs are etcd's only.
    expect(apiserver.checkHost("etcd.example.com")).toBeUndefined();
    expect(apiserver.checkHost("localhost")).toBeUndefined();
  });

  it.each(["etcd/server", "etcd/peer"])("%s: SANs node name, localhost, the advertise IP, 127.0.0.1, ::1 and each --etcd-san", (file) => {
    const x509 = cert(pki(`${file}.crt`));
    for (const host of ["cp-1", "localhost", "etcd.example.com"]) expect(x509.checkHost(host), host).toBe(host);
    for (const ip of ["192.0.2.10", "127.0.0.1", "::1", "2001:db8::5"]) expect(x509.checkIP(ip), ip).toBe(ip);
    for (const host of ["kubernetes", "kubernetes.default.svc"]) expect(x509.checkHost(host), host).toBeUndefined();
    expect(x509.checkIP("10.96.0.1")).toBeUndefined();
    const name = file.replace("/", "-");
    expect(entry(report, name).altNames).toEqual([
      "DNS:cp-1", "DNS:localhost", "DNS:etcd.example.com", "IP:192.0.2.10", "IP:127.0.0.1", "IP:::1", "IP:2001:db8::5",
    ]);
  });

  it("writes sa.key (PKCS#1 RSA 2048) and sa.pub, its public half as PKIX PEM", () => {
    const key = readFileSync(pki("sa.key"), "utf8");
    const pub = readFileSync(pki("sa.pub"), "utf8");
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(pub).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    expect(createPublicKey(pub).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(spki(pub)).toBe(spki(key));
  });

  // file, subject as Node prints it, server
  const kubeconfigs: [string, string, string][] = [
    ["admin.conf", "O=kubeadm:cluster-admins\nCN=kubernetes-admin", "https://192.0.2.10:6443"],
    ["super-admin.conf", "O=system:masters\nCN=kubernetes-super-admin", "https://192.0.2.10:6443"],
    ["kubelet.conf", "O=system:nodes\nCN=system:node:cp-1", "https://192.0.2.10:6443"],
    ["controller-manager.conf", "CN=system:kube-controller-manager", "https://192.0.2.10:6443"],
    ["scheduler.conf", "CN=system:kube-scheduler", "https://192.0.2.10:6443"],
  ];

  it.each(kubeconfigs)("%s: trusts ca.crt, points at the API server, and holds a client certificate for its user", (file, subject, server) => {
    const conf = readKubeconfig(path.join(parent, file));
    const ca = cert(pki("ca.crt"));
    expect(conf.server).toBe(server);
    expect(conf.cluster).toBe("kubernetes");
    expect(conf.caPem).toBe(readFileSync(pki("ca.crt"), "utf8"));
    expect(conf.cert.subject).toBe(subject);
    const commonName = subject.split("\n").at(-1)!.replace(/^CN=/, "");
    expect(conf.user).toBe(commonName);
    expect(conf.context).toBe(`${commonName}@kubernetes`);
    expect(conf.currentContext).toBe(conf.context);
    expect(conf.cert.checkIssued(ca)).toBe(true);
    expect(conf.cert.verify(ca.publicKey)).toBe(true);
    expect(conf.cert.ca).toBe(false);
    expect(conf.cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(conf.cert.subjectAltName).toBeUndefined();
    expect(spki(conf.keyPem)).toBe(spki(conf.cert.publicKey.export({ type: "spki", format: "pem" })));
    expect(Math.round((new Date(conf.cert.validTo).getTime() - Date.now()) / DAY)).toBe(365);
    expect(entry(report, file)).toMatchObject({ server, sha256Fingerprint: conf.cert.fingerprint256 });
  });

  it("changes nothing on a second run: same bytes and times in the parent folder, everything kept", async () => {
    const times = mtimes(parent);
    const text = await init(dir, ...args);
    for (const name of ENTRY_NAMES) expect(text.stdout).toMatch(new RegExp(`^\\s+kept\\s+${name.replace(".", "\\.")}\\s`, "m"));
    expect(text.stdout).not.toMatch(/\b(created|reissued|signed|completed)\b/);
    expect(text.stdout).toContain("Nothing changed: everything is present and valid.");
    const again = await initJson(dir, ...args);
    expect(again.changed).toBe(false);
    expect(again.entries.map((e) => [e.name, e.action])).toEqual(ENTRY_NAMES.map((name) => [name, "kept"]));
    for (const e of again.entries) expect(e.files.every((f) => f.action === "kept"), e.name).toBe(true);
    expect(again.caCertHash).toBe(report.caCertHash);
    // --force too: everything still fits.
    expect((await initJson(dir, ...args, "--force")).changed).toBe(false);
    expect(await snapshot(parent)).toEqual(original);
    expect(mtimes(parent)).toEqual(times);
  });

  it("reuses sa.key and writes sa.pub again when sa.pub is missing", async () => {
    const saKey = readFileSync(pki("sa.key"));
    rmSync(pki("sa.pub"));
    const again = await initJson(dir, ...args);
    expect(again.changed).toBe(true);
    expect(changedEntries(again)).toEqual(["sa"]);
    expect(entry(again, "sa")).toMatchObject({
      action: "completed",
      reasons: ["sa.pub is missing"],
      files: [{ file: "sa.key", action: "kept" }, { file: "sa.pub", action: "created" }],
    });
    expect(readFileSync(pki("sa.key")).equals(saKey)).toBe(true);
    // sa.pub is derived from sa.key: the same bytes and mode as before, so the whole folder is as it was.
    expect(await snapshot(parent)).toEqual(original);
  });

  it("refuses an sa.pub that does not match sa.key (exit 3), and --force writes it from sa.key", async () => {
    const saKey = readFileSync(pki("sa.key"));
    writeFileSync(pki("sa.pub"), cert(pki("front-proxy-ca.crt")).publicKey.export({ type: "spki", format: "pem" }), { mode: 0o600 });
    const broken = await snapshot(parent);
    const refused = await runCli(initArgs(dir, ...args));
    expectOneLineError(refused, 3, /sa\.pub does not match sa\.key/, /--force/);
    expect(await snapshot(parent)).toEqual(broken);
    const forced = await initJson(dir, ...args, "--force");
    expect(changedEntries(forced)).toEqual(["sa"]);
    expect(entry(forced, "sa").files).toEqual([{ file: "sa.key", action: "kept" }, { file: "sa.pub", action: "replaced" }]);
    expect(readFileSync(pki("sa.key")).equals(saKey)).toBe(true);
    expect(await snapshot(parent)).toEqual(original);
  });

  it("refuses a broken etcd CA as it does the Kubernetes CA (exit 2, even with --force), and writes nothing", async () => {
    const copy = path.join(newParent("broken-etcd-ca"), "pki");
    cpSync(parent, path.dirname(copy), { recursive: true });
    cpSync(path.join(copy, "front-proxy-ca.key"), path.join(copy, "etcd/ca.key"));
    const before = await snapshot(path.dirname(copy));
    for (const extra of [[], ["--force"]]) {
      const result = await runCli(initArgs(copy, ...args, ...extra));
      expectOneLineError(result, 2, /etcd\/ca\.key does not belong to \S*etcd\/ca\.crt/, /never replaces a CA key/);
    }
    expect(await snapshot(path.dirname(copy))).toEqual(before);
  });

  describe("then a --control-plane-endpoint", () => {
    const endpoint = ["--control-plane-endpoint", "lb.example.com:8443"];
    const LB = "https://lb.example.com:8443";
    const LOCAL = "https://192.0.2.10:6443";

    it("refuses it without --force: exit 3, one line naming the API server and the kubeconfigs to change, nothing written", async () => {
      const refused = await runCli(initArgs(dir, ...args, ...endpoint));
      expectOneLineError(refused, 3, /apiserver: it lacks DNS:lb\.example\.com/, /--force/);
      for (const file of ["admin.conf", "super-admin.conf", "kubelet.conf"]) {
        expect(refused.stderr).toContain(`${file}: its server is ${LOCAL}, not ${LB}`);
      }
      // The local components keep talking to this node's API server.
      expect(refused.stderr).not.toContain("controller-manager.conf");
      expect(refused.stderr).not.toContain("scheduler.conf");
      expect(await snapshot(parent)).toEqual(original);

      const plan = await initJson(dir, ...args, ...endpoint, "--force", "--dry-run");
      expect(changedEntries(plan)).toEqual(["apiserver", "admin.conf", "super-admin.conf", "kubelet.conf"]);
      expect(plan.entries.filter((e) => e.action !== "kept").every((e) => e.action === "reissued")).toBe(true);
      expect(await snapshot(parent)).toEqual(original);
    });

    it("with --force replaces only what changed: the CAs, sa.key and the other certificates stay byte-identical", async () => {
      const forced = await initJson(dir, ...args, ...endpoint, "--force");
      expect(changedEntries(forced)).toEqual(["apiserver", "admin.conf", "super-admin.conf", "kubelet.conf"]);
      expect(entry(forced, "apiserver").reasons).toEqual(["it lacks DNS:lb.example.com"]);
      expect(entry(forced, "admin.conf").reasons).toEqual([`its server is ${LOCAL}, not ${LB}`]);
      expect(forced.caCertHash).toBe(report.caCertHash);
      const after = await snapshot(parent);
      expect(differing(original, after)).toEqual([
        "admin.conf", "kubelet.conf", "pki/apiserver.crt", "pki/apiserver.csr", "pki/apiserver.key", "super-admin.conf",
      ]);
      for (const file of ["pki/ca.key", "pki/ca.crt", "pki/sa.key", "pki/sa.pub", "pki/etcd/ca.key", "pki/front-proxy-ca.key"]) {
        expect(after[file], file).toBe(original[file]);
      }
      expect(after["pki/apiserver.key"]!.split(" ")[0]).toBe("100600");
      expect(after["admin.conf"]!.split(" ")[0]).toBe("100600");
    });

    it("is then an API server SAN and the server of admin.conf, super-admin.conf and kubelet.conf; the local components keep the advertise address", async () => {
      const apiserver = cert(pki("apiserver.crt"));
      expect(apiserver.checkHost("lb.example.com")).toBe("lb.example.com");
      expect(apiserver.checkHost("cp-1")).toBe("cp-1");
      expect(apiserver.checkIP("192.0.2.10")).toBe("192.0.2.10");
      expect(apiserver.verify(cert(pki("ca.crt")).publicKey)).toBe(true);
      const servers = Object.fromEntries(KUBECONFIGS.map((file) => [file, readKubeconfig(path.join(parent, file)).server]));
      expect(servers).toEqual({
        "admin.conf": LB, "super-admin.conf": LB, "kubelet.conf": LB,
        "controller-manager.conf": LOCAL, "scheduler.conf": LOCAL,
      });
      // The re-issued kubeconfigs still trust the same CA and carry the same users.
      expect(readKubeconfig(path.join(parent, "kubelet.conf")).cert.subject).toBe("O=system:nodes\nCN=system:node:cp-1");
      expect(readKubeconfig(path.join(parent, "admin.conf")).caPem).toBe(readFileSync(pki("ca.crt"), "utf8"));
      // And the same command now keeps everything.
      const settled = await snapshot(parent);
      expect((await initJson(dir, ...args, ...endpoint)).changed).toBe(false);
      expect(await snapshot(parent)).toEqual(settled);
    });
  });
});

describe("kpki init: the node name and the control-plane endpoint (dry runs: nothing written)", () => {
  const host = hostname().toLowerCase();
  const hostIsDnsName = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(host);

  it("defaults the node name to this host's name, as kubeadm does, and makes it an API server SAN", async () => {
    const parent = newParent("hostname");
    const dir = path.join(parent, "pki");
    const result = await runCli(initArgs(dir, "--dry-run", "-o", "json"));
    if (!hostIsDnsName) {
      // Then kpki must say so and ask for --node-name.
      expectOneLineError(result, 2, /this host's name .* is not a valid DNS-1123 name: give the control-plane node's name with --node-name/);
      return;
    }
    expect(result.stderr).toBe("");
    const report = JSON.parse(result.stdout) as InitReport;
    expect(report.nodeName).toBe(host);
    expect(entry(report, "apiserver").altNames).toContain(`DNS:${host}`);
    expect(entry(report, "etcd-server").subject).toBe(`CN=${host}`);
    expect(entry(report, "etcd-peer").altNames).toContain(`DNS:${host}`);
    expect(entry(report, "kubelet.conf").subject).toContain(`CN=system:node:${host}`);
    const text = await runCli(initArgs(dir, "--dry-run"));
    expect(text.stdout).toContain(`node name ${host}`);
    expect(existsSync(parent)).toBe(false);
  });

  it("takes host[:port], [IPv6]:port and a bare host (then the API server's port) as the endpoint", async () => {
    const parent = newParent("endpoints");
    const dir = path.join(parent, "pki");
    const servers = async (...extra: string[]) => {
      const report = await initJson(dir, "--node-name", "cp-1", "--dry-run", ...extra);
      return { report, servers: Object.fromEntries(KUBECONFIGS.map((file) => [file, entry(report, file).server])) };
    };
    const cases: [string[], string, string, string][] = [
      [["--control-plane-endpoint", "lb.example.com:8443"], "https://lb.example.com:8443", "https://192.0.2.10:6443", "DNS:lb.example.com"],
      [["--control-plane-endpoint", "lb.example.com", "--apiserver-port", "7443"], "https://lb.example.com:7443", "https://192.0.2.10:7443", "DNS:lb.example.com"],
      [["--control-plane-endpoint", "[2001:DB8::1]:443"], "https://[2001:db8::1]:443", "https://192.0.2.10:6443", "IP:2001:db8::1"],
      [["--control-plane-endpoint", "192.0.2.100"], "https://192.0.2.100:6443", "https://192.0.2.10:6443", "IP:192.0.2.100"],
    ];
    for (const [extra, cluster, local, san] of cases) {
      const { report, servers: got } = await servers(...extra);
      expect(got, extra.join(" ")).toEqual({
        "admin.conf": cluster, "super-admin.conf": cluster, "kubelet.conf": cluster,
        "controller-manager.conf": local, "scheduler.conf": local,
      });
      expect(entry(report, "apiserver").altNames, extra.join(" ")).toContain(san);
      expect(entry(report, "apiserver").altNames).toContain("DNS:cp-1");
    }
    expect(existsSync(parent)).toBe(false);
  });

  it.each(["lb:0", "lb:70000", "lb:abc", "lb.example.com:"])("refuses --control-plane-endpoint %s: exit 2, the port named, nothing written", async (value) => {
    const parent = newParent("bad-endpoint");
    const port = value.split(":")[1];
    const result = await runCli(initArgs(path.join(parent, "pki"), "--node-name", "cp-1", "--control-plane-endpoint", value));
    expectOneLineError(result, 2, new RegExp(`^kpki: --control-plane-endpoint: port "${port}" is not a number from 1 to 65535`));
    expect(existsSync(parent)).toBe(false);
  });

  it.each([
    ["Under_Score", /--node-name "Under_Score" is not a valid DNS-1123 name: its label "under_score" contains "_"/],
    ["-cp", /--node-name "-cp" is not a valid DNS-1123 name/],
    ["cp 1", /--node-name "cp 1" is not a valid DNS-1123 name: it contains white space/],
  ])("refuses --node-name %j: exit 2, why, nothing written", async (name, says) => {
    const parent = newParent("bad-node-name");
    // --node-name=VALUE: yargs would read a separate "-cp" as flags.
    const result = await runCli(initArgs(path.join(parent, "pki"), `--node-name=${name}`));
    expectOneLineError(result, 2, says);
    expect(existsSync(parent)).toBe(false);
  });
});

describe("kpki init --external-etcd", () => {
  it("makes everything but etcd's CA and certificates (and the API server's etcd client)", async () => {
    const parent = newParent("external-etcd");
    const dir = path.join(parent, "pki");
    const report = await initJson(dir, "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--external-etcd");
    expect(filesUnder(parent)).toEqual([...KUBECONFIGS, ...PKI_FILES.filter((file) => !ETCD_FILES.includes(file)).map((file) => `pki/${file}`)].sort());
    expect(existsSync(path.join(dir, "etcd"))).toBe(false);
    expect(report.entries.map((e) => e.name)).toEqual(ENTRY_NAMES.filter((name) => !name.startsWith("etcd-") && name !== "apiserver-etcd-client"));
    // A second run keeps it, and does not start on etcd.
    const before = await snapshot(parent);
    expect((await initJson(dir, "--node-name", "cp-1", "--external-etcd")).changed).toBe(false);
    expect(await snapshot(parent)).toEqual(before);
  });

  it("refuses --only with an etcd name: exit 2, one line, nothing written", async () => {
    const parent = newParent("external-etcd-only");
    const result = await runCli(initArgs(path.join(parent, "pki"), "--node-name", "cp-1", "--external-etcd", "--only", "etcd-server"));
    expectOneLineError(result, 2, /--only etcd-server is an etcd certificate, and --external-etcd leaves those out/);
    expect(existsSync(parent)).toBe(false);
  });
});

describe("kpki init --only", () => {
  it("refuses a name not in the catalog: exit 2, one line listing the names, nothing written", async () => {
    const parent = newParent("only-unknown");
    const result = await runCli(initArgs(path.join(parent, "pki"), "--node-name", "cp-1", "--only", "apiserver", "--only", "bogus"));
    expectOneLineError(result, 2, /^kpki: --only bogus is not in kpki's catalog; the names are: ca, apiserver, apiserver-kubelet-client, .*, scheduler\.conf$/m);
    expect(existsSync(parent)).toBe(false);
  });

  it("front-proxy-client makes front-proxy-ca and front-proxy-client only", async () => {
    const parent = newParent("only-front-proxy");
    const dir = path.join(parent, "pki");
    const report = await initJson(dir, "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--only", "front-proxy-client");
    expect(report.entries.map((e) => [e.name, e.action])).toEqual([["front-proxy-ca", "created"], ["front-proxy-client", "created"]]);
    expect(filesUnder(parent)).toEqual(["pki/front-proxy-ca.crt", "pki/front-proxy-ca.key", "pki/front-proxy-client.crt", "pki/front-proxy-client.key"]);
    expect(report.caCertHash).toBeUndefined(); // no Kubernetes CA was made
    const client = cert(path.join(dir, "front-proxy-client.crt"));
    expect(client.subject).toBe("CN=front-proxy-client");
    expect(client.verify(cert(path.join(dir, "front-proxy-ca.crt")).publicKey)).toBe(true);
  });

  it("apiserver makes ca and apiserver only, and no kubeconfigs (the old init)", async () => {
    const parent = newParent("only-apiserver");
    const dir = path.join(parent, "pki");
    const report = await initJson(dir, "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--only", "apiserver");
    expect(report.entries.map((e) => e.name)).toEqual(["ca", "apiserver"]);
    expect(filesUnder(parent)).toEqual(["pki/apiserver.crt", "pki/apiserver.csr", "pki/apiserver.key", "pki/ca.crt", "pki/ca.key"]);
  });

  it("a kubeconfig with --kubeconfig-dir makes ca and it there; the full set later keeps both and adds the rest", async () => {
    const parent = newParent("only-admin");
    const dir = path.join(parent, "pki");
    const confs = path.join(parent, "elsewhere");
    const first = await initJson(dir, "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--only", "admin.conf", "--kubeconfig-dir", confs);
    expect(first).toMatchObject({ kubeconfigDir: confs });
    expect(first.entries.map((e) => e.name)).toEqual(["ca", "admin.conf"]);
    expect(filesUnder(parent)).toEqual(["elsewhere/admin.conf", "pki/ca.crt", "pki/ca.key"]);
    const admin = await snapshot(confs);
    const ca = readFileSync(path.join(dir, "ca.key"));

    const full = await initJson(dir, "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--kubeconfig-dir", confs);
    expect(entry(full, "ca").action).toBe("kept");
    expect(entry(full, "admin.conf").action).toBe("kept");
    expect(full.entries.filter((e) => e.action === "created").map((e) => e.name)).toEqual(ENTRY_NAMES.filter((name) => name !== "ca" && name !== "admin.conf"));
    expect(readFileSync(path.join(dir, "ca.key")).equals(ca)).toBe(true);
    expect((await snapshot(confs))["admin.conf"]).toBe(admin["admin.conf"]);
    expect(filesUnder(confs)).toEqual(KUBECONFIGS);
    expect(filesUnder(parent)).toEqual([...KUBECONFIGS.map((file) => `elsewhere/${file}`), ...PKI_FILES.map((file) => `pki/${file}`)].sort());
  });
});

describe("kpki init --config", () => {
  const configs = path.join(root, "configs");
  mkdirSync(configs, { recursive: true });
  /** Writes a config file outside every PKI's parent, so the parent's listing stays exact. */
  const writeConfig = (name: string, lines: string[]) => {
    const file = path.join(configs, name);
    writeFileSync(file, `${lines.join("\n")}\n`);
    return file;
  };

  it("makes the PKI from a YAML file with masterIp, nodeName and san (and dir)", async () => {
    const parent = newParent("config");
    const dir = path.join(parent, "pki");
    const file = writeConfig("good.yaml", [
      "# kpki init settings",
      "masterIp: 192.0.2.10",
      "nodeName: cp-file",
      "san:",
      "  - api.example.com",
      "  - 192.0.2.200",
      "keyType: ecdsa-p256",
      `dir: ${JSON.stringify(parent)}`,
    ]);
    const result = await runCli(["init", "--config", file, "-o", "json"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as InitReport;
    expect(report).toMatchObject({ dir, kubeconfigDir: parent, nodeName: "cp-file" });
    expect(filesUnder(parent)).toEqual([...KUBECONFIGS, ...PKI_FILES.map((f) => `pki/${f}`)].sort());
    const apiserver = cert(path.join(dir, "apiserver.crt"));
    for (const host of ["api.example.com", "cp-file", "kubernetes.default.svc"]) expect(apiserver.checkHost(host), host).toBe(host);
    for (const ip of ["192.0.2.10", "192.0.2.200", "10.96.0.1"]) expect(apiserver.checkIP(ip), ip).toBe(ip);
    expect(apiserver.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(cert(path.join(dir, "etcd/server.crt")).subject).toBe("CN=cp-file");
    const kubelet = readKubeconfig(path.join(parent, "kubelet.conf"));
    expect(kubelet.cert.subject).toBe("O=system:nodes\nCN=system:node:cp-file");
    expect(kubelet.server).toBe("https://192.0.2.10:6443");
    // The same file again: nothing changes.
    const before = await snapshot(parent);
    const again = await runCli(["init", "--config", file]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("Nothing changed");
    expect(await snapshot(parent)).toEqual(before);
  });

  it("lets a flag override the file, and keeps the file's other settings", async () => {
    const parent = newParent("config-override");
    const file = writeConfig("override.yaml", [
      "masterIp: 192.0.2.10",
      "nodeName: cp-file",
      "san: [api.example.com]",
      "dnsDomain: corp.example",
      "controlPlaneEndpoint: lb.example.com:8443",
    ]);
    const result = await runCli(["init", "--config", file, "--dir", parent, "--node-name", "cp-flag", "--master-ip", "192.0.2.20", "--san", "other.example.com", "--dry-run", "-o", "json"]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as InitReport;
    expect(report.nodeName).toBe("cp-flag");
    const sans = entry(report, "apiserver").altNames;
    // The flags win (a list flag replaces the file's list)...
    expect(sans).toEqual(expect.arrayContaining(["DNS:cp-flag", "IP:192.0.2.20", "DNS:other.example.com"]));
    expect(sans).not.toContain("DNS:cp-file");
    expect(sans).not.toContain("IP:192.0.2.10");
    expect(sans).not.toContain("DNS:api.example.com");
    // ...and what no flag names still comes from the file.
    expect(sans).toEqual(expect.arrayContaining(["DNS:kubernetes.default.svc.corp.example", "DNS:lb.example.com"]));
    expect(entry(report, "admin.conf").server).toBe("https://lb.example.com:8443");
    expect(entry(report, "scheduler.conf").server).toBe("https://192.0.2.20:6443");
    expect(entry(report, "kubelet.conf").subject).toContain("CN=system:node:cp-flag");
    expect(existsSync(parent)).toBe(false);
  });

  const bad: [string, string[], RegExp][] = [
    ["an unknown key", ["masterIp: 192.0.2.10", "nodeName: cp-1", "masterIP: 192.0.2.11"], /:3: unknown key "masterIP": the keys are masterIp, /],
    ["a wrong type", ["masterIp: 192.0.2.10", "", "# validity", "days: ten"], /:4: "days" must be a number$/m],
    ["a string for a list", ["masterIp: 192.0.2.10", "san: api.example.com"], /:2: "san" must be a list of strings$/m],
    ["an unknown key type", ["masterIp: 192.0.2.10", "keyType: rsa-1024"], /:2: "keyType" must be one of rsa-2048, /],
    ["an unknown key generator", ["masterIp: 192.0.2.10", "keygen: go"], /:2: "keygen" must be one of primes, openssl$/m],
    ["YAML that does not parse", ["masterIp: [192.0.2.10"], /:\d+: not valid YAML: /],
    ["a list, not a mapping", ["- masterIp: 192.0.2.10"], /:1: expected a mapping of settings \(key: value\)$/m],
  ];
  it.each(bad)("refuses %s with the file and line: exit 2, nothing written", async (name, lines, says) => {
    const parent = newParent("config-bad");
    const file = writeConfig(`${name.replace(/\W+/g, "-")}.yaml`, lines);
    const result = await runCli(["init", "--config", file, "--dir", parent, "--node-name", "cp-1"]);
    expectOneLineError(result, 2, new RegExp(`^kpki: ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+: `), says);
    expect(existsSync(parent)).toBe(false);
  });

  it("refuses a config file that is not there: exit 2, nothing written", async () => {
    const parent = newParent("config-missing");
    const file = path.join(configs, "nope.yaml");
    const result = await runCli(["init", "--config", file, "--dir", parent]);
    expectOneLineError(result, 2, /cannot read \S*nope\.yaml: no such file/);
    expect(existsSync(parent)).toBe(false);
  });
});

describe("a flag given twice", () => {
  it("is refused when it takes one value, and collected when it is repeatable", async () => {
    const twice = await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "a", "--node-name", "b", "--dry-run", "--dir", "/nonexistent/kpki-test"]);
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr).toBe("kpki: --node-name was given 2 times: give it once (see kpki init --help)\n");
    const result = await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "b", "--san", "x.example.com", "--san", "y.example.com",
      "--only", "apiserver", "--dry-run", "--dir", "/nonexistent/kpki-test", "-o", "json"]);
    expect(result.stderr).toBe("");
    const report = JSON.parse(result.stdout);
    expect(report.entries[1].altNames).toEqual(expect.arrayContaining(["DNS:b", "DNS:x.example.com", "DNS:y.example.com"]));
  });
});
