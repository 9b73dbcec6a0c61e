import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { caCertHash, initPki, KpkiError, parseCertificate, resolveClusterSpec } from "../../src/index.js";
import { repoRoot, runBin, runCli } from "../support/cli.js";
import { snapshot, tempDir } from "../support/tmp.js";

const root = tempDir();
let folders = 0;
/** A fresh, not yet existing PKI folder under the temp root: <cluster>/pki, the cluster folder named by --dir. */
const newDir = (name: string) => path.join(root, `${++folders}-${name}`, "pki");

const PKI_FILES = ["apiserver.crt", "apiserver.csr", "apiserver.key", "ca.crt", "ca.key"];
// These tests are about the CA + API server flow: --only apiserver keeps each
// init to two keys, and writes no kubeconfigs into the shared temp root.
// The full set is test/cli/init-full.test.ts's.
const ONLY = ["--only", "apiserver"];
const base = (dir: string) => ["init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), ...ONLY];

/** Runs init, expecting success and a quiet stderr. */
async function init(dir: string, ...extra: string[]) {
  const result = await runCli([...base(dir), ...extra]);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return result;
}

async function initJson(dir: string, ...extra: string[]) {
  const result = await init(dir, ...extra, "--output", "json");
  return JSON.parse(result.stdout) as import("../../src/index.js").InitReport;
}

/** Modification times, for "nothing was even rewritten" checks beside the byte snapshot. */
function mtimes(dir: string): Record<string, number> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, statSync(path.join(dir, name)).mtimeMs]));
}

const bytes = (dir: string, name: string) => readFileSync(path.join(dir, name));
const entry = (report: import("../../src/index.js").InitReport, name: string) => report.entries.find((e) => e.name === name)!;

