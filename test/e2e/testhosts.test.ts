/**
 * Smoke test of the real SSH test hosts (test/support/testhosts): three
 * flavours come up in parallel, answer the system ssh client, keep every
 * change to themselves (and in their stateDir), survive a simulated reboot
 * the way real hosts do, fail on demand, refuse a changed host key without
 * prompting, and leave nothing behind.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createNetwork, deleteNetwork, netnsInode } from "../support/testhosts/network.js";
import { tempDir } from "../support/tmp.js";
import {
  clearFailures,
  injectFailure,
  leftovers,
  machineChanges,
  shimState,
  simulateReboot,
  snapshotMachine,
  ssh,
  sshArgs,
  startTestHosts,
  testHostsAvailable,
  type MachineSnapshot,
  type RunFootprint,
  type TestHost,
  type TestHosts,
} from "../support/testhosts/index.js";

const skip = await testHostsAvailable();
if (skip) console.warn(`skipping the test-host smoke test: ${skip}`);

const PROBE = "cat /etc/os-release; cat /proc/swaps; sysctl -n net.ipv4.ip_forward; getenforce || true";

/** Files (not folders) in a host's stateDir, relative to it: what was changed on the host. */
/** What changed on the host, less the state a running containerd keeps (var/lib/containerd), as on a real host. */
async function changedFiles(host: TestHost): Promise<string[]> {
  const entries = await fs.readdir(host.stateDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(host.stateDir, path.join(entry.parentPath, entry.name)))
    .filter((file) => !file.startsWith("var/lib/containerd/"))
    .sort();
}

async function run(host: TestHost, command: string) {
  const result = await ssh(host, command);
  if (result.exitCode !== 0) throw new Error(`${host.name}: ${command} exited ${result.exitCode}\n${result.stderr}`);
  return result.stdout;
}

const swapLines = (procSwaps: string) => procSwaps.trim().split("\n").slice(1).filter(Boolean);

