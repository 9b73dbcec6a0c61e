/**
 * kpki node check and node prep against their peers on the same fresh test hosts:
 *   floor   — the same script per host over one plain ssh, all hosts at once;
 *   ansible — bench/nodeprep-playbook.yml (kpki's steps, one for one), forks 50
 *             as kpki's --parallel, pipelining on (as kubespray sets it), once,
 *             at BENCH_ANSIBLE_HOSTS (default: the largest size; it takes many
 *             minutes there), stopped after BENCH_ANSIBLE_TIMEOUT s (1500);
 * for BENCH_HOSTS (default 1,5,20; the fleet figures: BENCH_HOSTS=50,100,200),
 * medians of BENCH_RUNS runs (default 3), each prep on a new set of hosts.
 * Also kpki's own CPU per host (kpki and its ssh clients) and its peak memory
 * (the node process's maximum resident set), and the machine's load average
 * (uptime's) before and after each size: the figures are only as quiet as it.
 * Every run is checked: hosts where a peer failed are listed under the size
 * (a failed host does less work, so its time is no comparison). And where the
 * CPU goes, per host: the whole machine's and the ssh clients' during the
 * floor's prep, the machine's and Ansible's controller's during Ansible: what
 * is not the controller's is the hosts' own work, which a real fleet runs on
 * N machines at once and this lab on its 2 cores.
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { it } from "vitest";
import { renderNodeScript } from "../src/bootstrap/node/steps.js";
import { resolveKubernetesVersion } from "../src/bootstrap/node/versions.js";
import { binPath } from "../test/support/cli.js";
import { sshArgs, startTestHosts, testHostsAvailable, type TestHosts } from "../test/support/testhosts/index.js";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const sizes = (process.env.BENCH_HOSTS ?? "1,5,20").split(",").map(Number);
const ansibleAt = Number(process.env.BENCH_ANSIBLE_HOSTS ?? Math.max(...sizes));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const ansibleTimeout = Number(process.env.BENCH_ANSIBLE_TIMEOUT ?? 1500);
const load = () => os.loadavg().map((value) => value.toFixed(2)).join(" ");
/** CPU seconds of this process's children that have ended (ansible-playbook and its forks, the floor's ssh clients). */
const childCpu = () => {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[13]) + Number(fields[14])) / 100; // cutime, cstime: USER_HZ is 100 on Linux
};
/** CPU seconds the whole machine has spent (every process and the kernel: here, mostly the test hosts' work). */
const machineCpu = () => {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / 100;
};
/** Runs fn, and says what it cost: its children's CPU and the machine's. */
async function costOf<T>(fn: () => Promise<T>): Promise<{ value: T; children: number; machine: number }> {
  const [children, machine] = [childCpu(), machineCpu()];
  const value = await fn();
  return { value, children: childCpu() - children, machine: machineCpu() - machine };
}
const haveAnsible = (await execa("sh", ["-c", "command -v ansible-playbook"], { reject: false })).exitCode === 0;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function fresh(count: number): Promise<TestHosts> {
  const flavours = ["rocky9", "ubuntu2204", "centos7"] as const;
  return startTestHosts({ flavours: Array.from({ length: count }, (_, index) => flavours[index % flavours.length]!), bootTimeoutMs: 120_000 });
}

// The same key exchange as the floor's ssh options (curve25519 first, what EL7-9's sshd offer):
// OpenSSH 9.2's default hybrid exchange costs ~60 ms of CPU more per connection.
const kex = (lab: TestHosts) => lab.hosts[0]!.sshOptions.find((option) => option.startsWith("KexAlgorithms="))!;
// kpki's defaults (--parallel 50), as an operator runs it.
const kpkiArgs = (lab: TestHosts, verb: string) => [
  binPath, "node", verb, ...lab.hosts.map((host) => host.address),
  "--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`, "--ssh-option", kex(lab), "-o", "json",
  // No package repositories here: bench/packages.bench-run.ts measures installs from local ones.
  "--no-install",
];

/**
 * Hosts a run did not do its work on, as "N of M host(s) failed (first: ...)", or "": a figure
 * is only worth comparing when every peer did every step on every host.
 */
const failures = (what: string, failed: string[], of: number) => (failed.length ? `${what}: ${failed.length} of ${of} host(s) failed (first: ${failed[0]})` : "");
const failedSteps = (output: string) => output.split("\n").filter((line) => /^KPKI\t[^\t]+\tfailed\t/.test(line)).map((line) => line.split("\t").slice(1).join(" ").slice(0, 300));

