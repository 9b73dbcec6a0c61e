/**
 * kpki node check / prep on a debootstrapped Debian 12 booted under
 * systemd-nspawn: a real systemd as PID 1, reached over SSH on a test
 * bridge. Everything the steps do goes through the real programs: systemctl
 * enables, starts and masks units, systemd-sysctl applies sysctl.d at boot,
 * and a real reboot (the container halted and booted again) must leave the
 * host ready. The host starts as a bare Debian 12: the packages step installs
 * containerd, kubelet, kubeadm, kubectl and cri-tools with the host's real apt
 * from the signed test repositories (test/support/repos), served on the
 * host's bridge. See test/support/nspawn/README.md.
 */
import { spawn } from "node:child_process";
import { execa } from "execa";
import { existsSync, promises as fs, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostReport } from "../../src/bootstrap/node/index.js";
import { runCli } from "../support/cli.js";
import { nspawnAvailable, NspawnHost, nspawnLeftovers, reapStaleNspawnHosts } from "../support/nspawn/index.js";
import { buildTestRepos, debianSourceFiles, serveRepos, type RepoServer, type TestRepos } from "../support/repos/index.js";
import { machineChanges, snapshotMachine, ssh, sshArgs, type MachineSnapshot } from "../support/testhosts/index.js";
import { snapshot, tempDir } from "../support/tmp.js";

const skip = await nspawnAvailable();
if (skip) console.warn(`skipping the nspawn e2e tests: ${skip}`);