describe.skipIf(skip)("real SSH test hosts", () => {
  let lab: TestHosts | undefined;
  let machine: MachineSnapshot;
  let hosts: Record<"centos7" | "rocky9" | "ubuntu2204", TestHost>;

  beforeAll(async () => {
    machine = await snapshotMachine();
    lab = await startTestHosts({ flavours: ["centos7", "rocky9", "ubuntu2204"] });
    hosts = { centos7: lab.byName("centos7"), rocky9: lab.byName("rocky9"), ubuntu2204: lab.byName("ubuntu2204") };
    console.log(`test hosts: bring-up of ${lab.hosts.length} hosts took ${lab.bringUpMs.toFixed(0)} ms`);
  });

  // Runs even when a test failed: the machine is left as found.
  afterAll(async () => {
    await lab?.stop();
  });

  test("each host answers ssh with its flavour, an active swap, ip_forward 0 and its SELinux mode", async () => {
    const expected = {
      centos7: { id: 'ID="centos"', version: 'VERSION_ID="7"', selinux: "Enforcing" },
      rocky9: { id: 'ID="rocky"', version: 'VERSION_ID="9.4"', selinux: "Enforcing" },
      ubuntu2204: { id: "ID=ubuntu", version: 'VERSION_ID="22.04"', selinux: undefined },
    } as const;
    await Promise.all(
      Object.entries(hosts).map(async ([flavour, host]) => {
        const result = await execa("ssh", ["-F", "/dev/null", ...host.sshOptions, `root@${host.address}`, PROBE], { reject: false, stdin: "ignore" });
        expect(result.exitCode, result.stderr).toBe(0);
        const want = expected[flavour as keyof typeof expected];
        const lines = result.stdout.split("\n");
        expect(lines).toContain(want.id);
        expect(lines).toContain(want.version);
        // os-release, then /proc/swaps (header and one active swap), ip_forward, SELinux mode.
        const header = lines.findIndex((line) => line.startsWith("Filename"));
        expect(header).toBeGreaterThan(0);
        const [swap, forward, selinux] = lines.slice(header + 1);
        expect(swap).toMatch(/^\/\S+\s+(partition|file)\s+\d+\s+0\s+-2$/);
        expect(forward).toBe("0");
        if (want.selinux) expect(selinux).toBe(want.selinux);
        else expect(result.stderr).toMatch(/getenforce: command not found/);
      }),
    );
    expect(hosts.ubuntu2204.sshOptions).toEqual(expect.arrayContaining(["BatchMode=yes", "StrictHostKeyChecking=yes", "IdentitiesOnly=yes"]));
  });

  test("a change on one host stays on that host and shows in its stateDir", async () => {
    const { rocky9, centos7, ubuntu2204 } = hosts;
    await run(rocky9, "swapoff -a && sysctl -w net.ipv4.ip_forward=1 && systemctl enable --now kubelet");

    expect(swapLines(await run(rocky9, "cat /proc/swaps"))).toEqual([]);
    expect(await run(rocky9, "sysctl -n net.ipv4.ip_forward")).toBe("1");
    expect(await run(rocky9, "systemctl is-enabled kubelet")).toBe("enabled");
    // Like a real kubelet before kubeadm init: started, restarting.
    expect((await ssh(rocky9, "systemctl is-active kubelet")).stdout).toBe("activating");
    expect((await shimState(rocky9)).units["kubelet.service"]).toBe("active");

    for (const other of [centos7, ubuntu2204]) {
      expect(swapLines(await run(other, "cat /proc/swaps"))).toHaveLength(1);
      expect(await run(other, "sysctl -n net.ipv4.ip_forward")).toBe("0");
      expect(await changedFiles(other)).toEqual([]);
    }
    expect((await ssh(centos7, "systemctl is-enabled kubelet")).stdout).toBe("disabled");

    expect(await changedFiles(rocky9)).toEqual(["etc/systemd/system/multi-user.target.wants/kubelet.service"]);
    expect(await fs.readlink(path.join(rocky9.stateDir, "etc/systemd/system/multi-user.target.wants/kubelet.service"))).toBe(
      "/usr/lib/systemd/system/kubelet.service",
    );

    // This machine: still as before.
    expect(machineChanges(machine, await snapshotMachine())).toEqual([]);
  });

  test("simulateReboot brings swap back from fstab and ip_forward back to 0, unless the config says otherwise", async () => {
    const { rocky9 } = hosts;
    const started = performance.now();
    await simulateReboot(rocky9);
    console.log(`test hosts: simulated reboot took ${(performance.now() - started).toFixed(0)} ms`);
    expect(swapLines(await run(rocky9, "cat /proc/swaps"))).toHaveLength(1);
    expect(await run(rocky9, "sysctl -n net.ipv4.ip_forward")).toBe("0");
    expect(await run(rocky9, "systemctl is-enabled kubelet")).toBe("enabled");
    expect((await shimState(rocky9)).units["kubelet.service"]).toBe("active");
    expect(await changedFiles(rocky9)).not.toContain("etc/fstab");

    // Persist the changes the way node prep will: fstab commented, sysctl.d, modules-load.d, SELinux config.
    await run(
      rocky9,
      [
        "sed -i.bak '/\\sswap\\s/s/^/#/' /etc/fstab",
        "echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/99-kubernetes.conf",
        "echo br_netfilter > /etc/modules-load.d/kubernetes.conf",
        "sed -i 's/^SELINUX=enforcing$/SELINUX=permissive/' /etc/selinux/config",
      ].join(" && "),
    );
    await simulateReboot(rocky9);
    expect(swapLines(await run(rocky9, "cat /proc/swaps"))).toEqual([]);
    expect(await run(rocky9, "sysctl -n net.ipv4.ip_forward")).toBe("1");
    expect(await run(rocky9, "lsmod")).toMatch(/^br_netfilter\s/m);
    expect(await run(rocky9, "getenforce")).toBe("Permissive");
    expect(await changedFiles(rocky9)).toEqual([
      "etc/fstab",
      "etc/fstab.bak",
      "etc/modules-load.d/kubernetes.conf",
      "etc/selinux/config",
      "etc/sysctl.d/99-kubernetes.conf",
      "etc/systemd/system/multi-user.target.wants/kubelet.service",
    ]);
    expect(machineChanges(machine, await snapshotMachine())).toEqual([]);
  });

  test("an injected failure makes systemctl start kubelet fail; an unknown unit fails like systemd", async () => {
    const { centos7 } = hosts;
    await injectFailure(centos7, "systemctl start kubelet");
    const failed = await ssh(centos7, "systemctl start kubelet");
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain("Job for kubelet.service failed because the control process exited with error code.");
    expect((await ssh(centos7, "systemctl is-active kubelet")).stdout).toBe("failed");

    const unknown = await ssh(centos7, "systemctl start podman");
    expect(unknown.exitCode).toBe(5);
    expect(unknown.stderr.trim()).toBe("Failed to start podman.service: Unit podman.service not found.");

    await clearFailures(centos7);
    expect((await ssh(centos7, "systemctl start kubelet")).exitCode).toBe(0);
  });

  test("a host's mount table holds none of this machine's network namespaces, however many hosts run", async () => {
    // Each host's /run/netns/NAME is a mount here: copied into every host, a host's table would grow with the fleet.
    const mounts = await run(hosts.rocky9, "cat /proc/self/mountinfo");
    expect(mounts).not.toMatch(/ nsfs | \/run\/netns/);
    expect(mounts.split("\n").filter((line) => / \/run(\/\S*)? /.test(line.split(" - ")[0]!)).map((line) => line.split(" ")[4])).toEqual(["/run", "/run/testhost"]);
  });

  test("systemctl restart containerd returns once the new containerd serves, as systemd waits for its notify", async () => {
    const { ubuntu2204 } = hosts;
    const pid = () => fs.readFile(path.join(ubuntu2204.shimDir, "runtime", "containerd.service.pid"), "utf8");
    const before = await pid();
    // The shim once took the first start's "successfully booted" for the restart's and returned at once,
    // before the new containerd listened: a client straight after it found no socket.
    await run(ubuntu2204, "systemctl restart containerd && test -S /run/containerd/containerd.sock && crictl --runtime-endpoint unix:///run/containerd/containerd.sock info >/dev/null");
    expect(await pid()).not.toBe(before);
  });

  test("a changed host key makes ssh fail at once in BatchMode, without a prompt", async () => {
    const { ubuntu2204, centos7 } = hosts;
    const knownHosts = path.join(lab!.dir, "client", "known_hosts.changed");
    const lines = (await fs.readFile(ubuntu2204.knownHostsFile, "utf8")).split("\n");
    // The ubuntu host's line now carries another host's key, as after a reinstall.
    await fs.writeFile(knownHosts, lines.map((line) => (line.startsWith(`${ubuntu2204.address} `) ? `${ubuntu2204.address} ${centos7.hostKey}` : line)).join("\n"));
    const started = performance.now();
    const result = await execa("ssh", ["-o", `UserKnownHostsFile=${knownHosts}`, ...sshArgs(ubuntu2204, "true")], {
      reject: false,
      stdin: "ignore",
      timeout: 20_000,
    });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    console.log(`test hosts: changed host key refused in ${(performance.now() - started).toFixed(0)} ms`);
  });

  test("stop() leaves this machine as found", async () => {
    const footprint = lab!.footprint();
    const took = await lab!.stop();
    console.log(`test hosts: teardown of ${footprint.netns.length} hosts took ${took.toFixed(0)} ms`);
    expect(await leftovers(footprint)).toEqual([]);
    expect(machineChanges(machine, await snapshotMachine())).toEqual([]);
  });
});

