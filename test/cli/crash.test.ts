// kill -9 at random points (fixed seed) during `init` (on fresh and
// half-filled folders) and during the other commands that write a cluster
// folder: `certs renew`, `kubeconfig create`, `cert sign --out`. After every
// trial the next run exits 0, every certificate verifies with openssl against
// its CA and matches its key, no temp file, journal or lock remains, and a
// renewal is all there or not at all: a run's writes commit as one unit
// (PkiStore.writeAll) and the next run completes or discards what a kill
// interrupted. CI runs a short form; KPKI_CRASH_TRIALS=140 runs the long one
// (and half as many of each other command).
import { spawn } from "node:child_process";
import { createPublicKey, X509Certificate } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { CERTS, certFile, keyFile } from "../../src/pki/catalog.js";
import { binPath } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

const trials = Number(process.env.KPKI_CRASH_TRIALS ?? 12);
const otherTrials = Math.max(4, Math.round(trials / 2));
const root = tempDir("kpki-crash-");
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");
const INIT = ["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--key-type", "ecdsa-p256"];

/** mulberry32: the same kill points on every run. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** init on a cluster folder: the PKI in `<cluster>/pki`, the kubeconfigs in `<cluster>`. */
const runInit = (cluster: string, extra: string[] = []) => execa(binPath, [...INIT, "--dir", cluster, ...extra], { reject: false });

/** Starts init and SIGKILLs it after `delayMs` (or lets it finish first). */
const killedInit = (cluster: string, delayMs: number) => killed([...INIT, "--dir", cluster], delayMs);

