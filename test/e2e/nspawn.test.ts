/**
 * kpki node check / prep on a debootstrapped Debian 12 booted under
 * systemd-nspawn: a real systemd as PID 1, reached over SSH on a test
 * bridge. Everything the steps do goes through the real programs: systemctl
 * enables, starts and masks units, systemd-sysctl applies sysctl.d at boot,
 * and a real reboot (the container halted and booted again) must leave the
 * host ready. See test/support/nspawn/README.md.
 */
import { spawn } from "node:child_process";
import { existsSync, promises as fs, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostReport } from "../../src/bootstrap/node/index.js";
import { runCli } from "../support/cli.js";
import { nspawnAvailable, NspawnHost, nspawnLeftovers, reapStaleNspawnHosts, STAND_IN_KUBELET_VERSION } from "../support/nspawn/index.js";
import { machineChanges, snapshotMachine, ssh, type MachineSnapshot } from "../support/testhosts/index.js";
import { snapshot } from "../support/tmp.js";

const skip = await nspawnAvailable();
if (skip) console.warn(`skipping the nspawn e2e tests: ${skip}`);

describe.skipIf(Boolean(skip))("kpki node prep on Debian 12 with a real systemd (systemd-nspawn)", () => {
  let host: NspawnHost;
  let before: MachineSnapshot;
  let rootForward: string;

  const node = async (verb: string, ...extra: string[]) => {
    const result = await runCli([
      "node", verb, host.address, "--user", "root", "--identity", host.identityFile,
      "--ssh-option", `UserKnownHostsFile=${host.knownHostsFile}`, "--role", "control-plane", "-o", "json", ...extra,
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
    host = await NspawnHost.start({ onBuild: (dir) => console.warn(`building the Debian 12 rootfs for nspawn hosts in ${dir} (once per cache)`) });
  }, 900_000);

  afterAll(async () => {
    await host?.stop();
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
    expect(step("runtime")).toMatchObject({ state: "would-change", detail: "containerd is disabled and inactive" });
    expect(step("kubelet")).toMatchObject({ state: "would-change", detail: "kubelet is disabled and inactive" });
    // A new network namespace starts with this machine's ip_forward: 0 here, so 1 after a reboot is systemd-sysctl's doing.
    expect(await run("cat /proc/sys/net/ipv4/ip_forward")).toBe(rootForward);
    expect(await hostFiles()).toEqual(fresh);
  });

  it("prep --dry-run shows the plan and changes no byte and no unit", async () => {
    const fresh = await hostFiles();
    const units = await unitState("containerd swapfile.swap kubelet");
    const { result, report } = await node("prep", "--dry-run");
    expect(result.exitCode).toBe(4);
    expect(report.changed).toBe(0);
    expect(report.steps.filter((line) => line.state === "would-change").map((line) => line.step)).toEqual(["swap", "modules", "sysctl", "runtime", "kubelet"]);
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
    expect(step("runtime")).toMatchObject({ state: "changed", detail: "containerd enabled and started" });
    expect(step("kubelet")?.state).toBe("changed");

    // Swap: the administrator's unit masked by systemctl (its file kept as a backup), the fstab line commented.
    expect(await unitState("swapfile.swap")).toBe("masked\ninactive");
    expect(await run("readlink /etc/systemd/system/swapfile.swap")).toBe("/dev/null");
    expect(await run("ls /etc/systemd/system | grep -c '^swapfile\\.swap\\.kpki-'")).toBe("1");
    expect(await run("grep -c '^# kpki: swap off for kubelet: /swapfile' /etc/fstab")).toBe("1");
    // The runtime: Debian's real containerd, enabled and running, answering on its socket.
    expect(await unitState("containerd")).toBe("enabled\nactive");
    expect(await run("test -S /run/containerd/containerd.sock && echo socket")).toBe("socket");
    // kubelet: enabled, crash-looping until kubeadm writes its config (the real kubelet's behaviour).
    expect(await run("systemctl is-enabled kubelet")).toBe("enabled");
    expect(await run("systemctl show kubelet -p ActiveState -p SubState --value | paste -sd' '")).toMatch(/^(activating auto-restart|active running)$/);
    expect(await run("kubelet --version")).toBe(`Kubernetes v${STAND_IN_KUBELET_VERSION}`);
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
    expect(result.exitCode, JSON.stringify(report.steps.filter((line) => line.state !== "ok"))).toBe(0);
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
