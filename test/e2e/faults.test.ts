/**
 * Hosts that misbehave: an sshd stopped with SIGSTOP after it accepted the
 * connection gives that host its own timeout error, in bounded time, while
 * the other hosts finish; on a terminal the failure gets a line of its own.
 */
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { hostSshdPid, leftovers, startTestHosts, testHostsAvailable, type TestHosts } from "../support/testhosts/index.js";

const skip = await testHostsAvailable();
if (skip) console.warn(`skipping the fault tests: ${skip}`);

interface HostLine {
  host: string;
  ok: boolean;
  steps: unknown[];
  error?: { failure: string; message: string };
}

/** The processes whose parent is `pid` (an sshd's per-connection children). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

describe.skipIf(Boolean(skip))("a host whose sshd hangs", () => {
  let lab: TestHosts;
  /** Every process this file stopped, resumed in afterAll whatever happens. */
  const stopped = new Set<number>();
  const stop = (pid: number) => {
    process.kill(pid, "SIGSTOP");
    stopped.add(pid);
  };
  const resume = () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // Already gone.
      }
    }
    stopped.clear();
  };

  beforeAll(async () => {
    lab = await startTestHosts({ flavours: ["rocky9", "ubuntu2204", "debian12"] });
  }, 120_000);

  afterAll(async () => {
    resume();
    await lab?.stop();
    if (lab) expect(await leftovers(lab.footprint())).toEqual([]);
  }, 60_000);

  const flags = () => ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`, "--role", "control-plane"];

  it("an sshd stopped right after it accepts: that host times out on its own, the others finish", async () => {
    const [good1, good2, hung] = lab.hosts;
    const sshd = hostSshdPid(hung!)!;
    expect(sshd).toBeGreaterThan(1);
    const before = new Set(childrenOf(sshd));
    // Stop each connection's sshd the moment the listener forks it (after accept), and the listener after that.
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const child of childrenOf(sshd)) if (!before.has(child) && !stopped.has(child)) stop(child);
        if (stopped.size > 0 && !stopped.has(sshd)) stop(sshd);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    let result;
    try {
      result = await runCli(["node", "check", good1!.address, hung!.address, good2!.address, ...flags(), "--connect-timeout", "3", "--timeout", "12", "-o", "json"]);
    } finally {
      watching = false;
      await watcher;
    }
    const reports = JSON.parse(result.stdout).hosts as HostLine[];
    expect(stopped.size, "the hung host's sshd was stopped after accepting").toBeGreaterThan(0);
    expect(reports.map((report) => [report.host, report.error?.failure])).toEqual([
      [good1!.address, undefined],
      [hung!.address, "timeout"],
      [good2!.address, undefined],
    ]);
    expect(reports[1]!.error!.message).toMatch(/within (--connect-timeout|--timeout 12 s)/);
    // The others were checked in full (fresh hosts: not ready yet, but every step ran).
    expect(reports[0]!.steps.length).toBeGreaterThan(5);
    expect(reports[2]!.steps.length).toBeGreaterThan(5);
    expect(result.exitCode).toBe(4);
    resume();
  }, 60_000);

  it("a host that hangs mid-script ends with --timeout, and on a terminal its failure gets a line of its own", async () => {
    const [good1, good2, hung] = lab.hosts;
    const sshd = hostSshdPid(hung!)!;
    const before = new Set(childrenOf(sshd));
    // Stop the connection once the script is running there (the session's shell exists).
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const sessions = childrenOf(sshd).filter((child) => !before.has(child));
        const shells = sessions.flatMap((child) => childrenOf(child)).flatMap((child) => [child, ...childrenOf(child)]);
        if (shells.length > 0 && stopped.size === 0) for (const pid of [...sessions, ...shells]) stop(pid);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    let result;
    try {
      result = await runCli(["node", "check", good1!.address, hung!.address, good2!.address, ...flags(), "--timeout", "12"], { tty: true });
    } finally {
      watching = false;
      await watcher;
    }
    expect(stopped.size).toBeGreaterThan(0);
    expect(result.exitCode).toBe(4);
    const failureLines = result.stderr.split("\n").filter((line) => line.includes(": FAILED: "));
    expect(failureLines).toHaveLength(1);
    expect(failureLines[0]).toMatch(new RegExp(`${hung!.address.replace(/\./g, "\\.")}: FAILED: .*did not finish within --timeout 12 s`));
    expect(result.stderr).toMatch(/\[3\/3\] 2 done, 1 failed, 0 running/);
    expect(result.stdout).toMatch(new RegExp(`${good1!.address.replace(/\./g, "\\.")}, control-plane, Kubernetes [\\d.]+: `));
    resume();
  }, 60_000);
});