describe.skipIf(Boolean(skip))("kpki node prep on Debian 12 with a real systemd (systemd-nspawn)", () => {
  let host: NspawnHost;
  let before: MachineSnapshot;
  let rootForward: string;
  let repos: TestRepos;
  let server: RepoServer;
  const dir = tempDir();

  const node = async (verb: string, ...extra: string[]) => {
    const result = await runCli([
      "node", verb, host.address, "--user", "root", "--identity", host.identityFile,
      "--ssh-option", `UserKnownHostsFile=${host.knownHostsFile}`, "--role", "control-plane", "--kubernetes-version", "1.33",
      "--package-mirror", server.url, "--package-mirror-key", repos.keyFile, "-o", "json", ...extra,
    ]);
    const report = result.stdout ? (JSON.parse(result.stdout).hosts as HostReport[])[0] : undefined;
    return { result, report: report!, step: (name: string) => report?.steps.find((line) => line.step === name) };
  };
  /** One command on the host; its stdout, trimmed (the exit code is not checked: systemctl is-* exit non-zero on purpose). */
  const run = async (command: string) => String((await ssh(host, command)).stdout).trim();
  /**
   * The host's changed files (modes and hashes), but for what the running
   * system writes by itself: its journal, login records, services' private tmp.
   */
  const hostFiles = async () =>
    Object.fromEntries(Object.entries(await snapshot(host.stateDir)).filter(([file]) => !/^var\/log\/(journal\/|wtmp|btmp|lastlog)|^var\/tmp\/systemd-private-/.test(file)));
  /** is-enabled then is-active, a line each per unit (units: space-separated). */
  const unitState = (units: string) => run(`systemctl is-enabled ${units}; systemctl is-active ${units}`);

  beforeAll(async () => {
    before = await snapshotMachine();
    rootForward = (await fs.readFile("/proc/sys/net/ipv4/ip_forward", "utf8")).trim();
    repos = await buildTestRepos(dir);
    host = await NspawnHost.start({ onBuild: (cache) => console.warn(`building the Debian 12 rootfs for nspawn hosts in ${cache} (once per cache)`) });
    server = await serveRepos(repos.root, host.gateway);
    // The distribution's repository (Debian's containerd) as the host's own apt source, as a real host has one.
    for (const [file, content] of Object.entries(debianSourceFiles(repos, server.url))) {
      const written = await execa("ssh", sshArgs(host, `cat > ${file}`), { input: content, reject: false });
      expect(written.exitCode, written.stderr).toBe(0);
    }
  }, 900_000);

  afterAll(async () => {
    await host?.stop();
    await server?.close();
    if (before) expect(machineChanges(before, await snapshotMachine())).toEqual([]);
    if (host) expect(await nspawnLeftovers(host.footprint())).toEqual([]);
  }, 120_000);

  it("boots a real systemd: PID 1 is systemd, in a container, the boot finished", async () => {
    expect(await run("cat /proc/1/comm; systemd-detect-virt --container; systemctl is-system-running")).toBe("systemd\nsystemd-nspawn\nrunning");
  });

  it("check on the fresh host: not ready, every change named, nothing changed", async () => {
    const fresh = await hostFiles();
    const { result, report, step } = await node("check");
    expect(result.exitCode).toBe(4);
    expect(report.ok).toBe(false);
    expect(step("os")).toMatchObject({ state: "ok", detail: expect.stringMatching(/Debian GNU\/Linux 12/) });
    expect(step("swap")).toMatchObject({ state: "would-change", detail: expect.stringMatching(/fstab lines: \d+.*swap units: swapfile\.swap/) });
    expect(step("sysctl")?.state).toBe("would-change");
    // Both modules are built into this kernel; a container sees no /sys/module, but the kernel's own files show them.
    expect(step("modules")).toMatchObject({ state: "would-change", detail: expect.stringMatching(/^\/etc\/modules-load\.d\/kpki-kubernetes\.conf missing/) });
    // A bare Debian 12: the packages step would add the Kubernetes repository of the mirror and install from it.
    expect(step("packages")).toMatchObject({ state: "would-change", detail: expect.stringContaining(`add repository ${server.url}/kubernetes/core:/stable:/v1.33/deb/ (key --package-mirror-key)`) });
    expect(step("packages")?.detail).toMatch(/install kubelet 1\.33\.x kubeadm 1\.33\.x kubectl 1\.33\.x cri-tools 1\.33\.x containerd/);
    expect(step("runtime")).toMatchObject({ state: "would-change", detail: "no container runtime installed yet: the packages step installs containerd" });
    expect(step("kubelet")).toMatchObject({ state: "would-change", detail: "kubelet is not installed yet: the packages step installs it" });
    // A new network namespace starts with this machine's ip_forward: 0 here, so 1 after a reboot is systemd-sysctl's doing.
    expect(await run("cat /proc/sys/net/ipv4/ip_forward")).toBe(rootForward);
    expect(await hostFiles()).toEqual(fresh);
  });

  it("prep --dry-run shows the plan and changes no byte and no unit", async () => {
    const fresh = await hostFiles();
    const units = await unitState("containerd swapfile.swap kubelet");
    server.clearLog();
    const { result, report } = await node("prep", "--dry-run");
    // Changes merely pending (the runtime and kubelet come with the packages): the plan was made, exit 0.
    expect(result.exitCode, result.stderr).toBe(0);
    expect(report.changed).toBe(0);
    expect(report.steps.filter((line) => line.state === "would-change").map((line) => line.step)).toEqual(["swap", "modules", "sysctl", "packages", "runtime", "kubelet"]);
    expect(server.requests()).toEqual([]);
    expect(await unitState("containerd swapfile.swap kubelet")).toBe(units);
    expect(await hostFiles()).toEqual(fresh);
  });

  it("prep makes it ready through the real systemctl and sysctl; a second prep changes nothing", async () => {
    const { result, report, step } = await node("prep");
    expect(result.stderr).toBe("");
    expect(report.ok, JSON.stringify(report.steps)).toBe(true);
    expect(result.exitCode).toBe(0);
    expect(step("swap")?.state).toBe("changed");
    expect(step("sysctl")?.state).toBe("changed");
    expect(step("modules")).toMatchObject({ state: "changed", detail: "/etc/modules-load.d/kpki-kubernetes.conf written" });
    expect(step("packages")?.state).toBe("changed");
    expect(step("containerd")?.state).toBe("changed");
    expect(step("runtime")).toMatchObject({
      state: "changed",
      detail: expect.stringMatching(/^containerd enabled and started; answers on unix:\/\/\/run\/containerd\/containerd\.sock \(crictl info: RuntimeReady/),
    });
    expect(step("kubelet")).toMatchObject({ state: "changed", detail: expect.stringMatching(/enabled, not started/) });
    // Installed by the host's real apt from the mirror: every request came from the host.
    expect(server.requests().length).toBeGreaterThan(0);
    for (const request of server.requests()) expect([request.from, request.status], request.path).toEqual([host.address, 200]);

    // Swap: the administrator's unit masked by systemctl (its file kept as a backup), the fstab line commented.
    expect(await unitState("swapfile.swap")).toBe("masked\ninactive");
    expect(await run("readlink /etc/systemd/system/swapfile.swap")).toBe("/dev/null");
    expect(await run("ls /etc/systemd/system | grep -c '^swapfile\\.swap\\.kpki-'")).toBe("1");
    expect(await run("grep -c '^# kpki: swap off for kubelet: /swapfile' /etc/fstab")).toBe("1");
    // The runtime: Debian's real containerd, enabled and running, answering on its socket.
    expect(await unitState("containerd")).toBe("enabled\nactive");
    expect(await run("test -S /run/containerd/containerd.sock && echo socket")).toBe("socket");
    // kubelet: enabled, not started: kubeadm init/join starts it once it has written its config.
    expect(await run("systemctl is-enabled kubelet")).toBe("enabled");
    expect(await run("systemctl show kubelet -p ActiveState -p SubState --value | paste -sd' '")).toBe("inactive dead");
    expect(await run("kubelet --version")).toBe("Kubernetes v1.33.2");
    expect(await run("crictl info >/dev/null && echo answers")).toBe("answers");
    expect(await run("sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables | paste -sd' '")).toBe("1 1");

    const prepared = await hostFiles();
    const again = await node("prep");
    expect(again.result.exitCode).toBe(0);
    expect(again.report.changed).toBe(0);
    expect(again.report.steps.filter((line) => line.state !== "ok" && line.state !== "info")).toEqual([]);
    expect(await hostFiles()).toEqual(prepared);
  });

  it("a real reboot leaves it ready: units started at boot, sysctl.d applied by systemd-sysctl, swap units still masked", async () => {
    const bootId = await run("cat /proc/sys/kernel/random/boot_id; systemctl show -p ExecMainStartTimestampMonotonic --value systemd-journald");
    await host.reboot();
    expect(await run("cat /proc/sys/kernel/random/boot_id; systemctl show -p ExecMainStartTimestampMonotonic --value systemd-journald")).not.toBe(bootId);
    const { result, report } = await node("check");
    expect(result.exitCode, JSON.stringify([report.steps.filter((line) => line.state !== "ok"), report.checks.filter((line) => line.status === "fail" && line.severity === "error")])).toBe(0);
    expect(await run("systemctl show systemd-sysctl -p ConditionResult -p ActiveState -p ExecMainStatus | sort | paste -sd' '")).toBe(
      "ActiveState=active ConditionResult=yes ExecMainStatus=0",
    );
    expect(await run("cat /proc/sys/net/ipv4/ip_forward")).toBe("1");
    expect(await unitState("containerd")).toBe("enabled\nactive");
    expect(await unitState("swapfile.swap")).toBe("masked\ninactive");
    expect(await run("systemctl is-enabled kubelet")).toBe("enabled");
    // The journal of this boot shows systemd itself started them (no ssh session did).
    expect(await run("journalctl -b --no-pager -o cat _PID=1 | grep -c -E '^Started containerd.service|^Started kubelet.service'")).toBe("2");
  });

  it("boots in seconds (reported, not asserted)", () => {
    console.warn(`nspawn host boots: ${host.bootMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ")}`);
    expect(host.bootMs).toHaveLength(2);
  });

});

describe.skipIf(Boolean(skip))("nspawn hosts of a killed run", () => {
  it("are reaped: the processes in a dead owner's cgroups killed, the cgroups removed; a live owner's left alone", async () => {
    const roots = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"].filter((root) => existsSync(`${root}/cgroup.procs`));
    const gone = spawn("true");
    await new Promise((resolve) => gone.once("exit", resolve));
    const stale = `kpki-nspawn-${gone.pid}-1-250`;
    const live = `kpki-nspawn-${process.pid}-${readFileSync(`/proc/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]}-251`;
    // A stand-in for a container left running: a process in the stale run's cgroups (nested, as nspawn's payload is).
    const orphan = spawn("sleep", ["300"], { stdio: "ignore" });
    const exited = new Promise((resolve) => orphan.once("exit", resolve));
    try {
      for (const root of roots) {
        await fs.mkdir(`${root}/${stale}/payload`, { recursive: true });
        await fs.mkdir(`${root}/${live}`);
        await fs.writeFile(`${root}/${stale}/payload/cgroup.procs`, String(orphan.pid));
      }
      const reaped = await reapStaleNspawnHosts();
      expect(reaped.sort()).toEqual(roots.map((root) => `${root}/${stale}`).sort());
      await exited;
      expect(orphan.signalCode).toBe("SIGKILL");
      for (const root of roots) {
        expect(existsSync(`${root}/${stale}`)).toBe(false);
        expect(existsSync(`${root}/${live}`)).toBe(true);
      }
    } finally {
      orphan.kill("SIGKILL");
      for (const root of roots) for (const dir of [`${stale}/payload`, stale, live]) await fs.rmdir(`${root}/${dir}`).catch(() => undefined);
    }
  });
});
