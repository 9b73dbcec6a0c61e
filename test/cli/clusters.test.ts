// Issue 11, item 1: one cluster, one folder. Two clusters made side by side
// in one working directory never share a file, and a file of one found in the
// other is named as another cluster's by init, renew and check-expiration —
// never re-signed, never replaced, never with advice to --force it.
import { X509Certificate } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { runBin, runCli, type CliResult } from "../support/cli.js";
import { snapshot, tempDir } from "../support/tmp.js";

delete process.env.KPKI_DEBUG;

const root = tempDir("kpki-clusters-");
const work = path.join(root, "work");
const A = path.join(work, "clusterA");
const B = path.join(work, "clusterB");
// ECDSA keys: this suite is about folders, not key generation time.
const initArgs = (dir: string, node: string, ...extra: string[]) => ["init", "--master-ip", "192.0.2.10", "--node-name", node, "--key-type", "ecdsa-p256", "--dir", dir, ...extra];

let copies = 0;
const copyOf = (cluster: string) => {
  const target = path.join(root, `${++copies}-${path.basename(cluster)}`);
  cpSync(cluster, target, { recursive: true });
  return target;
};
const caOf = (conf: string) => Buffer.from(parseYaml(readFileSync(conf, "utf8")).clusters[0].cluster["certificate-authority-data"], "base64").toString();
const clientOf = (conf: string) => new X509Certificate(Buffer.from(parseYaml(readFileSync(conf, "utf8")).users[0].user["client-certificate-data"], "base64"));

/** One line on stderr, the code, and no advice to --force anything. */
function refusedAsAnotherCluster(result: CliResult, exitCode: number, file: string, json = false) {
  const context = `exit ${result.exitCode}, stderr: ${result.stderr}`;
  expect(result.exitCode, context).toBe(exitCode);
  expect(result.stderr, context).toMatch(json ? /^\{"error":[^\n]+\}\n$/ : /^kpki: [^\n]+\n$/);
  expect(result.stderr, context).toContain(`${file} belongs to another cluster`);
  expect(result.stderr, context).not.toContain("--force");
}

