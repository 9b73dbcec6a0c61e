// kill -9 during `init`, at random points (fixed seed), on fresh and
// half-filled folders. After every trial the next `init` exits 0, every
// certificate verifies with openssl against its CA and matches its key, and
// no temp file, journal or lock remains: a run's writes commit as one unit
// (PkiStore.writeAll) and the next run completes or discards what a kill
// interrupted. CI runs a short form; KPKI_CRASH_TRIALS=140 runs the long one.
import { spawn } from "node:child_process";
import { createPublicKey, X509Certificate } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { CERTS, certFile, keyFile } from "../../src/pki/catalog.js";
import { binPath } from "../support/cli.js";
import { openssl } from "../support/openssl.js";
import { havePeer } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

const trials = Number(process.env.KPKI_CRASH_TRIALS ?? 12);
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
const runInit = (cluster: string, extra: string[] = []) => execa("node", [binPath, ...INIT, "--dir", cluster, ...extra], { reject: false });

/** Starts init and SIGKILLs it after `delayMs` (or lets it finish first). */
function killedInit(cluster: string, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn("node", [binPath, ...INIT, "--dir", cluster], { stdio: "ignore" });
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
      // Half the kills anywhere in the run, half near its end, where the commit is.
      const delay = Math.round(next() < 0.5 ? next() * fullRunMs : fullRunMs * (0.6 + next() * 0.5));
      await killedInit(work, delay);
      const context = `trial ${trial} (${halfFilled ? "half-filled" : "fresh"}, killed after ${delay} ms)`;
      const again = await runInit(work);
      expect(again.exitCode, `${context}: ${again.stderr}`).toBe(0);
      expect(leftovers(work), context).toEqual([]);
      await expectWholePki(dir, context);
    }
  }, trials * 30_000); // a trial takes 1-3 s; far more when other suites share the cores
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