/** kpki under GNU time: wall seconds, CPU seconds (its own and its ssh children's), peak RSS in MB, hosts it failed on. */
async function kpkiRun(lab: TestHosts, verb: string): Promise<{ wall: number; cpu: number; rssMb: number; failed: string }> {
  let cpu = 0;
  let rssMb = 0;
  let failed = "";
  const wall = await timed(async () => {
    const result = await execa("/usr/bin/time", ["-f", "%U %S %M", ...kpkiArgs(lab, verb)], { reject: false });
    const [user, system, rss] = String(result.stderr).trim().split("\n").at(-1)!.split(" ").map(Number);
    cpu = (user ?? 0) + (system ?? 0);
    rssMb = (rss ?? 0) / 1024;
    // check's hosts are not ready (nothing is installed): only an unreachable host or a failed step counts.
    type Report = { host: string; error?: { message: string }; steps: Array<{ step: string; state: string; detail: string }> };
    let hosts: Report[];
    try {
      hosts = (JSON.parse(String(result.stdout)) as { hosts: Report[] }).hosts;
    } catch {
      failed = `kpki node ${verb}: no report (exit code ${result.exitCode}): ${String(result.stderr).trim().split("\n").at(-2)}`;
      return;
    }
    const bad = hosts.flatMap((host) => {
      const step = host.steps.find((candidate) => candidate.state === "failed");
      return host.error ? [`${host.host}: ${host.error.message}`] : step ? [`${host.host}: ${step.step} ${step.detail.slice(0, 300)}`] : [];
    });
    failed = failures(`kpki node ${verb}`, bad, lab.hosts.length);
  });
  return { wall, cpu, rssMb, failed };
}

// All hosts at once; at 200 hosts on 2 cores a banner can take longer than the hosts' own ConnectTimeout=5.
async function floorRun(lab: TestHosts, script: string, what: string): Promise<{ wall: number; failed: string }> {
  let failed = "";
  const wall = await timed(async () => {
    const results = await Promise.all(lab.hosts.map((host) => execa("ssh", ["-o", "ConnectTimeout=120", ...sshArgs(host, "sh -s")], { input: script, reject: false })));
    const bad = results.flatMap((result, i) => {
      const host = lab.hosts[i]!.address;
      if (result.exitCode !== 0) return [`${host}: ssh exited ${result.exitCode}: ${String(result.stderr).trim().split("\n").at(-1)}`];
      const steps = failedSteps(String(result.stdout));
      return steps.length ? [`${host}: ${steps[0]}`] : [];
    });
    failed = failures(`floor ${what}`, bad, lab.hosts.length);
  });
  return { wall, failed };
}

/** bench/nodeprep-playbook.yml on the inventory's hosts: wall seconds, and "" or what failed. */
async function ansibleRun(inventory: string, size: number): Promise<{ wall: number; failed: string }> {
  let failed = "";
  const wall = await timed(async () => {
    const result = await execa("ansible-playbook", ["-i", inventory, "-f", "50", path.resolve("bench/nodeprep-playbook.yml")], {
      reject: false,
      timeout: ansibleTimeout * 1000,
      env: { ANSIBLE_HOST_KEY_CHECKING: "True", ANSIBLE_PYTHON_INTERPRETER: "auto_silent", ANSIBLE_PIPELINING: "True" },
    });
    const stdout = String(result.stdout);
    // Where it had got to: the linear strategy starts a task only when every host has ended the one before.
    const tasks = stdout.match(/^TASK \[[^\]]*\]/gm) ?? [];
    if (result.timedOut) failed = `ansible: stopped unfinished after ${ansibleTimeout} s, in its ${tasks.length}th task (${tasks.at(-1) ?? "none started"})`;
    else {
      // PLAY RECAP: one line a host; the first fatal line says what went wrong.
      const bad = stdout.split("\n").filter((line) => /\s(failed|unreachable)=[1-9]/.test(line)).map((line) => line.split(/\s/)[0]!);
      const fatal = stdout.split("\n").find((line) => /^fatal:/.test(line))?.slice(0, 400) ?? `exit code ${result.exitCode}`;
      if (bad.length || result.exitCode !== 0) failed = failures("ansible", bad.length ? bad.map((host) => `${host} (${fatal})`) : [fatal], size);
    }
  });
  return { wall, failed };
}