describe.skipIf(skip)("a freed test subnet claimed at once by another run", () => {
  /** A run's footprint that is only its network (made in the run folder `dir`). */
  const networkFootprint = (dir: string, { subnet, hosts }: Awaited<ReturnType<typeof createNetwork>>): RunFootprint => ({
    dir,
    bridge: subnet.bridge,
    netns: hosts.map((host) => host.netns),
    netnsInodes: hosts.map((host) => netnsInode(host.netns)!),
    pids: [],
    addresses: [subnet.gateway, ...hosts.map((host) => host.address)],
  });

  test("is that run's: neither its names nor its addresses count as this run's leftovers", async () => {
    const root = tempDir();
    const mine = path.join(root, "mine");
    const other = path.join(root, "other");
    const first = await createNetwork(mine, ["a"]);
    const footprint = networkFootprint(mine, first);
    await deleteNetwork(first.subnet, first.hosts);
    // The same octet and host name: the same bridge, namespace and address names, made anew.
    const second = await createNetwork(other, ["a"], first.subnet.octet);
    try {
      // (Should a third run have claimed the octet first, the names are that run's: the same case.)
      expect(await leftovers(footprint)).toEqual([]);
      expect(await leftovers(networkFootprint(other, second))).toEqual(
        expect.arrayContaining([`network namespace ${second.hosts[0]!.netns}`, `bridge ${second.subnet.bridge}`, `address ${second.subnet.gateway}`]),
      );
    } finally {
      await deleteNetwork(second.subnet, second.hosts);
    }
  });
});