/** Runs kpki with `args` and SIGKILLs it after `delayMs` (or lets it finish first). */
function killed(args: readonly string[], delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(binPath, [...args], { stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Everything a run may leave only while it runs. */
function leftovers(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: "utf8" }).filter((name) => /\.tmp$|\.kpki\.journal|\.kpki\.lock/.test(path.basename(name)));
}

async function expectWholePki(dir: string, context: string) {
  for (const entry of CERTS) {
    const cert = path.join(dir, certFile(entry));
    const key = path.join(dir, keyFile(entry));
    expect(existsSync(cert) && existsSync(key), `${context}: ${entry.name}`).toBe(true);
    const certificate = new X509Certificate(readFileSync(cert));
    const fromKey = createPublicKey(readFileSync(key)).export({ type: "spki", format: "der" });
    expect(certificate.publicKey.export({ type: "spki", format: "der" }).equals(fromKey), `${context}: ${entry.name}'s key matches`).toBe(true);
    const ca = path.join(dir, certFile(CERTS.find((candidate) => candidate.name === (entry.ca ?? entry.name))!));
    const verified = await openssl(["verify", "-x509_strict", "-CAfile", ca, cert]);
    expect(verified.exitCode, `${context}: openssl verify ${entry.name}: ${verified.stderr}`).toBe(0);
  }
}

describe.runIf(hasOpenssl)(`kill -9 during init (${trials} trials)`, () => {
  let fullRunMs = 1000;
  beforeAll(async () => {
    const started = Date.now();
    const run = await runInit(path.join(root, "timing"));
    expect(run.exitCode, run.stderr).toBe(0);
    fullRunMs = Date.now() - started;
  });

  it("leaves a folder the next init completes: whole, verifying, without temp files", async () => {
    const next = random(13);
    for (let trial = 0; trial < trials; trial++) {
      const work = path.join(root, `trial-${trial}`);
      const dir = path.join(work, "pki");
      mkdirSync(work);
      const halfFilled = trial % 2 === 1;
      if (halfFilled) expect((await runInit(work, ["--only", "apiserver"])).exitCode).toBe(0);
      const delay = killPoint(next, fullRunMs);
      await killedInit(work, delay);
      const context = `trial ${trial} (${halfFilled ? "half-filled" : "fresh"}, killed after ${delay} ms)`;
      const again = await runInit(work);
      expect(again.exitCode, `${context}: ${again.stderr}`).toBe(0);
      expect(leftovers(work), context).toEqual([]);
      await expectWholePki(dir, context);
    }
  }, trials * 30_000); // a trial takes 1-3 s; far more when other suites share the cores
});

/** Half the kills anywhere in a run of `ms`, half near its end, where the commit is. */
const killPoint = (next: () => number, ms: number) => Math.round(next() < 0.5 ? next() * ms : ms * (0.6 + next() * 0.5));

/** Every file of a folder and its bytes (relative names). */
function contents(folder: string): Map<string, string> {
  const files = readdirSync(folder, { recursive: true, encoding: "utf8" }).filter((name) => statSync(path.join(folder, name)).isFile());
  return new Map(files.map((name) => [name, readFileSync(path.join(folder, name), "base64")]));
}

/** The client certificate and key of a kubeconfig verify against the cluster CA and match: it is whole. */
async function expectWholeKubeconfig(file: string, ca: string, context: string) {
  const config = parse(readFileSync(file, "utf8")) as { users: { user: Record<string, string> }[] };
  const user = config.users[0]!.user;
  const certPem = Buffer.from(user["client-certificate-data"]!, "base64");
  const fromKey = createPublicKey(Buffer.from(user["client-key-data"]!, "base64")).export({ type: "spki", format: "der" });
  expect(new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" }).equals(fromKey), `${context}: ${file}'s key matches`).toBe(true);
  const certFileOnDisk = `${file}.crt-check`;
  writeFileSync(certFileOnDisk, certPem);
  const verified = await openssl(["verify", "-x509_strict", "-CAfile", ca, certFileOnDisk]);
  rmSync(certFileOnDisk);
  expect(verified.exitCode, `${context}: openssl verify ${file}: ${verified.stderr}`).toBe(0);
}

describe.runIf(hasOpenssl)(`kill -9 during the other commands that write a cluster folder (${otherTrials} trials each)`, () => {
  const base = path.join(root, "base");
  const timings = { renew: 1000, kubeconfig: 1000, sign: 1000 };
  const renewAll = (cluster: string) => ["certs", "renew", "all", "--dir", cluster];
  const userKubeconfig = (cluster: string) => ["kubeconfig", "create", "--user", "jane", "--group", "dev", "--server", "https://192.0.2.10:6443", "--dir", cluster, "--key-type", "ecdsa-p256"];
  const csr = path.join(root, "node-1.csr");
  const signOut = (cluster: string) => ["cert", "sign", "--csr", csr, "--profile", "client", "--dir", cluster, "--out", path.join(cluster, "node-1.crt")];
  /** What a whole `certs renew all` replaces: every file that differs after one. */
  let renewed: string[] = [];

  beforeAll(async () => {
    expect((await runInit(base)).exitCode).toBe(0);
    const made = await execa(binPath, ["cert", "csr", "--name", "node-1", "--cn", "system:node:node-1", "--org", "system:nodes", "--dir", root, "--key-type", "ecdsa-p256"], { reject: false });
    expect(made.exitCode, made.stderr).toBe(0);
    const copy = path.join(root, "renew-timing");
    cpSync(base, copy, { recursive: true });
    const before = contents(copy);
    for (const [name, args] of [["renew", renewAll(copy)], ["kubeconfig", userKubeconfig(copy)], ["sign", signOut(copy)]] as const) {
      const started = Date.now();
      const run = await execa(binPath, [...args], { reject: false });
      expect(run.exitCode, run.stderr).toBe(0);
      timings[name] = Date.now() - started;
      if (name === "renew") renewed = [...contents(copy)].filter(([file, bytes]) => before.get(file) !== bytes).map(([file]) => file).sort();
    }
    expect(renewed.length).toBeGreaterThan(10);
  });

  it("certs renew all: the next run completes or discards the renewal (all of it or none), then renews again; the folder verifies", async () => {
    const next = random(131);
    const outcomes = { none: 0, all: 0 };
    for (let trial = 0; trial < otherTrials; trial++) {
      const work = path.join(root, `renew-${trial}`);
      cpSync(base, work, { recursive: true });
      const before = contents(work);
      const delay = killPoint(next, timings.renew);
      await killed(renewAll(work), delay);
      const context = `renew trial ${trial} (killed after ${delay} ms)`;
      // init on a whole folder changes nothing: it only puts right what the kill left.
      const recovered = await runInit(work);
      expect(recovered.exitCode, `${context}: ${recovered.stderr}`).toBe(0);
      const changed = [...contents(work)].filter(([file, bytes]) => before.get(file) !== bytes).map(([file]) => file).sort();
      expect([[], renewed], `${context}: changed ${changed.join(", ")}`).toContainEqual(changed);
      outcomes[changed.length === 0 ? "none" : "all"]++;
      expect(leftovers(work), context).toEqual([]);
      await expectWholePki(path.join(work, "pki"), context);
      const again = await execa(binPath, [...renewAll(work)], { reject: false });
      expect(again.exitCode, `${context}: ${again.stderr}`).toBe(0);
      expect(leftovers(work), context).toEqual([]);
      await expectWholePki(path.join(work, "pki"), context);
      for (const conf of ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"]) await expectWholeKubeconfig(path.join(work, conf), path.join(work, "pki", "ca.crt"), context);
    }
    console.log(`certs renew killed ${otherTrials} times: ${outcomes.none} left the old set, ${outcomes.all} the whole new one`);
  }, otherTrials * 40_000);

  it("kubeconfig create and cert sign --out: the file is whole or absent, and the next run (--force) leaves no temp file", async () => {
    const next = random(1313);
    for (let trial = 0; trial < otherTrials; trial++) {
      const work = path.join(root, `onefile-${trial}`);
      cpSync(base, work, { recursive: true });
      const ca = path.join(work, "pki", "ca.crt");
      const kubeconfigDelay = killPoint(next, timings.kubeconfig);
      await killed(userKubeconfig(work), kubeconfigDelay);
      const signDelay = killPoint(next, timings.sign);
      await killed(signOut(work), signDelay);
      const context = `one-file trial ${trial} (kubeconfig create killed after ${kubeconfigDelay} ms, cert sign after ${signDelay} ms)`;
      const jane = path.join(work, "jane.conf");
      const signed = path.join(work, "node-1.crt");
      if (existsSync(jane)) await expectWholeKubeconfig(jane, ca, context);
      if (existsSync(signed)) expect((await openssl(["verify", "-CAfile", ca, signed])).exitCode, context).toBe(0);
      for (const args of [userKubeconfig(work), signOut(work)]) {
        const again = await execa(binPath, [...args, ...(args[0] === "kubeconfig" ? ["--force"] : [])], { reject: false });
        expect(again.exitCode, `${context}: ${args.slice(0, 2).join(" ")}: ${again.stderr}`).toBe(0);
      }
      expect(leftovers(work), context).toEqual([]);
      await expectWholeKubeconfig(jane, ca, context);
      expect((await openssl(["verify", "-CAfile", ca, signed])).exitCode, context).toBe(0);
      await expectWholePki(path.join(work, "pki"), context);
    }
  }, otherTrials * 40_000);
});

describe("the commit journal", () => {
  it("a run killed during its renames (ca.key in place, ca.crt still a temp file) is completed by the next run, with that CA", async () => {
    const made = path.join(root, "journal-source", "pki");
    expect((await runInit(path.dirname(made), ["--only", "ca"])).exitCode).toBe(0);
    const dir = path.join(root, "journal-interrupted", "pki");
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(made, "ca.key"), path.join(dir, "ca.key"));
    copyFileSync(path.join(made, "ca.crt"), path.join(dir, ".ca.crt.0123456789ab.tmp"));
    writeFileSync(path.join(dir, ".kpki.journal"), JSON.stringify({ version: 1, renames: [[".ca.key.ba9876543210.tmp", "ca.key"], [".ca.crt.0123456789ab.tmp", "ca.crt"]] }));
    const run = await runInit(path.dirname(dir), ["--only", "ca"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFileSync(path.join(dir, "ca.crt"))).toEqual(readFileSync(path.join(made, "ca.crt")));
    expect(leftovers(path.dirname(dir))).toEqual([]);
  });

  it("a journal in <dir>/pki completes the renames of the kubeconfigs in <dir> too", async () => {
    const made = path.join(root, "journal-kubeconfig-source");
    expect((await runInit(made)).exitCode).toBe(0);
    const cluster = path.join(root, "journal-kubeconfig");
    const dir = path.join(cluster, "pki");
    cpSync(path.join(made, "pki"), dir, { recursive: true });
    for (const conf of ["controller-manager.conf", "scheduler.conf", "kubelet.conf", "super-admin.conf"]) copyFileSync(path.join(made, conf), path.join(cluster, conf));
    // Killed after its commit point: admin.conf still under its temp name beside the others.
    copyFileSync(path.join(made, "admin.conf"), path.join(cluster, ".admin.conf.0123456789ab.tmp"));
    writeFileSync(path.join(dir, ".kpki.journal"), JSON.stringify({ version: 1, renames: [["../.admin.conf.0123456789ab.tmp", "../admin.conf"]] }));
    const run = await runInit(cluster);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFileSync(path.join(cluster, "admin.conf"))).toEqual(readFileSync(path.join(made, "admin.conf")));
    expect(run.stdout).toMatch(/^\s+kept\s+admin\.conf\b/m);
    expect(leftovers(cluster)).toEqual([]);
  });

  it("a kubeconfig create or cert sign --out killed while writing leaves a temp file, which the next run of it removes", async () => {
    const cluster = path.join(root, "onefile-leftovers");
    expect((await runInit(cluster)).exitCode).toBe(0);
    const out = path.join(root, "onefile-leftovers-out");
    mkdirSync(out);
    writeFileSync(path.join(cluster, ".jane.conf.0123456789ab.tmp"), "half a kubeconfig");
    const csr = await execa(binPath, ["cert", "csr", "--name", "node", "--cn", "node", "--dir", out, "--key-type", "ecdsa-p256"]);
    expect(csr.exitCode).toBe(0);
    writeFileSync(path.join(out, ".node.crt.0123456789ab.tmp"), "half a certificate");
    writeFileSync(path.join(out, ".other.crt.0123456789ab.tmp"), "another file's: left alone");
    const created = await execa(binPath, ["kubeconfig", "create", "--user", "jane", "--server", "https://192.0.2.10:6443", "--dir", cluster, "--key-type", "ecdsa-p256"], { reject: false });
    expect(created.exitCode, created.stderr).toBe(0);
    const signed = await execa(binPath, ["cert", "sign", "--csr", path.join(out, "node.csr"), "--profile", "client", "--dir", cluster, "--out", path.join(out, "node.crt")], { reject: false });
    expect(signed.exitCode, signed.stderr).toBe(0);
    expect(leftovers(cluster)).toEqual([]);
    expect(leftovers(out)).toEqual([".other.crt.0123456789ab.tmp"]);
  });

  it("a run killed before its journal leaves temp files only, which the next run removes", async () => {
    const dir = path.join(root, "journal-uncommitted", "pki");
    expect((await runInit(path.dirname(dir), ["--only", "ca"])).exitCode).toBe(0);
    const before = readFileSync(path.join(dir, "ca.crt"));
    writeFileSync(path.join(dir, ".apiserver.key.0123456789ab.tmp"), "half a key");
    writeFileSync(path.join(path.dirname(dir), ".admin.conf.0123456789ab.tmp"), "half a kubeconfig");
    const run = await runInit(path.dirname(dir), ["--only", "ca"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFileSync(path.join(dir, "ca.crt"))).toEqual(before);
    expect(leftovers(path.dirname(dir))).toEqual([]);
  });
});
