// The folder lock under races: many processes taking over stale locks at
// once never hold it together, concurrent inits over a killed run's lock make
// exactly one CA whose pin every run printed, and an empty lock (a kill
// between creating and writing it) is stale, not a 60-second wait.
// KPKI_LOCK_ROUNDS raises the rounds (CI runs the default).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { binPath, repoRoot } from "../support/cli.js";
import { tempDir } from "../support/tmp.js";

const root = tempDir("kpki-lock-");
const rounds = Number(process.env.KPKI_LOCK_ROUNDS ?? 4);
const roundsTimeout = rounds * 60_000; // seconds per round alone; minutes when other suites share the cores

/** The lock content of a process that has exited: stale. */
function deadHolder(): string {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return `${child.pid}@${hostname()} 0123456789abcdef`;
}

// A child that takes the lock (breaking stale ones), logs enter/exit around
// a short hold, and exits WITHOUT releasing: the next one must take over.
const CONTENDER = `
const { appendFileSync } = require("node:fs");
import(process.argv[1]).then(async ({ tryAcquire, lockContent }) => {
  const [lock, log, id] = process.argv.slice(2);
  const content = lockContent();
  while (!(await tryAcquire(lock, content))) await new Promise((r) => setTimeout(r, 2 + Math.random() * 5));
  appendFileSync(log, "enter " + id + "\\n");
  await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
  appendFileSync(log, "exit " + id + "\\n");
  process.exit(0);
});
`;

describe("stale-lock takeover", () => {
  it(`8 processes each take over a killed holder's lock, ${rounds} rounds: never two holders at once`, async () => {
    const lockModule = path.join(repoRoot, "dist/pki/lock.js");
    for (let round = 0; round < rounds; round++) {
      const dir = path.join(root, `library-${round}`);
      mkdirSync(dir);
      const lock = path.join(dir, ".kpki.lock");
      const log = path.join(dir, "log");
      writeFileSync(lock, deadHolder());
      writeFileSync(log, "");
      await Promise.all(
        Array.from({ length: 8 }, (_, id) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, ["-e", CONTENDER, lockModule, lock, log, String(id)], { stdio: ["ignore", "ignore", "pipe"] });
            let stderr = "";
            child.stderr.on("data", (chunk) => (stderr += chunk));
            child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`contender ${id} exited ${code}: ${stderr}`))));
          }),
        ),
      );
      const events = readFileSync(log, "utf8").trim().split("\n");
      expect(events).toHaveLength(16);
      for (let i = 0; i < events.length; i += 2) {
        const [enter, exit] = [events[i]!, events[i + 1]!];
        expect(enter, `round ${round}: ${events.join(", ")}`).toMatch(/^enter /);
        expect(exit, `round ${round}: ${events.join(", ")}`).toBe(enter.replace("enter", "exit"));
      }
    }
  }, roundsTimeout);

  it(`4 concurrent inits on an empty folder holding a killed run's lock, ${rounds} rounds: one CA, and every printed pin is its pin`, async () => {
    for (let round = 0; round < rounds; round++) {
      const cluster = path.join(root, `init-${round}`);
      const pki = path.join(cluster, "pki");
      mkdirSync(pki, { recursive: true });
      writeFileSync(path.join(pki, ".kpki.lock"), deadHolder());
      const runs = await Promise.all(
        Array.from({ length: 4 }, () =>
          execa(binPath, ["init", "--master-ip", "192.0.2.10", "--dir", cluster, "--only", "ca", "--key-type", "ecdsa-p256", "-o", "json"], { reject: false }),
        ),
      );
      const pins = runs.map((run) => {
        expect(run.exitCode, run.stderr).toBe(0);
        return (JSON.parse(run.stdout) as { caCertHash: string }).caCertHash;
      });
      const created = runs.filter((run) => (JSON.parse(run.stdout) as { changed: boolean }).changed);
      expect(created, `round ${round}`).toHaveLength(1);
      const onDisk = await execa(binPath, ["ca", "hash", "--dir", cluster]);
      for (const pin of pins) expect(pin, `round ${round}`).toBe(onDisk.stdout.trim());
    }
  }, roundsTimeout);

  it("an empty lock (killed between creating and writing it) is stale: init goes ahead at once", async () => {
    const cluster = path.join(root, "empty-lock");
    const pki = path.join(cluster, "pki");
    mkdirSync(pki, { recursive: true });
    writeFileSync(path.join(pki, ".kpki.lock"), "");
    const run = await execa(binPath, ["init", "--master-ip", "192.0.2.10", "--dir", cluster, "--only", "ca", "--key-type", "ecdsa-p256"], { reject: false, timeout: 50_000 }); // under the 60 s a wedged lock would cost
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFileSync(path.join(pki, "ca.crt"), "utf8")).toContain("BEGIN CERTIFICATE");
  });

  it("a lock naming a live process of another start time (its PID reused) or another boot is stale: init goes ahead at once", async () => {
    const { processStartTime } = await import("../../src/pki/lock.js");
    const parentStart = processStartTime(process.ppid);
    expect(parentStart, "/proc/PPID/stat").toMatch(/^\d+$/);
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const stale = [
      `${process.ppid}@${hostname()} 0123456789abcdef start=${Number(parentStart) + 1} boot=${boot}`, // the parent is alive, but started at another time
      `${process.ppid}@${hostname()} 0123456789abcdef start=${parentStart} boot=00000000-0000-4000-8000-000000000000`, // before a reboot
    ];
    for (const [index, content] of stale.entries()) {
      const cluster = path.join(root, `reused-pid-${index}`);
      const pki = path.join(cluster, "pki");
      mkdirSync(pki, { recursive: true });
      writeFileSync(path.join(pki, ".kpki.lock"), content);
      const run = await execa(binPath, ["init", "--master-ip", "192.0.2.10", "--dir", cluster, "--only", "ca", "--key-type", "ecdsa-p256"], { reject: false, timeout: 50_000 });
      expect(run.exitCode, `${content}: ${run.stderr}`).toBe(0);
      expect(readFileSync(path.join(pki, "ca.crt"), "utf8")).toContain("BEGIN CERTIFICATE");
    }
  });

  it("a live holder's lock, start time and boot recorded, is respected", async () => {
    const dir = path.join(root, "live-lock-recorded", "pki");
    mkdirSync(dir, { recursive: true });
    const { lockContent, isStaleHolder } = await import("../../src/pki/lock.js");
    const content = lockContent();
    expect(content).toMatch(/ start=\d+ boot=[0-9a-f-]+$/);
    expect(isStaleHolder(content)).toBe(false);
    writeFileSync(path.join(dir, ".kpki.lock"), content);
    const { PkiStore } = await import("../../src/pki/store.js");
    await expect(new PkiStore(dir).lock(300)).rejects.toMatchObject({ kind: "conflict" });
  });

  it("a live holder's lock is respected: a second run waits, then says who holds it (exit 3)", async () => {
    const dir = path.join(root, "live-lock", "pki");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, ".kpki.lock"), `${process.pid}@${hostname()} 0123456789abcdef`);
    const { PkiStore } = await import("../../src/pki/store.js");
    await expect(new PkiStore(dir).lock(300)).rejects.toMatchObject({ kind: "conflict", message: expect.stringContaining(`${process.pid}@${hostname()}`) });
  });
});