it.skipIf(Boolean(await testHostsAvailable()))("node check and prep: kpki, the plain-ssh floor and Ansible", async () => {
  const target = resolveKubernetesVersion(undefined);
  const prepScript = renderNodeScript({ mode: "apply", role: "worker", runtime: "auto", firewall: true, ipv6: false, kubernetes: target, packages: { install: false, upgrade: false } });
  const checkScript = renderNodeScript({ mode: "check", role: "worker", runtime: "auto", firewall: true, ipv6: false, kubernetes: target, packages: { install: false, upgrade: false } });
  const lines: string[] = [];
  for (const size of sizes) {
    const times: Record<string, number[]> = { check: [], checkFloor: [], prep: [], prepFloor: [], ansible: [] };
    const cpu: number[] = [];
    const rss: number[] = [];
    const failed: string[] = [];
    // Per host: the floor's ssh clients and the whole machine during its prep; Ansible's controller (and ssh) and the machine.
    const floorCost: Array<{ clients: number; machine: number }> = [];
    let ansibleCost: { controller: number; machine: number } | undefined;
    const loadBefore = load();
    for (let round = 0; round < runs; round++) {
      let lab = await fresh(size);
      try {
        // check changes nothing: kpki and the floor take turns on the same hosts, then kpki preps them.
        const checkFloor = await floorRun(lab, checkScript, "check");
        times.checkFloor!.push(checkFloor.wall);
        const check = await kpkiRun(lab, "check");
        times.check!.push(check.wall);
        const prep = await kpkiRun(lab, "prep");
        times.prep!.push(prep.wall);
        cpu.push(prep.cpu / size);
        rss.push(prep.rssMb);
        failed.push(checkFloor.failed, check.failed, prep.failed);
      } finally {
        await lab.stop();
      }
      lab = await fresh(size);
      try {
        const prepFloor = await costOf(() => floorRun(lab!, prepScript, "prep"));
        times.prepFloor!.push(prepFloor.value.wall);
        failed.push(prepFloor.value.failed);
        floorCost.push({ clients: prepFloor.children / size, machine: prepFloor.machine / size });
      } finally {
        await lab.stop();
      }
      if (haveAnsible && size === ansibleAt && round === 0) {
        lab = await fresh(size);
        try {
          const inventory = path.join(lab.dir, "ansible-hosts");
          writeFileSync(inventory, `[all]\n${lab.hosts.map((host) => `${host.address} ansible_user=root ansible_ssh_private_key_file=${lab.identityFile}`).join("\n")}\n[all:vars]\nansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHostsFile}'\n`);
          const ansible = await costOf(() => ansibleRun(inventory, size));
          times.ansible!.push(ansible.value.wall);
          failed.push(ansible.value.failed);
          ansibleCost = { controller: ansible.children / size, machine: ansible.machine / size };
        } finally {
          await lab.stop();
        }
      }
    }
    const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
    lines.push(
      `${size} host(s): check kpki ${median(times.check!).toFixed(2)} s, floor ${median(times.checkFloor!).toFixed(2)} s (${ratio(times.check!, times.checkFloor!)}x); ` +
        `prep kpki ${median(times.prep!).toFixed(2)} s, floor ${median(times.prepFloor!).toFixed(2)} s (${ratio(times.prep!, times.prepFloor!)}x, goal <= 1.3 at 100+)` +
        (times.ansible!.length ? `, ansible ${times.ansible![0]!.toFixed(1)} s, one run (kpki/ansible ${(median(times.prep!) / times.ansible![0]!).toFixed(3)}, goal <= 0.05)` : "") +
        `; kpki CPU per host ${median(cpu).toFixed(3)} s, peak RSS ${median(rss).toFixed(0)} MB; load ${loadBefore} before, ${load()} after` +
        // Where the CPU goes: a real fleet runs the hosts' share on N machines at once, this lab on its 2 cores.
        `; CPU per host during the floor's prep: machine ${median(floorCost.map((c) => c.machine)).toFixed(3)} s, its ssh clients ${median(floorCost.map((c) => c.clients)).toFixed(3)} s` +
        (ansibleCost ? `; during Ansible: machine ${ansibleCost.machine.toFixed(2)} s, its controller (ansible-playbook, forks, ssh) ${ansibleCost.controller.toFixed(2)} s` : ""),
    );
    for (const failure of failed.filter(Boolean)) lines.push(`  (${failure})`);
    // Each size as it finishes: a long run that fails later keeps what it measured.
    console.log(`node bench: ${lines.slice(lines.findLastIndex((line) => !line.startsWith("  ("))).join("\n  ")}`);
  }
  console.log(`\nnode check and prep, medians of ${runs} run(s):\n  ${lines.join("\n  ")}`);
});
