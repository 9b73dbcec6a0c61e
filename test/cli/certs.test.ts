import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { formatExpiry, parseDuration, shortHumanDuration, type KubeadmCertificate } from "../../src/pki/expiry.js";
import { runCli } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer } from "../support/peers.js";
import { snapshot, tempDir } from "../support/tmp.js";

const root = tempDir("kpki-certs-");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");
const hasKubectl = await havePeer("kubectl", "see https://kubernetes.io/docs/tasks/tools/");

let copies = 0;
/** A copy of a cluster folder (kubeconfigs + pki/), for a test that changes it. */
function copyOf(cluster: string, name: string): string {
  const target = path.join(root, `${++copies}-${name}`);
  cpSync(cluster, target, { recursive: true });
  return target;
}

/** `kpki init` of a whole cluster folder: kubeconfigs in <cluster>, the PKI in <cluster>/pki. */
async function initCluster(name: string, ...extra: string[]): Promise<string> {
  const cluster = path.join(root, name);
  const result = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", cluster, "--node-name", "cp-1", ...extra]);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return cluster;
}

const LEAF_ROWS = [
  "admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client", "controller-manager.conf",
  "etcd-healthcheck-client", "etcd-peer", "etcd-server", "front-proxy-client", "scheduler.conf", "super-admin.conf",
];
const CA_ROWS = ["ca", "etcd-ca", "front-proxy-ca"];
const SIGNED_BY: Record<string, string> = {
  "admin.conf": "ca", apiserver: "ca", "apiserver-etcd-client": "etcd-ca", "apiserver-kubelet-client": "ca",
  "controller-manager.conf": "ca", "etcd-healthcheck-client": "etcd-ca", "etcd-peer": "etcd-ca", "etcd-server": "etcd-ca",
  "front-proxy-client": "front-proxy-ca", "scheduler.conf": "ca", "super-admin.conf": "ca",
};
const CERT_FILES: Record<string, string> = {
  apiserver: "pki/apiserver.crt", "apiserver-etcd-client": "pki/apiserver-etcd-client.crt",
  "apiserver-kubelet-client": "pki/apiserver-kubelet-client.crt", "etcd-healthcheck-client": "pki/etcd/healthcheck-client.crt",
  "etcd-peer": "pki/etcd/peer.crt", "etcd-server": "pki/etcd/server.crt", "front-proxy-client": "pki/front-proxy-client.crt",
  ca: "pki/ca.crt", "etcd-ca": "pki/etcd/ca.crt", "front-proxy-ca": "pki/front-proxy-ca.crt",
};
const DATE = "[A-Z][a-z]{2} \\d{2}, \\d{4} \\d{2}:\\d{2} UTC";

/** kubeadm's output.kubeadm.k8s.io/v1alpha3 Certificate; the tests below check its fields one by one. */
type Row = KubeadmCertificate;
interface Report {
  kind: string;
  apiVersion: string;
  certificates: Row[];
  certificateAuthorities: Row[];
}

/** The two text tables, split into header + rows of whitespace-separated cells (rows keyed by name). */
function tables(stdout: string) {
  const [certs, cas] = stdout.trimEnd().split("\n\n");
  const parse = (block: string) => {
    const [header, ...lines] = block.split("\n");
    // kubeadm writes a missing one as "!MISSING! name": key it by its name all the same.
    return { header: header!, rows: new Map(lines.map((line) => [line.replace(/^!\w+! /, "").split(/\s+/)[0]!, line])) };
  };
  return { certs: parse(certs!), cas: parse(cas!) };
}

async function checkExpiration(cluster: string, ...extra: string[]) {
  return runCli(["certs", "check-expiration", "--dir", cluster, ...extra]);
}

async function reportOf(cluster: string, ...extra: string[]): Promise<Report> {
  const result = await checkExpiration(cluster, "-o", "json", ...extra);
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout) as Report;
}

/** "notAfter=Nov 26 03:39:12 2027 GMT" → kubeadm's "Nov 26, 2027 03:39 UTC", worked out from openssl's text, not kpki's. */
async function opensslExpiry(file: string): Promise<string> {
  const { stdout } = await openssl(["x509", "-in", file, "-noout", "-enddate"]);
  const [, month, day, hh, mm, year] = stdout.match(/notAfter=(\w{3}) +(\d+) (\d{2}):(\d{2}):\d{2} (\d{4}) GMT/)!;
  return `${month} ${day!.padStart(2, "0")}, ${year} ${hh}:${mm} UTC`;
}

