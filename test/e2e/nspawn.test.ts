/**
 * kpki node check / prep on a debootstrapped Debian 12 booted under
 * systemd-nspawn: a real systemd as PID 1, reached over SSH on a test
 * bridge. Everything the steps do goes through the real programs: systemctl
 * enables, starts and masks units, systemd-sysctl applies sysctl.d at boot,
 * and a real reboot (the container halted and booted again) must leave the
 * host ready. See test/support/nspawn/README.md.
 */
import { promises as fs } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostReport } from "../../src/bootstrap/node/index.js";
import { runCli } from "../support/cli.js";
import { nspawnAvailable, NspawnHost, nspawnLeftovers, STAND_IN_KUBELET_VERSION } from "../support/nspawn/index.js";
import { machineChanges, snapshotMachine, ssh, type MachineSnapshot } from "../support/testhosts/index.js";

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
  const unitState = (unit: string) => run(`systemctl is-enabled ${unit}; systemctl is-active ${unit}`);

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
    const fresh = await fs.readdir(host.stateDir, { recursive: true });
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
    expect(await fs.readdir(host.stateDir, { recursive: true })).toEqual(fresh);
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

    const snapshot = await fs.readdir(host.stateDir, { recursive: true });
    const again = await node("prep");
    expect(again.result.exitCode).toBe(0);
    expect(again.report.changed).toBe(0);
    expect(again.report.steps.filter((line) => line.state !== "ok" && line.state !== "info")).toEqual([]);
    expect(await fs.readdir(host.stateDir, { recursive: true })).toEqual(snapshot);
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