describe("two clusters in sibling folders, made from one working directory", () => {
  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    // Relative --dir, as an operator types it, from the bin in that directory.
    for (const [dir, node] of [["clusterA", "cp-a"], ["clusterB", "cp-b"]] as const) {
      const made = await runBin(initArgs(dir, node), { cwd: work });
      expect(made.stderr).toBe("");
      expect(made.exitCode).toBe(0);
    }
  });

  it("gives each its own folder laid out like /etc/kubernetes, and writes nothing beside them", () => {
    expect(readdirSync(work).sort()).toEqual(["clusterA", "clusterB"]);
    for (const cluster of [A, B]) {
      expect(readdirSync(cluster).sort()).toEqual(["admin.conf", "controller-manager.conf", "kubelet.conf", "pki", "scheduler.conf", "super-admin.conf"]);
      // Every kubeconfig trusts its own cluster's CA.
      for (const conf of ["admin.conf", "kubelet.conf", "scheduler.conf"]) expect(caOf(path.join(cluster, conf)), conf).toBe(readFileSync(path.join(cluster, "pki/ca.crt"), "utf8"));
    }
    expect(readFileSync(path.join(A, "pki/ca.crt"), "utf8")).not.toBe(readFileSync(path.join(B, "pki/ca.crt"), "utf8"));
  });

  it("renews and checks each on its own: A's renewal leaves B byte-identical", async () => {
    const a = copyOf(A);
    const b = copyOf(B);
    const beforeB = await snapshot(b);
    const renewed = await runCli(["certs", "renew", "all", "--dir", a]);
    expect(renewed.stderr).toBe("");
    expect(renewed.exitCode).toBe(0);
    expect(await snapshot(b)).toEqual(beforeB);
    for (const cluster of [a, b]) {
      const check = await runCli(["certs", "check-expiration", "--dir", cluster, "--fail-within", "30d"]);
      expect(check.stderr, cluster).toBe("");
      expect(check.exitCode, cluster).toBe(0);
    }
    // The renewed admin.conf is still A's: signed by A's CA, trusting it.
    expect(clientOf(path.join(a, "admin.conf")).checkIssued(new X509Certificate(readFileSync(path.join(a, "pki/ca.crt"))))).toBe(true);
    expect(caOf(path.join(a, "admin.conf"))).toBe(readFileSync(path.join(a, "pki/ca.crt"), "utf8"));
  });

  describe("with B's admin.conf in A's folder", () => {
    let mixed: string;
    let before: Record<string, string>;
    beforeAll(async () => {
      mixed = copyOf(A);
      cpSync(path.join(B, "admin.conf"), path.join(mixed, "admin.conf"));
      before = await snapshot(mixed);
    });

    it("init names it another cluster's and refuses, with or without --force, changing nothing", async () => {
      for (const extra of [[], ["--force"]]) {
        const result = await runCli(initArgs(mixed, "cp-a", ...extra));
        refusedAsAnotherCluster(result, 3, path.join(mixed, "admin.conf"));
        expect(await snapshot(mixed), extra.join(" ")).toEqual(before);
      }
      // A dry run shows it in the plan and says the same.
      const plan = await runCli(initArgs(mixed, "cp-a", "--dry-run"));
      expect(plan.exitCode).toBe(0);
      expect(plan.stdout).toMatch(/^\s+refused \(another cluster's\)\s+admin\.conf\b/m);
      expect(plan.stdout).toContain(`${path.join(mixed, "admin.conf")} belongs to another cluster`);
      expect(await snapshot(mixed)).toEqual(before);
    });

    it("renew refuses to re-sign it with A's CA, exit 2, changing nothing", async () => {
      for (const names of [["admin.conf"], ["all"]]) {
        const result = await runCli(["certs", "renew", ...names, "--dir", mixed]);
        refusedAsAnotherCluster(result, 2, path.join(mixed, "admin.conf"));
        expect(await snapshot(mixed), names.join(" ")).toEqual(before);
      }
    });

    it("check-expiration names it another cluster's and fails (exit 4), in text and JSON", async () => {
      for (const extra of [[], ["-o", "json"]]) {
        const result = await runCli(["certs", "check-expiration", "--dir", mixed, ...extra]);
        refusedAsAnotherCluster(result, 4, path.join(mixed, "admin.conf"), extra.length > 0);
        expect(result.stdout).toContain("admin.conf");
      }
      expect(await snapshot(mixed)).toEqual(before);
    });
  });

  it("a certificate of another cluster in pki/ is named so by init, renew and check-expiration", async () => {
    const mixed = copyOf(A);
    cpSync(path.join(B, "pki/apiserver.crt"), path.join(mixed, "pki/apiserver.crt"));
    cpSync(path.join(B, "pki/apiserver.key"), path.join(mixed, "pki/apiserver.key"));
    const before = await snapshot(mixed);
    const file = path.join(mixed, "pki/apiserver.crt");
    refusedAsAnotherCluster(await runCli(initArgs(mixed, "cp-a", "--force")), 3, file);
    refusedAsAnotherCluster(await runCli(["certs", "renew", "apiserver", "--dir", mixed]), 2, file);
    refusedAsAnotherCluster(await runCli(["certs", "check-expiration", "--dir", mixed]), 4, file);
    expect(await snapshot(mixed)).toEqual(before);
  });

  it("renew refreshes the CA embedded in a kubeconfig to the cluster's own", async () => {
    const a = copyOf(A);
    const conf = path.join(a, "controller-manager.conf");
    const doc = parseYaml(readFileSync(conf, "utf8"));
    // A stale embedded CA (here: front-proxy-ca's); the client certificate is still A's.
    doc.clusters[0].cluster["certificate-authority-data"] = readFileSync(path.join(a, "pki/front-proxy-ca.crt")).toString("base64");
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    const result = await runCli(["certs", "renew", "controller-manager.conf", "--dir", a]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(caOf(conf)).toBe(readFileSync(path.join(a, "pki/ca.crt"), "utf8"));
  });

  it("refuses a --dir that is itself a PKI folder (pki/pki is never made), naming the cluster folder", async () => {
    const a = copyOf(A);
    const before = await snapshot(a);
    for (const args of [initArgs(path.join(a, "pki"), "cp-a"), ["certs", "check-expiration", "--dir", path.join(a, "pki")], ["ca", "hash", "--dir", path.join(a, "pki")]]) {
      const result = await runCli(args);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(/^kpki: --dir \S+\/pki holds ca\.crt itself: --dir names the cluster folder/);
      expect(result.stderr).toContain(`give --dir ${a}, or --cert-dir ${path.join(a, "pki")}`);
    }
    expect(await snapshot(a)).toEqual(before);
    // --cert-dir names it as kubeadm's flag does.
    const pin = await runCli(["ca", "hash", "--cert-dir", path.join(a, "pki")]);
    expect(pin.exitCode, pin.stderr).toBe(0);
    expect((await runCli(["ca", "hash", "--dir", a])).stdout).toBe(pin.stdout);
    expect((await runCli(["ca", "hash", "--dir", B])).stdout).not.toBe(pin.stdout);
  });

  it("a failed run leaves no empty folder behind", async () => {
    // A folder holding only B's admin.conf: a new CA would be made, so admin.conf is another cluster's.
    const stray = path.join(root, "stray");
    mkdirSync(stray);
    cpSync(path.join(B, "admin.conf"), path.join(stray, "admin.conf"));
    const result = await runCli(initArgs(stray, "cp-a"));
    refusedAsAnotherCluster(result, 3, path.join(stray, "admin.conf"));
    expect(readdirSync(stray)).toEqual(["admin.conf"]);
    // A new cluster folder whose init fails goes again entirely.
    const fresh = path.join(root, "fresh", "deeper");
    const blocked = await runCli(initArgs(fresh, "cp-a", "--kubeconfig-dir", path.join(stray, "admin.conf", "x")));
    expect(blocked.exitCode).toBe(5);
    expect(existsSync(path.join(root, "fresh"))).toBe(false);
  });

  it("every command that reads a cluster takes --dir, and writes only inside it", async () => {
    const a = copyOf(A);
    const made = await runCli(["kubeconfig", "create", "--dir", a, "--user", "jane", "--group", "devs", "--server", "https://192.0.2.10:6443"]);
    expect(made.exitCode, made.stderr).toBe(0);
    expect(existsSync(path.join(a, "jane.conf"))).toBe(true);
    expect(clientOf(path.join(a, "jane.conf")).checkIssued(new X509Certificate(readFileSync(path.join(a, "pki/ca.crt"))))).toBe(true);
  });
});