/** The base64 PEM in a kubeconfig field, decoded. */
const decoded = (value: string) => Buffer.from(value, "base64").toString();

function kubeconfigOf(file: string) {
  return parseYaml(readFileSync(file, "utf8")) as {
    clusters: { name: string; cluster: Record<string, string> }[];
    contexts: { name: string; context: Record<string, string> }[];
    users: { name: string; user: Record<string, string> }[];
    "current-context": string;
  };
}

async function inspect(file: string) {
  const result = await runCli(["cert", "inspect", file, "-o", "json"]);
  expect(result.exitCode, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown> & { subject: string; altNames: string[]; notAfter: string; serialNumber: string };
}

describe("shortHumanDuration: apimachinery's rules", () => {
  const s = 1000;
  it.each([
    [-2 * s, "<invalid>"],
    [-3600 * s, "<invalid>"],
    [-1999, "0s"], // truncates to -1 s: within the 2 s allowed for clock skew
    [-1 * s, "0s"],
    [-1, "0s"],
    [0, "0s"],
    [999, "0s"],
    [1 * s, "1s"],
    [59 * s + 999, "59s"],
    [60 * s, "1m"],
    [59 * 60 * s + 59 * s, "59m"],
    [3600 * s, "1h"],
    [23 * 3600 * s + 3599 * s, "23h"],
    [24 * 3600 * s, "1d"],
    [364 * 86_400 * s + 86_399 * s, "364d"],
    [365 * 86_400 * s, "1y"],
    [2 * 365 * 86_400 * s - 1, "1y"],
    [3650 * 86_400 * s - 300 * s, "9y"],
    [3650 * 86_400 * s, "10y"],
  ])("%d ms → %s", (ms, expected) => {
    expect(shortHumanDuration(ms)).toBe(expected);
  });
});

describe("parseDuration and formatExpiry", () => {
  it.each([
    ["45s", 45_000],
    ["90m", 90 * 60_000],
    ["12h", 12 * 3_600_000],
    ["30d", 30 * 86_400_000],
    ["2w", 14 * 86_400_000],
    ["1y", 365 * 86_400_000],
    ["0d", 0],
    [" 30d ", 30 * 86_400_000],
    // Go's syntax, as kubeadm's flags take it.
    ["1.5h", 90 * 60_000],
    ["1h30m", 90 * 60_000],
    ["2h45m30.5s", (2 * 3600 + 45 * 60 + 30.5) * 1000],
    ["300ms", 300],
    ["0", 0],
  ])("%j → %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["soon", "", "30", "d", "-5d", "-1h", "30 d", "30D", "30days", "1.5.h", "h1", "99999999999h"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it("formats dates as kubeadm does, in UTC with a zero-padded day", () => {
    expect(formatExpiry(new Date("2027-11-26T03:39:59Z"))).toBe("Nov 26, 2027 03:39 UTC");
    expect(formatExpiry(new Date("2020-01-05T23:06:00Z"))).toBe("Jan 05, 2020 23:06 UTC");
    expect(formatExpiry(new Date("2036-12-31T00:00:00.999Z"))).toBe("Dec 31, 2036 00:00 UTC");
  });
});

/** One full PKI for the whole file: tests that only read it use it, the others a copy. */
let full: Promise<string> | undefined;
const fullCluster = () => (full ??= initCluster("full"));

