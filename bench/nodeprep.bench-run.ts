/**
 * kpki node prep against its peers on the same fresh test hosts:
 *   floor   — the same prep script per host over one plain ssh, all hosts at once;
 *   ansible — bench/nodeprep-playbook.yml, forks 20 (when ansible is installed);
 * for 1, 5 and 20 hosts, medians of BENCH_RUNS runs (default 3), each on a
 * new set of hosts. Also kpki's own CPU per host (kpki and its ssh clients).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { it } from "vitest";
import { renderNodeScript } from "../src/bootstrap/node/steps.js";
import { resolveKubernetesVersion } from "../src/bootstrap/node/versions.js";
import { binPath } from "../test/support/cli.js";
import { sshArgs, startTestHosts, testHostsAvailable, type TestHosts } from "../test/support/testhosts/index.js";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const sizes = (process.env.BENCH_HOSTS ?? "1,5,20").split(",").map(Number);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const haveAnsible = (await execa("sh", ["-c", "command -v ansible-playbook"], { reject: false })).exitCode === 0;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function fresh(count: number): Promise<TestHosts> {
  const flavours = ["rocky9", "ubuntu2204", "centos7"] as const;
  return startTestHosts({ flavours: Array.from({ length: count }, (_, index) => flavours[index % flavours.length]!) });
}

// The same key exchange as the floor's ssh options (curve25519 first, what EL7-9's sshd offer):
// OpenSSH 9.2's default hybrid exchange costs ~60 ms of CPU more per connection.
const kex = (lab: TestHosts) => lab.hosts[0]!.sshOptions.find((option) => option.startsWith("KexAlgorithms="))!;
const kpkiArgs = (lab: TestHosts) => [
  binPath, "node", "prep", ...lab.hosts.map((host) => host.address), "--parallel", "20",
  "--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`, "--ssh-option", kex(lab), "-o", "json",
  // No package repositories here: bench/packages.bench-run.ts measures installs from local ones.
  "--no-install",
];

it.skipIf(Boolean(await testHostsAvailable()))("node prep: kpki, the plain-ssh floor and Ansible", async () => {
  const script = renderNodeScript({ mode: "apply", role: "worker", runtime: "auto", firewall: true, ipv6: false, kubernetes: resolveKubernetesVersion(undefined), packages: { install: false, upgrade: false } });
  const lines: string[] = [];
  for (const size of sizes) {
    const times: Record<string, number[]> = { kpki: [], floor: [], ansible: [] };
    const cpu: number[] = [];
    for (let round = 0; round < runs; round++) {
      let lab = await fresh(size);
      try {
        const result = await execa("/usr/bin/time", ["-f", "%U %S", "node", ...kpkiArgs(lab)], { reject: false });
        const [user, system] = String(result.stderr).trim().split("\n").at(-1)!.split(" ").map(Number);
        cpu.push(((user ?? 0) + (system ?? 0)) / size);
      } finally {
        await lab.stop();
      }
      lab = await fresh(size);
      try {
        times.kpki!.push(await timed(() => execa("node", kpkiArgs(lab))));
      } finally {
        await lab.stop();
      }
      lab = await fresh(size);
      try {
        times.floor!.push(
          await timed(() =>
            Promise.all(lab.hosts.map((host) => execa("ssh", sshArgs(host, "sh -s"), { input: script }))),
          ),
        );
      } finally {
        await lab.stop();
      }
      if (haveAnsible) {
        lab = await fresh(size);
        try {
          const inventory = path.join(lab.dir, "ansible-hosts");
          writeFileSync(inventory, `[all]\n${lab.hosts.map((host) => `${host.address} ansible_user=root ansible_ssh_private_key_file=${lab.identityFile}`).join("\n")}\n[all:vars]\nansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHostsFile}'\n`);
          let failed = "";
          times.ansible!.push(
            await timed(async () => {
              const result = await execa("ansible-playbook", ["-i", inventory, "-f", "20", path.resolve("bench/nodeprep-playbook.yml")], { reject: false, env: { ANSIBLE_HOST_KEY_CHECKING: "True", ANSIBLE_PYTHON_INTERPRETER: "auto_silent" } });
              if (result.exitCode !== 0) failed = String(result.stdout).split("\n").filter((line) => /fatal|failed=[1-9]|unreachable=[1-9]/.test(line)).slice(0, 3).join(" | ");
            }),
          );
          if (failed) lines.push(`  (ansible failed on ${size} host(s): ${failed})`);
        } finally {
          await lab.stop();
        }
      }
    }
    const kpki = median(times.kpki!);
    const floor = median(times.floor!);
    lines.push(`${size} host(s): kpki ${kpki.toFixed(2)} s, floor ${floor.toFixed(2)} s (kpki/floor ${(kpki / floor).toFixed(2)}, goal <= 1.5)` +
      (times.ansible!.length ? `, ansible ${median(times.ansible!).toFixed(2)} s (kpki/ansible ${(kpki / median(times.ansible!)).toFixed(3)}, goal <= 0.1)` : ", ansible not installed") +
      `; kpki CPU per host ${median(cpu).toFixed(3)} s`);
  }
  console.log(`\nnode prep, medians of ${runs} runs:\n  ${lines.join("\n  ")}`);
});