describe("kpki init on a PKI that is already there", () => {
  const dir = newDir("rerun");

  beforeAll(async () => {
    await init(dir);
  });

  it("(a) keeps everything on a second run: same bytes, says kept, exit 0, changed:false", async () => {
    const before = await snapshot(dir);
    const times = mtimes(dir);
    const text = await init(dir);
    expect(text.stdout).toMatch(/^\s+kept\s+ca\s+CN=kubernetes\b/m);
    expect(text.stdout).toMatch(/^\s+kept\s+apiserver\s+CN=kube-apiserver\b/m);
    expect(text.stdout).not.toMatch(/\b(created|reissued|signed)\b/);
    expect(text.stdout).toContain("Nothing changed: everything is present and valid.");
    expect(await snapshot(dir)).toEqual(before);

    const report = await initJson(dir);
    expect(report.changed).toBe(false);
    expect(report.dryRun).toBe(false);
    expect(report.entries.map((e) => [e.name, e.action])).toEqual([["ca", "kept"], ["apiserver", "kept"]]);
    for (const e of report.entries) expect(e.files.every((f) => f.action === "kept"), e.name).toBe(true);
    expect(await snapshot(dir)).toEqual(before);
    expect(mtimes(dir)).toEqual(times);
  });

  it("(a) keeps everything with --force too, when everything still fits", async () => {
    const before = await snapshot(dir);
    const report = await initJson(dir, "--force");
    expect(report.changed).toBe(false);
    expect(await snapshot(dir)).toEqual(before);
  });

  it("(b) refuses an extra --san without --force: exit 3, one line naming the SAN and --force, nothing changed", async () => {
    const before = await snapshot(dir);
    const result = await runCli([...base(dir), "--san", "extra.example.com"]);
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^kpki: /);
    expect(lines[0]).toContain("DNS:extra.example.com");
    expect(lines[0]).toContain("--force");
    expect(lines[0]).toContain(dir);
    expect(await snapshot(dir)).toEqual(before);

    // An extra IP and DNS name together: both named, still one line, still nothing written.
    const both = await runCli([...base(dir), "--san", "extra.example.com", "--san", "2001:DB8::7"]);
    expect(both.exitCode).toBe(3);
    expect(both.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(both.stderr).toContain("DNS:extra.example.com");
    expect(both.stderr).toContain("IP:2001:db8::7");
    expect(await snapshot(dir)).toEqual(before);

    // A dry run prints the whole plan, what needs --force and why, writes nothing, and exits 0: the plan was made.
    const dry = await runCli([...base(dir), "--san", "extra.example.com", "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    expect(dry.stderr).toBe("");
    expect(dry.stdout).toMatch(/^\s+kept\s+ca\b/m);
    expect(dry.stdout).toMatch(/^\s+needs --force\s+apiserver\b/m);
    expect(dry.stdout).toMatch(/would stop here[^]*apiserver: it lacks DNS:extra\.example\.com[^]*--force/);
    const dryJson = JSON.parse((await runCli([...base(dir), "--san", "extra.example.com", "--dry-run", "-o", "json"])).stdout);
    expect(dryJson.problems).toEqual([expect.stringContaining("DNS:extra.example.com")]);
    expect(await snapshot(dir)).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(PKI_FILES);
  });

  it("(c) with --force re-issues the API server certificate with a new key, and never touches the CA", async () => {
    const before = await snapshot(dir);
    const caKey = bytes(dir, "ca.key");
    const caCrt = bytes(dir, "ca.crt");
    const oldKey = bytes(dir, "apiserver.key");
    const oldCrt = bytes(dir, "apiserver.crt");

    // --dry-run --force plans the re-issue without doing it.
    const plan = await initJson(dir, "--san", "extra.example.com", "--force", "--dry-run");
    expect(plan.dryRun).toBe(true);
    expect(entry(plan, "apiserver").action).toBe("reissued");
    expect(entry(plan, "apiserver").reasons.join(" ")).toContain("DNS:extra.example.com");
    expect(await snapshot(dir)).toEqual(before);

    const report = await initJson(dir, "--san", "extra.example.com", "--force");
    expect(report.changed).toBe(true);
    expect(entry(report, "ca").action).toBe("kept");
    expect(entry(report, "apiserver").action).toBe("reissued");
    expect(entry(report, "apiserver").reasons).toEqual(["it lacks DNS:extra.example.com"]);
    expect(entry(report, "apiserver").files).toEqual([
      { file: "apiserver.key", action: "replaced" },
      { file: "apiserver.crt", action: "replaced" },
      { file: "apiserver.csr", action: "replaced" },
    ]);

    expect(bytes(dir, "ca.key").equals(caKey)).toBe(true);
    expect(bytes(dir, "ca.crt").equals(caCrt)).toBe(true);
    expect(bytes(dir, "apiserver.key").equals(oldKey)).toBe(false);
    expect(bytes(dir, "apiserver.crt").equals(oldCrt)).toBe(false);
    const after = await snapshot(dir);
    expect(after["ca.key"]).toBe(before["ca.key"]);
    expect(after["ca.crt"]).toBe(before["ca.crt"]);
    expect(after["apiserver.key"]?.split(" ")[0]).toBe("100600");

    const cert = new X509Certificate(bytes(dir, "apiserver.crt"));
    expect(cert.subjectAltName).toContain("DNS:extra.example.com");
    expect(cert.checkPrivateKey(createPrivateKey(bytes(dir, "apiserver.key")))).toBe(true);
    expect(cert.verify(new X509Certificate(caCrt).publicKey)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(PKI_FILES);

    // With the SAN now present, the same command keeps everything.
    const settled = await snapshot(dir);
    expect((await initJson(dir, "--san", "extra.example.com")).changed).toBe(false);
    expect(await snapshot(dir)).toEqual(settled);
  });
});

describe("kpki init --dry-run", () => {
  it("(d) writes nothing for a folder that does not exist, and reports what it would create", async () => {
    const dir = newDir("dry-missing");
    const text = await init(dir, "--dry-run");
    expect(existsSync(dir)).toBe(false);
    expect(text.stdout).toContain("dry run: nothing written");
    expect(text.stdout).toMatch(/would be created\s+ca\s+CN=kubernetes/);
    expect(text.stdout).toMatch(/would be created\s+apiserver\s+CN=kube-apiserver/);
    expect(text.stdout).toContain("DNS:kubernetes.default.svc.cluster.local");
    expect(text.stdout).not.toContain("CA pin");

    const report = await initJson(dir, "--dry-run");
    expect(existsSync(dir)).toBe(false);
    expect(report).toMatchObject({ dir, dryRun: true, changed: true });
    expect(report.caCertHash).toBeUndefined();
    expect(report.entries.map((e) => [e.name, e.action])).toEqual([["ca", "created"], ["apiserver", "created"]]);
    expect(entry(report, "apiserver").files.map((f) => [f.file, f.action])).toEqual([
      ["apiserver.key", "created"], ["apiserver.crt", "created"], ["apiserver.csr", "created"],
    ]);
    expect(entry(report, "apiserver").altNames).toContain("IP:10.96.0.1");
    expect(entry(report, "apiserver").sha256Fingerprint).toBeUndefined();
  });

  it("(d) leaves an existing empty folder empty (no lock file, no temp files)", async () => {
    const dir = newDir("dry-empty");
    mkdirSync(dir, { recursive: true });
    const report = await initJson(dir, "--dry-run", "--emit-openssl-conf");
    expect(report.dryRun).toBe(true);
    expect(report.entries.every((e) => e.action === "created")).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("kpki init with a key but no certificate", () => {
  it("(f) signs a new certificate for the existing apiserver.key, leaving the key's bytes alone", async () => {
    const dir = newDir("key-only");
    await init(dir);
    const key = bytes(dir, "apiserver.key");
    const oldCert = bytes(dir, "apiserver.crt");
    const ca = await snapshot(dir);
    rmSync(path.join(dir, "apiserver.crt"));

    const report = await initJson(dir);
    expect(report.changed).toBe(true);
    expect(entry(report, "ca").action).toBe("kept");
    expect(entry(report, "apiserver").action).toBe("signed");
    expect(entry(report, "apiserver").reasons).toEqual(["apiserver.crt is missing"]);
    expect(entry(report, "apiserver").files).toContainEqual({ file: "apiserver.key", action: "kept" });
    expect(entry(report, "apiserver").files).toContainEqual({ file: "apiserver.crt", action: "created" });

    expect(bytes(dir, "apiserver.key").equals(key)).toBe(true);
    const after = await snapshot(dir);
    expect(after["apiserver.key"]).toBe(ca["apiserver.key"]);
    expect(after["ca.key"]).toBe(ca["ca.key"]);
    expect(after["ca.crt"]).toBe(ca["ca.crt"]);
    const cert = new X509Certificate(bytes(dir, "apiserver.crt"));
    expect(cert.raw.equals(new X509Certificate(oldCert).raw)).toBe(false); // a new serial at least
    expect(cert.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(cert.verify(new X509Certificate(bytes(dir, "ca.crt")).publicKey)).toBe(true);
    expect(entry(report, "apiserver").sha256Fingerprint).toBe(cert.fingerprint256);
    expect(readdirSync(dir).sort()).toEqual(PKI_FILES);
  });

  it("refuses a certificate whose key is gone unless --force, and writes nothing", async () => {
    const dir = newDir("cert-only");
    await init(dir);
    rmSync(path.join(dir, "apiserver.key"));
    const before = await snapshot(dir);
    const result = await runCli(base(dir));
    expect(result.exitCode).toBe(3);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("apiserver.key");
    expect(result.stderr).toContain("--force");
    expect(await snapshot(dir)).toEqual(before);

    const forced = await initJson(dir, "--force");
    expect(entry(forced, "apiserver").action).toBe("reissued");
    expect(entry(forced, "apiserver").files).toContainEqual({ file: "apiserver.key", action: "created" });
    const cert = new X509Certificate(bytes(dir, "apiserver.crt"));
    expect(cert.checkPrivateKey(createPrivateKey(bytes(dir, "apiserver.key")))).toBe(true);
    expect((await snapshot(dir))["ca.key"]).toBe(before["ca.key"]);
  });

  it("refuses to replace a CA certificate whose key is still there (exit 2), and writes nothing", async () => {
    const dir = newDir("ca-key-only");
    await init(dir);
    rmSync(path.join(dir, "ca.crt"));
    const before = await snapshot(dir);
    const result = await runCli(base(dir));
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/ca\.crt is missing/);
    const forced = await runCli([...base(dir), "--force"]);
    expect(forced.exitCode).toBe(2);
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe("kpki init --emit-openssl-conf", () => {
  it("(g) writes apiserver.csr.conf, the openssl equivalent, and only when asked", async () => {
    const plain = newDir("no-conf");
    await init(plain);
    expect(existsSync(path.join(plain, "apiserver.csr.conf"))).toBe(false);

    const dir = newDir("conf");
    await init(dir, "--node-name", "cp-1", "--san", "api.example.com", "--emit-openssl-conf");
    const conf = path.join(dir, "apiserver.csr.conf");
    expect(statSync(conf).mode & 0o777).toBe(0o644);
    const text = readFileSync(conf, "utf8");
    expect(text).toMatch(/^\[ req \]$/m);
    expect(text).toMatch(/^CN = kube-apiserver$/m);
    expect(text).toMatch(/^DNS\.3 = kubernetes\.default\.svc$/m);
    expect(text).toMatch(/^DNS\.\d+ = cp-1$/m);
    expect(text).toMatch(/^DNS\.\d+ = api\.example\.com$/m);
    expect(text).toMatch(/^IP\.1 = 192\.0\.2\.10$/m);
    expect(text).toMatch(/^IP\.2 = 10\.96\.0\.1$/m);
    expect(text).toMatch(/^\[ v3_ext \]$/m);
    expect(text).toMatch(/^extendedKeyUsage = serverAuth, clientAuth$/m);
    expect(text).not.toMatch(/\{\{/); // every template placeholder filled
    expect(readdirSync(dir).sort()).toEqual([...PKI_FILES, "apiserver.csr.conf"].sort());

    // Asked again on a PKI that is kept, it writes the same file again and says so; the PKI itself is untouched.
    const before = await snapshot(dir);
    rmSync(conf);
    const again = await runCli([...base(dir), "--node-name", "cp-1", "--san", "api.example.com", "--emit-openssl-conf", "--output", "json"]);
    const report = JSON.parse(again.stdout);
    expect(report.changed).toBe(true);
    expect(report.entries[1].files).toContainEqual({ file: "apiserver.csr.conf", action: "created" });
    expect(await snapshot(dir)).toEqual(before);
    // And when it is already there with the same text, nothing changes.
    const third = JSON.parse((await runCli([...base(dir), "--node-name", "cp-1", "--san", "api.example.com", "--emit-openssl-conf", "-o", "json"])).stdout);
    expect(third.changed).toBe(false);
    expect(third.entries[1].files).toContainEqual({ file: "apiserver.csr.conf", action: "kept" });
  });
});

describe("kpki init --output json", () => {
  it("(h) prints one JSON document with the ca and apiserver entries and the CA pin", async () => {
    const dir = newDir("json");
    const result = await init(dir, "--output", "json", "--node-name", "cp-1");
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ dir, dryRun: false, changed: true });
    expect(report.caCertHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(report.entries.map((e: { name: string }) => e.name)).toEqual(["ca", "apiserver"]);
    const ca = entry(report, "ca");
    const apiserver = entry(report, "apiserver");
    expect(ca).toMatchObject({ action: "created", subject: "CN=kubernetes", altNames: ["DNS:kubernetes"], warnings: [] });
    expect(apiserver).toMatchObject({ action: "created", subject: "CN=kube-apiserver", warnings: [] });
    expect(apiserver.altNames).toEqual([
      "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster",
      "DNS:kubernetes.default.svc.cluster.local", "DNS:cp-1", "IP:192.0.2.10", "IP:10.96.0.1",
    ]);
    for (const [e, file] of [[ca, "ca.crt"], [apiserver, "apiserver.crt"]] as const) {
      const cert = new X509Certificate(bytes(dir, file));
      expect(e.sha256Fingerprint).toBe(cert.fingerprint256);
      expect(new Date(e.notAfter!).getTime()).toBe(new Date(cert.validTo).getTime());
    }
    // The pin agrees with `kpki ca hash` and with the library's caCertHash.
    const hash = await runCli(["ca", "hash", path.join(dir, "ca.crt")]);
    expect(hash.stdout.trim()).toBe(report.caCertHash);
    expect(caCertHash(new X509Certificate(bytes(dir, "ca.crt")).raw)).toBe(report.caCertHash);
  });

  it("(h) with -o json, prints an error as one JSON object on stderr, stdout left empty", async () => {
    for (const flags of [["--output", "json"], ["-o", "json"], ["--output=json"]]) {
      const result = await runCli(["init", "--master-ip", "300.1.1.1", "--dir", newDir("bad-ip"), ...ONLY, ...flags]);
      expect(result.exitCode).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.endsWith("\n")).toBe(true);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      const error = JSON.parse(result.stderr);
      expect(error).toEqual({ error: expect.stringMatching(/^--master-ip "300\.1\.1\.1"/), exitCode: 2 });
    }
    // A usage error yargs finds is one too.
    const unknown = await runCli(["init", "--bogus", "-o", "json"]);
    expect(unknown.exitCode).toBe(2);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ error: expect.stringContaining("bogus"), exitCode: 2 });
  });
});

describe("kubeadm's lists and dual-stack service subnet", () => {
  it("--san a,b is --san a --san b, and a dual-stack --service-cidr gives both first IPs as SANs", async () => {
    const dir = newDir("dual-stack");
    const report = await initJson(dir, "--san", "a.example.com,192.0.2.9", "--san", "b.example.com", "--service-cidr", "10.96.0.0/12,fd00::/108");
    const cert = new X509Certificate(readFileSync(path.join(dir, "apiserver.crt")));
    for (const host of ["a.example.com", "b.example.com"]) expect(cert.checkHost(host), host).toBe(host);
    for (const ip of ["192.0.2.9", "10.96.0.1", "fd00::1", "192.0.2.10"]) expect(cert.checkIP(ip), ip).toBe(ip);
    expect(entry(report, "apiserver").altNames).toEqual(expect.arrayContaining(["IP:10.96.0.1", "IP:fd00::1", "DNS:a.example.com", "DNS:b.example.com"]));
    // The same again: everything kept, the list read the same way.
    expect((await initJson(dir, "--san", "a.example.com,192.0.2.9", "--san", "b.example.com", "--service-cidr", "10.96.0.0/12,fd00::/108")).changed).toBe(false);
  });
});

describe("the library face", () => {
  it("(i) makes a PKI through initPki without the CLI", async () => {
    const dir = newDir("library");
    const spec = resolveClusterSpec({ masterIp: "2001:DB8::10", nodeName: "CP-1", keyType: "ecdsa-p256", sans: ["api.example.com"] });
    expect(spec.masterIp).toBe("2001:db8::10");
    expect(spec.serviceIp).toBe("10.96.0.1");
    const report = await initPki({ spec, dir: path.dirname(dir), only: ["apiserver"] });
    expect(report.changed).toBe(true);
    expect(report).toMatchObject({ clusterDir: path.dirname(dir), dir, kubeconfigDir: path.dirname(dir) });
    expect(report.entries.map((e) => [e.name, e.action])).toEqual([["ca", "created"], ["apiserver", "created"]]);

    const cert = parseCertificate(readFileSync(path.join(dir, "apiserver.crt")), "apiserver.crt");
    expect(cert.subject).toBe("CN=kube-apiserver");
    expect(cert.issuer).toBe("CN=kubernetes");
    expect(cert.commonName).toBe("kube-apiserver");
    expect(cert.isCA).toBe(false);
    expect(cert.publicKey).toBe("ECDSA P-256");
    expect(cert.altNames.dns).toEqual(expect.arrayContaining(["kubernetes.default.svc", "cp-1", "api.example.com"]));
    expect(cert.altNames.ips).toEqual(["2001:db8::10", "10.96.0.1"]);
    const ca = parseCertificate(readFileSync(path.join(dir, "ca.crt")), "ca.crt");
    expect(ca.isCA).toBe(true);
    expect(caCertHash(ca.der)).toBe(report.caCertHash);
    expect(ca.spkiHash).toBe(report.caCertHash);

    // Second call: kept. A call that would need --force throws a KpkiError, not a process exit.
    expect((await initPki({ spec, dir: path.dirname(dir), only: ["apiserver"] })).changed).toBe(false);
    const wider = resolveClusterSpec({ masterIp: "2001:db8::10", nodeName: "cp-1", keyType: "ecdsa-p256", sans: ["api.example.com", "more.example.com"] });
    const error = await initPki({ spec: wider, dir: path.dirname(dir), only: ["apiserver"] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KpkiError);
    expect((error as KpkiError).kind).toBe("conflict");
    expect((error as KpkiError).exitCode).toBe(3);
  });
});

describe("kpki init as separate processes (the built bin)", () => {
  beforeAll(async () => {
  }, 180_000);

  it("(e) four runs at once on one new folder make exactly one CA, and all report it", async () => {
    // --only apiserver (in base): the lock is what is under test, and four full sets at once would only cost time.
    const dir = newDir("concurrent");
    const runs = await Promise.all(Array.from({ length: 4 }, () => runBin([...base(dir), "--output", "json"])));
    for (const run of runs) {
      expect(run.stderr).toBe("");
      expect(run.exitCode).toBe(0);
    }
    const reports = runs.map((run) => JSON.parse(run.stdout) as import("../../src/index.js").InitReport);
    // One run made the PKI; the others found it and kept it.
    expect(reports.filter((r) => entry(r, "ca").action === "created")).toHaveLength(1);
    expect(reports.filter((r) => entry(r, "ca").action === "kept")).toHaveLength(3);
    expect(reports.filter((r) => entry(r, "apiserver").action === "created")).toHaveLength(1);
    expect(reports.filter((r) => r.changed)).toHaveLength(1);

    const caOnDisk = new X509Certificate(bytes(dir, "ca.crt"));
    const fingerprints = new Set(reports.map((r) => entry(r, "ca").sha256Fingerprint));
    expect([...fingerprints]).toEqual([caOnDisk.fingerprint256]);
    expect(new Set(reports.map((r) => r.caCertHash)).size).toBe(1);
    expect(reports[0]!.caCertHash).toBe(caCertHash(caOnDisk.raw));
    expect(new Set(reports.map((r) => entry(r, "apiserver").sha256Fingerprint))).toEqual(
      new Set([new X509Certificate(bytes(dir, "apiserver.crt")).fingerprint256]),
    );
    // No temp files, no lock left behind.
    expect(readdirSync(dir).sort()).toEqual(PKI_FILES);
    const apiserver = new X509Certificate(bytes(dir, "apiserver.crt"));
    expect(apiserver.verify(caOnDisk.publicKey)).toBe(true);
    expect(apiserver.checkPrivateKey(createPrivateKey(bytes(dir, "apiserver.key")))).toBe(true);
    expect(caOnDisk.checkPrivateKey(createPrivateKey(bytes(dir, "ca.key")))).toBe(true);
  });

  it("prints the same report from the bin as in-process, for the full set (keys started before the CLI loads)", async () => {
    // No --only: the bin's prestart guesses the missing keys of the whole set. Its own parent, for the kubeconfigs.
    const parent = path.dirname(newDir("bin"));
    const full = ["init", "--master-ip", "192.0.2.10", "--dir", parent, "--node-name", "cp-1"];
    const made = await runBin([...full, "--key-type", "ecdsa-p256"]);
    expect(made.stderr).toBe("");
    expect(made.exitCode).toBe(0);
    expect(made.stdout).toMatch(/^\s+created\s+scheduler\.conf\b/m);
    expect(readdirSync(parent).sort()).toEqual(["admin.conf", "controller-manager.conf", "kubelet.conf", "pki", "scheduler.conf", "super-admin.conf"]);
    const before = await snapshot(parent);
    const again = await runBin(full);
    expect(again.stderr).toBe("");
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("Nothing changed");
    expect((await runCli(full)).stdout.trimEnd()).toBe(again.stdout); // execa strips the final newline
    const refused = await runBin([...full, "--san", "extra.example.com"]);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(await snapshot(parent)).toEqual(before);
  });

  it("(i) works from the package's entry point (dist/index.js) in plain Node, printing nothing", async () => {
    const dir = newDir("package");
    const script = `
      import { readFileSync } from "node:fs";
      import { initPki, resolveClusterSpec, parseCertificate, caCertHash } from ${JSON.stringify(path.join(repoRoot, "dist/index.js"))};
      const dir = process.argv[1];
      const report = await initPki({ spec: resolveClusterSpec({ masterIp: "192.0.2.10" }), dir, only: ["apiserver"] });
      const cert = parseCertificate(readFileSync(dir + "/pki/apiserver.crt"), "apiserver.crt");
      const ca = parseCertificate(readFileSync(dir + "/pki/ca.crt"), "ca.crt");
      process.stdout.write(JSON.stringify({ subject: cert.subject, same: caCertHash(ca.der) === report.caCertHash }));
    `;
    const result = await execa("node", ["--input-type=module", "-e", script, path.dirname(dir)], { reject: false });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ subject: "CN=kube-apiserver", same: true });
  });
});

describe("kpki init with an externally managed CA (ca.crt without ca.key)", () => {
  it("keeps valid certificates, lists only the files that are there, and refuses to sign", async () => {
    const dir = newDir("external-ca");
    await init(dir);
    rmSync(path.join(dir, "ca.key"));
    const before = await snapshot(dir);
    const check = await runCli([...base(dir), "-o", "json"]);
    expect(check.exitCode).toBe(0);
    const report = JSON.parse(check.stdout);
    expect(report.entries[0].files).toEqual([{ file: "ca.crt", action: "kept" }]);
    const refused = await runCli([...base(dir), "--san", "api.example.com", "--force"]);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(/externally managed CA/);
    expect(await snapshot(dir)).toEqual(before);
  });
});