describe.skipIf(!hasOpenssl)("kpki certs check-expiration", () => {
  let cluster: string;
  beforeAll(async () => {
    cluster = await fullCluster();
  });

  it("prints kubeadm's two tables with every certificate and CA, but not kubelet.conf", async () => {
    const result = await checkExpiration(cluster);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const { certs, cas } = tables(result.stdout);
    expect(certs.header.split(/\s{2,}/)).toEqual(["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"]);
    expect(cas.header.split(/\s{2,}/)).toEqual(["CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"]);
    expect([...certs.rows.keys()]).toEqual(LEAF_ROWS);
    expect([...cas.rows.keys()]).toEqual(CA_ROWS);
    expect(result.stdout).not.toContain("kubelet.conf");
    expect(result.stdout).not.toMatch(/^sa\b/m);
    for (const name of LEAF_ROWS) {
      expect(certs.rows.get(name)).toMatch(new RegExp(`^${name.replace(".", "\\.")}\\s+${DATE}\\s+364d\\s+${SIGNED_BY[name]}\\s+no$`));
    }
    for (const name of CA_ROWS) expect(cas.rows.get(name)).toMatch(new RegExp(`^${name}\\s+${DATE}\\s+9y\\s+no$`));
    // Columns line up under their headings.
    const column = (header: string, title: string) => header.indexOf(title);
    for (const line of certs.rows.values()) {
      expect(line.indexOf(" 364d ") + 1).toBe(column(certs.header, "RESIDUAL TIME"));
      expect(line.search(/ (ca|etcd-ca|front-proxy-ca) /) + 1).toBe(column(certs.header, "CERTIFICATE AUTHORITY"));
    }
  });

  it("shows each expiry as openssl reads it, in kubeadm's format", async () => {
    const { certs, cas } = tables((await checkExpiration(cluster)).stdout);
    for (const [name, file] of Object.entries(CERT_FILES)) {
      const row = certs.rows.get(name) ?? cas.rows.get(name)!;
      expect(row, name).toContain(await opensslExpiry(path.join(cluster, file)));
    }
  });

  it("-o json is kubeadm's output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo, field by field", async () => {
    const result = await checkExpiration(cluster, "-o", "json");
    // kubeadm's printer: four-space indentation, kind and apiVersion first.
    expect(result.stdout).toMatch(/^\{\n {4}"kind": "CertificateExpirationInfo",\n {4}"apiVersion": "output\.kubeadm\.k8s\.io\/v1alpha3",\n/);
    const report = JSON.parse(result.stdout) as Report;
    expect(Object.keys(report)).toEqual(["kind", "apiVersion", "certificates", "certificateAuthorities"]);
    expect(report.certificates.map((row) => row.name)).toEqual(LEAF_ROWS);
    expect(report.certificateAuthorities.map((row) => row.name)).toEqual(CA_ROWS);
    const apiserver = report.certificates.find((row) => row.name === "apiserver")!;
    // metav1.Time marshals as RFC 3339 in UTC, whole seconds; residualTime is int64 seconds.
    expect(apiserver).toEqual({
      name: "apiserver",
      expirationDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      residualTime: expect.any(Number),
      externallyManaged: false,
      caName: "ca",
      missing: false,
    });
    expect(Number.isInteger(apiserver.residualTime)).toBe(true);
    const left = (Date.parse(apiserver.expirationDate!) - Date.now()) / 1000;
    expect(Math.abs(apiserver.residualTime - left)).toBeLessThan(60);
    expect(apiserver.residualTime).toBeGreaterThan(364 * 86_400);
    for (const row of report.certificates) expect(row.caName, row.name).toBe(SIGNED_BY[row.name]);
    // Roots: caName omitted (omitempty), as kubeadm writes them.
    for (const ca of report.certificateAuthorities) {
      expect(Object.keys(ca)).toEqual(["name", "expirationDate", "residualTime", "externallyManaged", "missing"]);
      expect(ca.residualTime).toBeGreaterThan(9 * 365 * 86_400);
    }
  });

  it("--fail-within exits 4 naming what expires within that time, and 0 when nothing does", async () => {
    const soon = await checkExpiration(cluster, "--fail-within", "400d");
    expect(soon.exitCode).toBe(4);
    expect(soon.stderr.trim().split("\n")).toHaveLength(1);
    const named = soon.stderr.trim().replace(/^kpki: .*?: /, "").split(", ");
    expect(named).toEqual(LEAF_ROWS);
    expect(soon.stderr).toMatch(/^kpki: 11 need attention within 400d: /);
    // The tables still print, for a cron mail.
    expect(tables(soon.stdout).certs.rows.size).toBe(11);
    const json = await checkExpiration(cluster, "--fail-within", "400d", "-o", "json");
    expect(json.exitCode).toBe(4);
    expect((JSON.parse(json.stdout) as Report).certificates).toHaveLength(11);

    // 365 days less the seconds since init: 364d and 8759h fall short of it, 8760h does not.
    for (const window of ["30d", "52w", "364d", "8759h"]) {
      const calm = await checkExpiration(cluster, "--fail-within", window);
      expect(calm.stderr, window).toBe("");
      expect(calm.exitCode, window).toBe(0);
    }
    expect((await checkExpiration(cluster, "--fail-within", "8760h")).exitCode).toBe(4);
    // Past the CAs' ten years too: every row.
    const all = await checkExpiration(cluster, "--fail-within", "11y");
    expect(all.exitCode).toBe(4);
    expect(all.stderr).toContain("14 need attention");
  });

  it.each(["soon", "30", "-1d", "30 days", "1.5.h", ""])("--fail-within %j is a usage error", async (value) => {
    const result = await checkExpiration(cluster, `--fail-within=${value}`);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^kpki: --fail-within .* (is not a duration|cannot be negative)/);
  });

  it("reports a PKI folder that does not exist as one line", async () => {
    const result = await runCli(["certs", "check-expiration", "--dir", path.join(root, "nowhere")]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("does not exist");
  });

  it("shows a damaged certificate as unreadable in its row, still lists the others, and fails naming it", async () => {
    const copy = copyOf(cluster, "garbage");
    writeFileSync(path.join(copy, "pki", "apiserver.crt"), "garbage\n");
    const result = await checkExpiration(copy);
    // A check that failed: 4, as for --fail-within.
    expect(result.exitCode).toBe(4);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    const advice = result.stderr.match(/re-issue with (kpki init .*?) \(with the --san, --control-plane-endpoint, --service-cidr the cluster was made with\)\n$/);
    expect(advice?.[1]).toBe(`kpki init --dir ${copy} --master-ip 192.0.2.10 --node-name cp-1 --force --only apiserver`);
    const { certs, cas } = tables(result.stdout);
    expect(certs.rows.get("apiserver")).toMatch(/^!UNREADABLE! apiserver$/);
    for (const name of LEAF_ROWS.filter((candidate) => candidate !== "apiserver")) {
      expect(certs.rows.get(name), name).toMatch(new RegExp(`${DATE}\\s+364d`));
    }
    expect(cas.rows.size).toBe(3);

    const failing = await checkExpiration(copy, "--fail-within", "30d");
    expect(failing.exitCode).not.toBe(0);

    const json = await runCli(["certs", "check-expiration", "--dir", copy, "-o", "json"]);
    expect(json.exitCode).toBe(4);
    const row = JSON.parse(json.stdout).certificates.find((candidate: { name: string }) => candidate.name === "apiserver");
    // kubeadm's schema has no room for "unreadable": a row it cannot use, as kubeadm writes a missing one.
    expect(row).toEqual({ name: "apiserver", expirationDate: null, residualTime: 0, externallyManaged: false, missing: true });

    // And the command it gives, run as given, re-issues it.
    const repaired = await runCli(advice![1]!.split(" ").slice(1));
    expect(repaired.exitCode, repaired.stderr).toBe(0);
    expect((await checkExpiration(copy)).exitCode).toBe(0);
  });

  it("marks a missing certificate or kubeconfig !MISSING!", async () => {
    const copy = copyOf(cluster, "missing");
    rmSync(path.join(copy, "scheduler.conf"));
    rmSync(path.join(copy, "pki", "front-proxy-client.crt"));
    const result = await checkExpiration(copy, "--fail-within", "30d");
    expect(result.exitCode).toBe(4);
    const { certs } = tables(result.stdout);
    expect(certs.rows.get("scheduler.conf")).toMatch(/^!MISSING! scheduler\.conf$/);
    expect(certs.rows.get("front-proxy-client")).toMatch(/^!MISSING! front-proxy-client$/);
    expect(result.stderr).toMatch(/2 need attention within 30d: front-proxy-client, scheduler\.conf$/m);
  });

  it("marks the CA without its key, and everything it signed, EXTERNALLY MANAGED yes", async () => {
    const copy = copyOf(cluster, "external-ca");
    rmSync(path.join(copy, "pki", "ca.key"));
    const result = await checkExpiration(copy);
    expect(result.exitCode).toBe(0);
    const { certs, cas } = tables(result.stdout);
    for (const name of LEAF_ROWS) {
      expect(certs.rows.get(name), name).toMatch(SIGNED_BY[name] === "ca" ? /\s+ca\s+yes$/ : /\s+no$/);
    }
    expect(cas.rows.get("ca")).toMatch(/\s+9y\s+yes$/);
    expect(cas.rows.get("etcd-ca")).toMatch(/\s+no$/);
    expect(cas.rows.get("front-proxy-ca")).toMatch(/\s+no$/);
  });

  it("reads kubeconfigs from --kubeconfig-dir", async () => {
    const copy = copyOf(cluster, "kubeconfig-dir");
    const elsewhere = path.join(copy, "elsewhere");
    mkdirSync(elsewhere);
    for (const file of ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"]) {
      cpSync(path.join(copy, file), path.join(elsewhere, file));
      rmSync(path.join(copy, file));
    }
    const moved = await reportOf(copy, "--kubeconfig-dir", elsewhere);
    expect(moved.certificates.filter((row) => row.missing)).toEqual([]);
    const without = await reportOf(copy);
    expect(without.certificates.filter((row) => row.missing).map((row) => row.name)).toEqual([
      "admin.conf", "controller-manager.conf", "scheduler.conf", "super-admin.conf",
    ]);
  });
});

describe.skipIf(!hasOpenssl)("kpki certs check-expiration with an external etcd", () => {
  it("has no etcd rows at all, and --fail-within does not miss them", async () => {
    const cluster = await initCluster("external-etcd", "--external-etcd");
    const result = await checkExpiration(cluster, "--fail-within", "30d");
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const { certs, cas } = tables(result.stdout);
    expect([...certs.rows.keys()]).toEqual(LEAF_ROWS.filter((name) => !name.includes("etcd")));
    expect([...cas.rows.keys()]).toEqual(["ca", "front-proxy-ca"]);
    expect(result.stdout).not.toContain("etcd");
  });
});

describe.skipIf(!hasOpenssl)("kpki certs renew", () => {
  let cluster: string;
  let ecdsa: string;
  beforeAll(async () => {
    cluster = await fullCluster();
    ecdsa = await initCluster("renew-ecdsa", "--key-type", "ecdsa-p256");
  });

  const renew = (copy: string, ...args: string[]) => runCli(["certs", "renew", ...args, "--dir", copy]);

  /** What changed between two snapshots: file names whose mode or bytes differ, or that appeared or went. */
  function changed(before: Record<string, string>, after: Record<string, string>): string[] {
    return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((file) => before[file] !== after[file]).sort();
  }

  it("renews apiserver: a new key, the same subject, SANs and usages, signed by the unchanged CA", async () => {
    const copy = copyOf(cluster, "renew-apiserver");
    const pki = (name: string) => path.join(copy, "pki", name);
    const before = await snapshot(copy);
    const oldCert = await inspect(pki("apiserver.crt"));
    const oldText = (await openssl(["x509", "-in", pki("apiserver.crt"), "-noout", "-text"])).stdout;

    const result = await renew(copy, "apiserver");
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\s+renewed\s+apiserver\s+expires \d{4}-\d\d-\d\d\s+\S*apiserver\.crt$/m);
    expect(result.stdout).toMatch(/^Restart kube-apiserver so it loads the new certificates/m);

    const after = await snapshot(copy);
    expect(changed(before, after)).toEqual(["pki/apiserver.crt", "pki/apiserver.csr", "pki/apiserver.key"]);
    expect(after["pki/apiserver.key"]!.startsWith("100600 ")).toBe(true);
    expect(after["pki/apiserver.crt"]!.startsWith("100644 ")).toBe(true);

    const newCert = await inspect(pki("apiserver.crt"));
    for (const field of ["subject", "issuer", "altNames", "keyUsages", "extendedKeyUsages", "isCA", "publicKey", "authorityKeyId", "signatureAlgorithm"]) {
      expect(newCert[field], field).toEqual(oldCert[field]);
    }
    expect(newCert.serialNumber).not.toBe(oldCert.serialNumber);
    expect(newCert.subjectKeyId).not.toBe(oldCert.subjectKeyId);
    // openssl agrees on every extension but the key identifiers.
    const newText = (await openssl(["x509", "-in", pki("apiserver.crt"), "-noout", "-text"])).stdout;
    const extensions = (text: string) => text.match(/X509v3 (Basic Constraints|Key Usage|Extended Key Usage|Subject Alternative Name).*\n.*\n/g)!.sort();
    expect(extensions(newText)).toEqual(extensions(oldText));
    expect(extensions(newText)).toHaveLength(4);

    const verified = await openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", pki("ca.crt"), "-verify_ip", "192.0.2.10", pki("apiserver.crt")]);
    expect(verified.stdout).toContain("apiserver.crt: OK");
    const withKey = await runCli(["cert", "verify", pki("apiserver.crt"), "--ca", pki("ca.crt"), "--key", pki("apiserver.key"), "--host", "kubernetes.default.svc"]);
    expect(withKey.exitCode, withKey.stdout).toBe(0);
    // The CSR beside it is the new key's.
    const csrKey = (await openssl(["req", "-in", pki("apiserver.csr"), "-noout", "-pubkey"])).stdout;
    const keyPub = (await openssl(["pkey", "-in", pki("apiserver.key"), "-pubout"])).stdout;
    expect(csrKey).toBe(keyPub);
    // A renewal lasts the default 365 days from now.
    expect(Math.round((Date.parse(newCert.notAfter) - Date.now()) / 86_400_000)).toBe(365);
  });

  it("renews admin.conf: only its client certificate and key change; kubectl still reads it", async () => {
    const copy = copyOf(cluster, "renew-admin");
    const file = path.join(copy, "admin.conf");
    const before = await snapshot(copy);
    const oldText = readFileSync(file, "utf8");
    const old = kubeconfigOf(file);

    const result = await renew(copy, "admin.conf");
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\s+renewed\s+admin\.conf\s+expires/m);
    expect(result.stdout).not.toContain("Restart"); // nothing on the node reads admin.conf
    expect(changed(before, await snapshot(copy))).toEqual(["admin.conf"]);

    const renewed = kubeconfigOf(file);
    const [oldUser, newUser] = [old.users[0]!.user, renewed.users[0]!.user];
    expect(newUser["client-certificate-data"]).not.toBe(oldUser["client-certificate-data"]);
    expect(newUser["client-key-data"]).not.toBe(oldUser["client-key-data"]);
    const strip = (config: ReturnType<typeof kubeconfigOf>) => ({
      ...config,
      users: config.users.map((user) => ({ ...user, user: { ...user.user, "client-certificate-data": "", "client-key-data": "" } })),
    });
    expect(strip(renewed)).toEqual(strip(old));
    expect(renewed.clusters[0]!.cluster.server).toBe("https://192.0.2.10:6443");
    // Line for line: only the two values, the rest of the text as it was.
    const diff = readFileSync(file, "utf8").split("\n").filter((line, index) => line !== oldText.split("\n")[index]);
    expect(diff.map((line) => line.trim().split(":")[0])).toEqual(["client-certificate-data", "client-key-data"]);
    expect(readFileSync(file, "utf8").split("\n")).toHaveLength(oldText.split("\n").length);

    // The new client certificate: same subject, from ca, and the key is its own.
    const certFile = path.join(copy, "admin.crt");
    const keyFile = path.join(copy, "admin.key");
    writeFileSync(certFile, decoded(newUser["client-certificate-data"]!));
    writeFileSync(keyFile, decoded(newUser["client-key-data"]!));
    const subject = (await openssl(["x509", "-in", certFile, "-noout", "-subject"])).stdout;
    expect(subject.trim()).toBe("subject=O = kubeadm:cluster-admins, CN = kubernetes-admin");
    const verified = await openssl(["verify", "-purpose", "sslclient", "-CAfile", path.join(copy, "pki", "ca.crt"), certFile]);
    expect(verified.stdout).toContain(": OK");
    const modulus = async (args: string[]) => (await openssl(args)).stdout;
    expect(await modulus(["pkey", "-in", keyFile, "-pubout"])).toBe(await modulus(["x509", "-in", certFile, "-noout", "-pubkey"]));

    if (hasKubectl) {
      const home = path.join(copy, "home");
      mkdirSync(home);
      const view = await execa("kubectl", ["config", "view", "--flatten", "--kubeconfig", file, "-o", "json"], { reject: false, env: { HOME: home } });
      expect(view.exitCode, view.stderr).toBe(0);
      const parsed = JSON.parse(view.stdout) as { users: { name: string; user: Record<string, string> }[]; "current-context": string };
      expect(parsed["current-context"]).toBe("kubernetes-admin@kubernetes");
      expect(parsed.users[0]!.user["client-certificate-data"]).toBe(newUser["client-certificate-data"]);
    }
  });

  it("renews all: every leaf and kubeconfig but kubelet.conf; no CA, no sa; names what to restart", async () => {
    const copy = copyOf(cluster, "renew-all");
    const before = await snapshot(copy);
    const result = await renew(copy, "all");
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const renewedNames = [...result.stdout.matchAll(/^\s+renewed\s+(\S+)/gm)].map((match) => match[1]).sort();
    expect(renewedNames).toEqual([...LEAF_ROWS].sort());
    const restart = result.stdout.match(/^Restart (.*) so they load the new certificates/m)![1]!.split(", ").sort();
    expect(restart).toEqual(["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]);

    const after = await snapshot(copy);
    expect(changed(before, after)).toEqual([
      "admin.conf", "controller-manager.conf",
      "pki/apiserver-etcd-client.crt", "pki/apiserver-etcd-client.key",
      "pki/apiserver-kubelet-client.crt", "pki/apiserver-kubelet-client.key",
      "pki/apiserver.crt", "pki/apiserver.csr", "pki/apiserver.key",
      "pki/etcd/healthcheck-client.crt", "pki/etcd/healthcheck-client.key",
      "pki/etcd/peer.crt", "pki/etcd/peer.key", "pki/etcd/server.crt", "pki/etcd/server.key",
      "pki/front-proxy-client.crt", "pki/front-proxy-client.key",
      "scheduler.conf", "super-admin.conf",
    ]);
    for (const kept of ["pki/ca.crt", "pki/ca.key", "pki/front-proxy-ca.key", "pki/etcd/ca.key", "pki/sa.key", "pki/sa.pub", "kubelet.conf"]) {
      expect(after[kept], kept).toBe(before[kept]);
    }
    // Each renewed certificate verifies against its unchanged CA.
    for (const [name, ca] of [["etcd/server", "etcd/ca"], ["etcd/peer", "etcd/ca"], ["front-proxy-client", "front-proxy-ca"], ["apiserver-kubelet-client", "ca"]]) {
      const verified = await openssl(["verify", "-CAfile", path.join(copy, "pki", `${ca}.crt`), path.join(copy, "pki", `${name}.crt`)]);
      expect(verified.stdout, name).toContain(": OK");
    }
    // check-expiration still reads everything afterwards.
    const report = await reportOf(copy);
    expect(report.certificates.filter((row) => row.missing)).toEqual([]);
  });

  it("-o json reports each renewal", async () => {
    const copy = copyOf(cluster, "renew-json");
    const result = await renew(copy, "front-proxy-client", "scheduler.conf", "-o", "json");
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as { renewed: { name: string; file: string; subject: string; notAfter: string }[]; restart: string[] };
    expect(report.renewed.map((item) => [item.name, item.subject, item.file])).toEqual([
      ["front-proxy-client", "CN=front-proxy-client", path.join(copy, "pki", "front-proxy-client.crt")],
      ["scheduler.conf", "CN=system:kube-scheduler", path.join(copy, "scheduler.conf")],
    ]);
    expect(report.restart.sort()).toEqual(["kube-apiserver", "kube-scheduler"]);
  });

  describe("refuses, in one line, changing nothing", () => {
    let copy: string;
    let before: Record<string, string>;
    beforeAll(async () => {
      copy = copyOf(cluster, "renew-refused");
      before = await snapshot(copy);
    });

    it.each([
      [["ca"], /ca is a CA: kpki never renews CAs/],
      [["front-proxy-ca"], /front-proxy-ca is a CA/],
      [["etcd-ca"], /etcd-ca is a CA/],
      [["sa"], /sa is a key pair, not a certificate/],
      [["kubelet.conf"], /kubelet\.conf is not renewed: the kubelet rotates its own/],
      [["nope"], /"nope" is not in kpki's catalog; renewable: apiserver, .*, all$/],
      [["apiserver", "ca"], /ca is a CA/],
      [["admin.conf", "nope"], /"nope" is not in kpki's catalog/],
    ])("renew %j", async (names, message) => {
      const result = await renew(copy, ...names);
      expect(result.exitCode).toBe(2);
      expect(result.stdout).toBe("");
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^kpki: /);
      expect(lines[0]).toMatch(message);
      expect(await snapshot(copy)).toEqual(before);
    });

    it("renew with no name, or --days 0, is a usage error", async () => {
      for (const args of [[], ["apiserver", "--days", "0"], ["apiserver", "--key-type", "dsa"]]) {
        const result = await renew(copy, ...args);
        expect(result.exitCode, args.join(" ")).toBe(2);
        expect(result.stderr.trim().split("\n")).toHaveLength(1);
      }
      expect(await snapshot(copy)).toEqual(before);
    });
  });

  it("reports what an externally managed CA (no ca.key) signed as kubeadm does, and leaves it alone", async () => {
    const copy = copyOf(cluster, "renew-external");
    rmSync(path.join(copy, "pki", "ca.key"));
    const before = await snapshot(copy);
    for (const names of [["apiserver"], ["admin.conf"]]) {
      const result = await renew(copy, ...names);
      expect(result.exitCode, names.join(" ")).toBe(0);
      expect(result.stdout).toContain(`Detected external ca, ${names[0]} can't be renewed`);
      expect(await snapshot(copy), names.join(" ")).toEqual(before);
    }
    // What another CA signed still renews, beside the skipped one.
    const mixed = await renew(copy, "front-proxy-client", "apiserver", "-o", "json");
    expect(mixed.exitCode).toBe(0);
    const report = JSON.parse(mixed.stdout);
    expect(report.renewed.map((item: { name: string }) => item.name)).toEqual(["front-proxy-client"]);
    expect(report.skipped).toEqual([{ name: "apiserver", file: path.join(copy, "pki", "apiserver.crt"), reason: "external-ca", ca: "ca" }]);
  });

  it("reports a missing certificate as kubeadm does (MISSING!), writing nothing", async () => {
    const copy = copyOf(cluster, "renew-missing");
    rmSync(path.join(copy, "pki", "front-proxy-client.crt"));
    const before = await snapshot(copy);
    const result = await renew(copy, "front-proxy-client");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^MISSING! front-proxy-client /m);
    expect(await snapshot(copy)).toEqual(before);
  });

  it("--days 30 gives thirty days", async () => {
    const copy = copyOf(cluster, "renew-days");
    const result = await renew(copy, "apiserver-kubelet-client", "controller-manager.conf", "--days", "30");
    expect(result.exitCode, result.stderr).toBe(0);
    const { stdout } = await openssl(["x509", "-in", path.join(copy, "pki", "apiserver-kubelet-client.crt"), "-noout", "-enddate"]);
    const days = (Date.parse(stdout.replace("notAfter=", "")) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThanOrEqual(30);
    const { certs } = tables((await checkExpiration(copy)).stdout);
    expect(certs.rows.get("apiserver-kubelet-client")).toMatch(/\s29d\s/);
    expect(certs.rows.get("controller-manager.conf")).toMatch(/\s29d\s/);
    expect(certs.rows.get("apiserver")).toMatch(/\s364d\s/);
    // Which --fail-within now catches.
    const check = await checkExpiration(copy, "--fail-within", "30d");
    expect(check.exitCode).toBe(4);
    expect(check.stderr.trim()).toBe("kpki: 2 need attention within 30d: apiserver-kubelet-client, controller-manager.conf");
  });

  it("keeps ECDSA keys ECDSA", async () => {
    const copy = copyOf(ecdsa, "renew-ecdsa");
    const result = await renew(copy, "all");
    expect(result.exitCode, result.stderr).toBe(0);
    for (const name of ["apiserver", "etcd/server", "front-proxy-client", "apiserver-etcd-client"]) {
      const key = readFileSync(path.join(copy, "pki", `${name}.key`), "utf8");
      expect(key, name).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
      const cert = await inspect(path.join(copy, "pki", `${name}.crt`));
      expect(cert.publicKey, name).toBe("ECDSA P-256");
      expect(cert.keyUsages, name).toEqual(["digitalSignature"]);
    }
    const admin = kubeconfigOf(path.join(copy, "admin.conf"));
    expect(decoded(admin.users[0]!.user["client-key-data"]!)).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
  });

  it("--key-type changes the algorithm of the new keys", async () => {
    const copy = copyOf(cluster, "renew-key-type");
    const result = await renew(copy, "apiserver", "--key-type", "ecdsa-p384");
    expect(result.exitCode, result.stderr).toBe(0);
    const cert = await inspect(path.join(copy, "pki", "apiserver.crt"));
    expect(cert.publicKey).toBe("ECDSA P-384");
    // Signed by the RSA CA all the same.
    expect(cert.signatureAlgorithm).toBe("sha256WithRSAEncryption");
    const verified = await openssl(["verify", "-CAfile", path.join(copy, "pki", "ca.crt"), path.join(copy, "pki", "apiserver.crt")]);
    expect(verified.stdout).toContain(": OK");
  });
});
