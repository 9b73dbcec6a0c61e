/**
 * kpki node check / prep against real sshd test hosts (CentOS 7, Rocky 9,
 * Ubuntu 22.04): the real CLI, the system ssh client, recorded shims for
 * what cannot be confined. And token verify --from, run from a node against
 * the faithful test API server.
 */
import { existsSync, promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type TestApiServer } from "../support/apiserver.js";
import { ansibleInventory } from "../support/ansibleinventory.js";
import { runBin, runCli, type CliResult } from "../support/cli.js";
import {
  leftovers,
  machineChanges,
  shimCalls,
  shimState,
  simulateReboot,
  snapshotMachine,
  ssh,
  startTestHosts,
  testHostsAvailable,
  isRpmScratch,
  type MachineSnapshot,
  type TestHost,
  type TestHosts,
} from "../support/testhosts/index.js";
import { tempDir } from "../support/tmp.js";
import { fetchFile, SshSession, type HostReport } from "../../src/bootstrap/node/index.js";

const skip = await testHostsAvailable();

/**
 * These hosts' runtime and kubelet are recorded stand-ins: no CRI socket answers, no kubeadm is there,
 * and `containerd config dump` has no runc options. test/e2e/preflight.test.ts proves those checks
 * with a real containerd; here "ready" means ready for everything node prep owns.
 */
const TARGET = ["--kubernetes-version", "1.30"];
const PREP_OWNS = [...TARGET, "--ignore-preflight-errors", "CRI,KubernetesVersion,CgroupDriver"];
if (skip) console.warn(`skipping the node e2e tests: ${skip}`);


async function changedFiles(host: TestHost): Promise<Record<string, string>> {
  const entries = await fs.readdir(host.stateDir, { recursive: true, withFileTypes: true });
  const files: Record<string, string> = {};
  for (const entry of entries) {
    // containerd's own state (it runs for real) is not kpki's change.
    if (entry.isDirectory() || isRpmScratch(path.join(entry.parentPath, entry.name)) || entry.parentPath.includes("/var/lib/containerd")) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(host.stateDir, full)] = entry.isSymbolicLink() ? `-> ${await fs.readlink(full)}` : await fs.readFile(full, "utf8").catch(() => "?");
  }
  return files;
}

describe.skipIf(Boolean(skip))("kpki node check and prep on real SSH hosts", () => {
  let lab: TestHosts;
  let before: MachineSnapshot;
  const sshFlags = () => ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`];
  const node = async (verb: string, hosts: readonly TestHost[], ...extra: string[]): Promise<{ result: CliResult; reports: HostReport[] }> => {
    // --no-install: these hosts have no package repositories (test/e2e/packages.test.ts installs from local ones).
    const result = await runCli(["node", verb, ...hosts.map((host) => host.address), ...sshFlags(), "--no-install", "-o", "json", ...extra]);
    const reports = result.stdout ? (JSON.parse(result.stdout).hosts as HostReport[]) : [];
    return { result, reports };
  };
  const stepOf = (report: HostReport, step: string) => report.steps.find((line) => line.step === step);

  beforeAll(async () => {
    before = await snapshotMachine();
    lab = await startTestHosts({ flavours: ["centos7", "rocky9", "ubuntu2204"] });
  }, 120_000);

  afterAll(async () => {
    await lab?.stop();
    if (before) expect(machineChanges(before, await snapshotMachine())).toEqual([]);
    if (lab) expect(await leftovers(lab.footprint())).toEqual([]);
  }, 120_000);

  it("check on fresh hosts: not ready, every needed change named, nothing changed", async () => {
    const fresh = await Promise.all(lab.hosts.map(changedFiles));
    const { result, reports } = await node("check", lab.hosts, "--role", "control-plane");
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/3 of 3 host\(s\) not ready/);
    for (const report of reports) {
      const host = lab.hosts.find((candidate) => candidate.address === report.host)!;
      expect(report.ok, report.host).toBe(false);
      expect(report.ready, report.host).toBe(false);
      expect(stepOf(report, "os")?.state).toBe("ok");
      expect(stepOf(report, "swap")).toMatchObject({ state: "would-change" });
      expect(stepOf(report, "sysctl")).toMatchObject({ state: "would-change" });
      expect(stepOf(report, "modules")).toMatchObject({ state: "would-change" });
      if (host.family === "rhel") expect(stepOf(report, "selinux")).toMatchObject({ state: "would-change" });
      else expect(stepOf(report, "selinux")).toBeUndefined();
      expect(report.checks.find((check) => check.name === "Hostname")?.status).toBe("pass");
      // Not ready for kubeadm's reasons: forwarding off is kubeadm's error; swap on only its warning.
      expect(report.checks.find((check) => check.name === "FileContent--proc-sys-net-ipv4-ip_forward")).toMatchObject({ severity: "error", status: "fail" });
      expect(report.checks.find((check) => check.name === "Swap")).toMatchObject({ severity: "warning", status: "fail" });
    }
    expect(await Promise.all(lab.hosts.map(changedFiles))).toEqual(fresh);
  });

  it("check through bin/kpki, started from its snapshot as users run it, reports what the code in process does", async () => {
    const args = ["node", "check", ...lab.hosts.map((host) => host.address), ...sshFlags(), "--no-install", "-o", "json", "--role", "control-plane"];
    const viaBin = await runBin(args);
    const inProcess = await runCli(args);
    expect(viaBin.exitCode, viaBin.stderr).toBe(4);
    const states = (stdout: string) => (JSON.parse(stdout).hosts as HostReport[]).map((report) => [report.host, report.ready, report.steps.map((step) => `${step.step}:${step.state}`)]);
    expect(states(viaBin.stdout)).toEqual(states(inProcess.stdout));
  });

  it("prep --dry-run shows the plan and changes no byte on any host", async () => {
    const fresh = await Promise.all(lab.hosts.map(changedFiles));
    const states = await Promise.all(lab.hosts.map(shimState));
    const { result, reports } = await node("prep", lab.hosts, "--dry-run");
    // Changes merely pending: the plan was made, exit 0.
    expect(result.exitCode, result.stderr).toBe(0);
    expect(reports.every((report) => report.changed === 0)).toBe(true);
    expect(reports.flatMap((report) => report.steps).some((step) => step.state === "would-change")).toBe(true);
    expect(await Promise.all(lab.hosts.map(changedFiles))).toEqual(fresh);
    expect(await Promise.all(lab.hosts.map(shimState))).toEqual(states);
  });

  it("prep makes every host ready, for good; check then passes; a second prep changes nothing", async () => {
    // The same target as the check: the containerd step writes the minor's pause image.
    const { result, reports } = await node("prep", lab.hosts, "--role", "control-plane", ...TARGET);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    for (const report of reports) {
      const host = lab.hosts.find((candidate) => candidate.address === report.host)!;
      expect(report.ok, JSON.stringify(report.steps)).toBe(true);
      expect(stepOf(report, "swap")?.state).toBe("changed");
      const files = await changedFiles(host);
      // fstab: the swap line commented, not deleted, and a backup beside it.
      expect(files["etc/fstab"]).toMatch(/^# kpki: swap off for kubelet: .*\sswap\s/m);
      expect(Object.keys(files).some((file) => /^etc\/fstab\.kpki-\d{14}$/.test(file))).toBe(true);
      expect(files["etc/sysctl.d/99-kpki-kubernetes.conf"]).toMatch(/^net\.ipv4\.ip_forward = 1$/m);
      expect(files["etc/modules-load.d/kpki-kubernetes.conf"]).toMatch(/^br_netfilter$/m);
      // The host's own network namespace really forwards now.
      const forward = await ssh(host, "sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; cat /proc/swaps | wc -l");
      expect(String(forward.stdout).split("\n")).toEqual(["1", "1", "1"]);
      const state = await shimState(host);
      expect(state.swaps).toEqual([]);
      // br_netfilter needs modprobe unless this kernel has it built in (its /proc/sys/net/bridge shows it); overlay is built in.
      expect(state.modules.includes("br_netfilter")).toBe(!existsSync("/proc/sys/net/bridge/bridge-nf-call-iptables"));
      // kubelet is enabled but kpki never starts it: kubeadm init/join does, once it has written its config.
      expect((await shimCalls(host)).filter((call) => /^systemctl (start|restart|enable --now) kubelet/.test(call))).toEqual([]);
      expect(stepOf(report, "runtime")?.detail).toMatch(/answers on unix:\/\/\/run\/containerd\/containerd\.sock \(crictl info: RuntimeReady/);
      if (host.family === "rhel") {
        expect(state.selinux).toBe("Permissive");
        expect(files["etc/selinux/config"]).toMatch(/^SELINUX=permissive$/m);
      }
      expect(String((await ssh(host, "systemctl is-enabled kubelet")).stdout).trim()).toBe("enabled");
    }
    const check = await node("check", lab.hosts, "--role", "control-plane", ...PREP_OWNS);
    const notReady = check.reports.map((report) => [
      report.host,
      report.steps.filter((step) => !["ok", "warn", "info"].includes(step.state)),
      report.checks.filter((line) => line.status === "fail" && line.severity === "error"),
    ]);
    expect(check.result.exitCode, JSON.stringify(notReady)).toBe(0);
    expect(check.reports.every((report) => report.ok && report.ready)).toBe(true);

    const snapshot = await Promise.all(lab.hosts.map(changedFiles));
    const again = await node("prep", lab.hosts, "--role", "control-plane", ...TARGET);
    expect(again.result.exitCode).toBe(0);
    expect(again.reports.map((report) => report.changed)).toEqual([0, 0, 0]);
    // ok, or only said: packages warns (--no-install leaves kubeadm, kubectl and cri-tools, which these hosts lack, to the operator),
    // and the kubelet stubs are v1.30.2 with no kubeadm: warnings, not changes.
    expect(again.reports.flatMap((report) => report.steps).filter((step) => !["ok", "warn", "info"].includes(step.state))).toEqual([]);
    expect(again.reports.map((report) => stepOf(report, "packages")?.detail)).toEqual(Array(3).fill(expect.stringMatching(/--no-install/)));
    expect(await Promise.all(lab.hosts.map(changedFiles))).toEqual(snapshot);
  });

  it("the preparation survives a reboot", async () => {
    for (const host of lab.hosts) await simulateReboot(host);
    const { result, reports } = await node("check", lab.hosts, "--role", "control-plane", ...PREP_OWNS);
    expect(result.exitCode, JSON.stringify(reports.map((report) => report.checks.filter((check) => check.status === "fail" && check.severity === "error")))).toBe(0);
    for (const host of lab.hosts) {
      const forward = await ssh(host, "sysctl -n net.ipv4.ip_forward; cat /proc/swaps | wc -l");
      expect(String(forward.stdout).split("\n")).toEqual(["1", "1"]);
    }
  });

  it("shows one updating summary line on a terminal (a line of its own only for a host that fails), and nothing otherwise", async () => {
    const args = ["node", "check", ...lab.hosts.map((host) => host.address), ...sshFlags(), "--no-install", "--role", "control-plane", ...PREP_OWNS];
    const onTerminal = await runCli(args, { tty: true });
    const redraws = onTerminal.stderr.split("\r\x1b[K").filter(Boolean);
    expect(redraws[0]).toMatch(/^\[0\/3\] 0 done, 0 failed, 3 running, \d+ s$/);
    expect(redraws.at(-1)).toMatch(/^\[3\/3\] 3 done, 0 failed, 0 running, \d+ s\n$/);
    expect(redraws).toHaveLength(4);
    expect(onTerminal.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    const piped = await runCli(args);
    expect(piped.stderr).toBe("");
    expect(piped.stdout).toBe(onTerminal.stdout);
  });

  it("an unreachable host, a refused key and an unknown host key each get their own error while the others finish", async () => {
    const [good] = lab.hosts;
    const otherKnownHosts = path.join(lab.dir, "empty_known_hosts");
    await fs.writeFile(otherKnownHosts, "");
    const unreachable = await runCli(["node", "check", lab.unusedAddress, good!.address, ...sshFlags(), "--no-install", "--role", "control-plane", ...PREP_OWNS, "--connect-timeout", "2", "-o", "json"]);
    const reports = JSON.parse(unreachable.stdout).hosts as HostReport[];
    expect(reports[0]!.error?.failure).toBe("unreachable");
    expect(reports[1]!.ready).toBe(true);
    expect(unreachable.exitCode).toBe(4);

    const unknownKey = await runCli(["node", "check", good!.address, "--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${otherKnownHosts}`, "-o", "json"]);
    expect((JSON.parse(unknownKey.stdout).hosts as HostReport[])[0]!.error?.failure).toBe("host-key-unknown");

    const wrongKey = path.join(lab.dir, "wrong_key");
    const { generateKeyPairSync } = await import("node:crypto");
    const { privateKey } = generateKeyPairSync("ed25519");
    await fs.writeFile(wrongKey, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const refused = await runCli(["node", "check", good!.address, "--user", "root", "--identity", wrongKey, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`, "--ssh-option", "IdentityAgent=none", "-o", "json"]);
    const refusedReport = (JSON.parse(refused.stdout).hosts as HostReport[])[0]!;
    expect(["auth-refused"]).toContain(refusedReport.error?.failure);
  });

  it("--accept-new-host-keys accepts a fresh node's key (and records it), but never a changed one", async () => {
    const host = lab.hosts[0]!;
    const knownHosts = path.join(lab.dir, "fresh_known_hosts");
    await fs.writeFile(knownHosts, "");
    const flags = ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${knownHosts}`];
    const accepted = await runCli(["node", "check", host.address, ...flags, "--role", "control-plane", "--accept-new-host-keys", "-o", "json"]);
    expect((JSON.parse(accepted.stdout).hosts as HostReport[])[0]!.error).toBeUndefined();
    // OpenSSH recorded it (hashed, as Debian's ssh_config asks).
    expect(await fs.readFile(knownHosts, "utf8")).toContain(host.hostKey.split(" ").slice(0, 2).join(" "));
    // Now known_hosts holds this key for another host: a changed key is refused even with --accept-new-host-keys.
    const other = lab.hosts[1]!;
    await fs.writeFile(knownHosts, `${other.address} ${host.hostKey.split(" ").slice(0, 2).join(" ")}\n`);
    const changed = await runCli(["node", "check", other.address, ...flags, "--accept-new-host-keys", "-o", "json"]);
    expect((JSON.parse(changed.stdout).hosts as HostReport[])[0]!.error?.failure).toBe("host-key-changed");
  });

  it.skipIf(!existsSync("/usr/bin/sudo"))("--become runs the script through sudo -n for a non-root user, and names a sudo that wants a password", async () => {
    const host = lab.hosts[2]!;
    const setup = await ssh(host, [
      // /home is this machine's, read-only on a test host: homes go under /var/lib. A new account is
      // locked ("!"), which sshd refuses without PAM: give it "*" (no password, not locked).
      "for u in deploy nosudo; do useradd -m -d /var/lib/$u $u && usermod -p '*' $u && mkdir -p /var/lib/$u/.ssh && cp /root/.ssh/authorized_keys /var/lib/$u/.ssh/ && chown -R $u /var/lib/$u/.ssh; done",
      "echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy && chmod 0440 /etc/sudoers.d/deploy",
    ].join(" && "));
    expect(setup.exitCode, String(setup.stderr)).toBe(0);
    const flags = (user: string) => ["--user", user, "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`];
    const asDeploy = await runCli(["node", "check", host.address, ...flags("deploy"), "--become", "--role", "control-plane", "-o", "json"]);
    const report = (JSON.parse(asDeploy.stdout).hosts as HostReport[])[0]!;
    expect(report.error, JSON.stringify(report)).toBeUndefined();
    // sudo -n let the whole script run (the user without a sudoers entry below is refused).
    expect(report.steps.find((step) => step.step === "os")?.state).toBe("ok");
    expect(report.steps.length).toBeGreaterThan(5);
    const refused = await runCli(["node", "check", host.address, ...flags("nosudo"), "--become", "-o", "json"]);
    expect((JSON.parse(refused.stdout).hosts as HostReport[])[0]!.error?.failure).toBe("sudo-refused");
  });

  it("reads an Ansible INI inventory as Ansible does: kubespray groups as roles, connection vars, --limit", async () => {
    const [first, second, third] = lab.hosts;
    const file = path.join(tempDir(), "inventory.ini");
    const names = new Map([[first!, "cp1"], [second!, "w1"], [third!, "w2"]]);
    await fs.writeFile(file, ansibleInventory(lab, { kube_control_plane: [first!], kube_node: [second!, third!] }, (host) => names.get(host)!) + "[k8s_cluster:children]\nkube_control_plane\nkube_node\n");
    const result = await runCli(["node", "check", "--inventory", file, "--limit", "k8s_cluster:!w2", "-o", "json"]);
    const reports = JSON.parse(result.stdout).hosts as (HostReport & { role: string; address: string })[];
    expect(reports.map((report) => [report.host, report.address, report.role])).toEqual([
      ["cp1", first!.address, "control-plane"],
      ["w1", second!.address, "worker"],
    ]);
    for (const report of reports) expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    const bad = await runCli(["node", "check", "--inventory", file, "--limit", "nosuch"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--limit "nosuch" matches no host/);
  });

  it("refuses bad input before touching any host", async () => {
    const cases: [string[], RegExp][] = [
      [["node", "prep", "--parallel", "0", lab.hosts[0]!.address], /--parallel/],
      [["node", "prep", "--runtime", "podman", lab.hosts[0]!.address], /podman/],
      [["node", "prep", "bad_host!"], /not a valid host name/],
      [["node", "prep", lab.hosts[0]!.address, lab.hosts[0]!.address], /given twice/],
      [["node", "prep", `${lab.hosts[0]!.address}:99999`], /port/],
      [["node", "prep", "--ssh-option=StrictHostKeyChecking=no", lab.hosts[0]!.address], /never turns host-key checking off/],
    ];
    const files = await changedFiles(lab.hosts[0]!);
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    const dir = tempDir();
    const inventories: [string, RegExp][] = [
      ["hosts:\n  - address: 169.254.1.1\n  - address: 169.254.1.1\n", /:3: 169\.254\.1\.1 is listed twice/],
      ["hosts:\n  - address: 169.254.1.1\n    port: 70000\n", /:3: port must be a number/],
      ["hosts:\n  - address: 169.254.1.1\n    colour: red\n", /:3: unknown key "colour"/],
      ["hosts:\n  - name: cp-1\n", /:2: this host has no address/],
      ["[kube_node]\nnode1 ansible_port=seven\n", /:2: ansible_port must be a port/],
      ["[k8s_cluster:children]\nkube_node\n", /:2: .*never defined/],
    ];
    for (const [text, message] of inventories) {
      const file = path.join(dir, `inventory-${inventories.findIndex(([candidate]) => candidate === text)}.yaml`);
      await fs.writeFile(file, text);
      const result = await runCli(["node", "check", "--inventory", file]);
      expect(result.exitCode, text).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect(await changedFiles(lab.hosts[0]!)).toEqual(files);
  });

  describe("push-pki and kubeconfig fetch", () => {
    const dir = tempDir();
    const pki = path.join(dir, "a", "pki");

    beforeAll(async () => {
      const init = await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--dir", path.dirname(pki)]);
      expect(init.exitCode, init.stderr).toBe(0);
    });

    it("copies the PKI with kubeadm's modes; a worker gets nothing under pki; a second push changes nothing", async () => {
      const [, controlPlane, worker] = lab.hosts;
      const push = await runCli(["node", "push-pki", controlPlane!.address, "--dir", path.dirname(pki), "--role", "control-plane-init", ...sshFlags()]);
      expect(push.stderr).toBe("");
      expect(push.exitCode).toBe(0);
      const remote = (file: string) => path.join(controlPlane!.stateDir, "etc/kubernetes/pki", file);
      for (const file of ["ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub", "etcd/ca.crt", "etcd/server.key", "front-proxy-ca.key"]) {
        expect(await fs.readFile(remote(file)), file).toEqual(await fs.readFile(path.join(pki, file)));
        const mode = (await fs.stat(remote(file))).mode & 0o777;
        expect(mode, file).toBe(file.endsWith(".key") || file === "sa.pub" ? 0o600 : 0o644);
      }
      await expect(fs.access(remote("apiserver.csr"))).rejects.toThrow();
      const again = await runCli(["node", "push-pki", controlPlane!.address, "--dir", path.dirname(pki), "--role", "control-plane-init", ...sshFlags(), "-o", "json"]);
      expect(JSON.parse(again.stdout)[0].files.every((file: { action: string }) => file.action === "unchanged")).toBe(true);

      const workerPush = await runCli(["node", "push-pki", worker!.address, "--dir", path.dirname(pki), "--role", "worker", ...sshFlags()]);
      expect(workerPush.exitCode, workerPush.stderr).toBe(0);
      expect(existsSync(path.join(worker!.stateDir, "etc/kubernetes"))).toBe(false);
    });

    it("never overwrites a different key without --force, and then writes nothing at all", async () => {
      const controlPlane = lab.hosts[1]!;
      const other = path.join(dir, "b", "pki");
      expect((await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--only", "apiserver", "--dir", path.dirname(other)])).exitCode).toBe(0);
      const before = await changedFiles(controlPlane);
      const refused = await runCli(["node", "push-pki", controlPlane.address, "--dir", path.dirname(other), "--role", "control-plane-init", ...sshFlags()]);
      expect(refused.exitCode).toBe(3);
      expect(refused.stdout + refused.stderr).toMatch(/ca\.key.*never overwrites a key without --force/s);
      expect(await changedFiles(controlPlane)).toEqual(before);
      const forced = await runCli(["node", "push-pki", controlPlane.address, "--dir", path.dirname(other), "--role", "control-plane-init", "--force", ...sshFlags()]);
      expect(forced.exitCode, forced.stderr).toBe(0);
      expect(await fs.readFile(path.join(controlPlane.stateDir, "etc/kubernetes/pki/ca.key"))).toEqual(await fs.readFile(path.join(other, "ca.key")));
      const noCa = await runCli(["node", "push-pki", controlPlane.address, "--dir", path.join(dir, "nothing"), ...sshFlags()]);
      expect(noCa.exitCode).toBe(2);
      expect(noCa.stderr).toMatch(/ca\.crt is missing/);
    });

    it("kubeconfig fetch copies admin.conf pointed at the address it reached, mode 0600, and kubectl reads it", async () => {
      const controlPlane = lab.hosts[1]!;
      const adminConf = await fs.readFile(path.join(dir, "a", "admin.conf"), "utf8");
      await ssh(controlPlane, `mkdir -p /etc/kubernetes && cat > /etc/kubernetes/admin.conf <<'EOF'\n${adminConf}EOF`);
      // The library call reads the file byte for byte, its last newline included.
      const session = new SshSession({ connectTimeoutSeconds: 10, acceptNewHostKeys: false, become: false });
      try {
        const host = { address: controlPlane.address, user: "root", identityFile: lab.identityFile, options: [`UserKnownHostsFile=${lab.knownHostsFile}`] };
        expect(await fetchFile(session, host, "/etc/kubernetes/admin.conf")).toBe(adminConf);
      } finally {
        await session.close();
      }
      const out = path.join(dir, "fetched.conf");
      const fetched = await runCli(["kubeconfig", "fetch", controlPlane.address, "--out", out, ...sshFlags()]);
      expect(fetched.exitCode).toBe(0);
      // The address kpki reached the node at is not one the API server's certificate covers: said, not hidden.
      expect(fetched.stderr).toMatch(new RegExp(`^kpki: warning: https://${controlPlane.address.replace(/\./g, "\\.")}:6443: ${controlPlane.address.replace(/\./g, "\\.")} is not among the API server's SANs \\(.*IP Address:192\\.0\\.2\\.10.*\\), so kubectl will refuse it: give --server`));
      expect((await fs.stat(out)).mode & 0o777).toBe(0o600);
      const text = await fs.readFile(out, "utf8");
      expect(text).toContain(`server: https://${controlPlane.address}:6443`);
      expect(text.replace(/server: .*/, "")).toBe(adminConf.replace(/server: .*/, ""));
      const again = await runCli(["kubeconfig", "fetch", controlPlane.address, "--out", out, ...sshFlags()]);
      expect(again.exitCode).toBe(3);
      const custom = await runCli(["kubeconfig", "fetch", controlPlane.address, "--out", out, "--force", "--server", "https://lb.example.com:8443", ...sshFlags()]);
      expect(custom.exitCode, custom.stderr).toBe(0);
      expect(await fs.readFile(out, "utf8")).toContain("server: https://lb.example.com:8443");
      expect(custom.stderr).toMatch(/warning: https:\/\/lb\.example\.com:8443: lb\.example\.com is not among the API server's SANs/);
      const covered = await runCli(["kubeconfig", "fetch", controlPlane.address, "--out", out, "--force", "--server", "https://192.0.2.10:6443", ...sshFlags()]);
      expect(covered.exitCode, covered.stderr).toBe(0);
      expect(covered.stderr).toBe("");
      // A control-plane endpoint (a name the certificate covers) is kept as it is.
      await ssh(controlPlane, `sed -i 's#server: .*#server: https://cp-1:6443#' /etc/kubernetes/admin.conf`);
      const endpoint = await runCli(["kubeconfig", "fetch", controlPlane.address, "--out", out, "--force", "-o", "json", ...sshFlags()]);
      expect(endpoint.exitCode, endpoint.stderr).toBe(0);
      expect(JSON.parse(endpoint.stdout)).toEqual({ file: out, server: "https://cp-1:6443", warnings: [] });
      const missing = await runCli(["kubeconfig", "fetch", lab.hosts[2]!.address, "--out", path.join(dir, "x.conf"), ...sshFlags()]);
      expect(missing.exitCode).toBe(2);
      expect(missing.stderr).toMatch(/cannot read \/etc\/kubernetes\/admin\.conf/);
    });
  });

  describe("token verify --from a node", () => {
    let api: TestApiServer;
    const dir = tempDir();

    beforeAll(async () => {
      api = await startApiServer({ host: lab.subnet.gateway });
      const init = await runCli(["init", "--master-ip", lab.subnet.gateway, "--apiserver-port", String(api.port), "--dir", dir,
        "--node-name", "cp-1", "--only", "apiserver", "--only", "admin.conf"]);
      expect(init.exitCode, init.stderr).toBe(0);
      api.usePki(path.join(dir, "pki"));
      api.createBootstrapTokenSecret({ id: "abcdef", secret: "0123456789abcdef", expiration: new Date(Date.now() + 3_600_000), usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] });
    });
    afterAll(async () => {
      await api?.stop();
    });

    it("proves the node reaches and authenticates to the API server, with the CA or a pin, and names a refusal", async () => {
      const host = lab.hosts[0]!;
      const base = ["token", "verify", "--server", api.url, "--from", host.address, ...sshFlags()];
      const withCa = await runCli([...base, "--token", "abcdef.0123456789abcdef", "--ca", path.join(dir, "pki", "ca.crt")]);
      expect(withCa.stderr).toBe("");
      expect(withCa.exitCode).toBe(0);
      expect(withCa.stdout).toMatch(new RegExp(`OK from ${host.address.replace(/\./g, "\\.")}: authenticated as system:bootstrap:abcdef`));
      const pin = (await runCli(["ca", "hash", path.join(dir, "pki", "ca.crt")])).stdout.trim();
      const withPin = await runCli([...base, "--token", "abcdef.0123456789abcdef", "--ca-hash", pin]);
      expect(withPin.exitCode, withPin.stderr).toBe(0);
      const wrong = await runCli([...base, "--token", "abcdef.0123456789abcdee", "--ca", path.join(dir, "pki", "ca.crt")]);
      expect(wrong.exitCode).toBe(20);
      expect(wrong.stdout + wrong.stderr).not.toContain("0123456789abcdee");
      // The requests came from the node, not from here.
      expect(api.seen.some((request) => request.user === "system:bootstrap:abcdef")).toBe(true);
      // The token never appeared on the node's command lines: curl read it from a 0600 file.
      const calls = readFileSync(path.join(host.shimDir, "calls.log"), "utf8").toString();
      expect(calls).not.toContain("0123456789abcdef");
    });
  });
});

describe.skipIf(Boolean(skip))("kpki node prep on hosts that are not plain", () => {
  let lab: TestHosts;
  const sshFlags = () => ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`];
  const prep = async (host: TestHost, ...extra: string[]) => {
    const result = await runCli(["node", "prep", host.address, ...sshFlags(), "--no-install", "-o", "json", ...extra]);
    return { result, report: (JSON.parse(result.stdout).hosts as HostReport[])[0]! };
  };
  const stepOf = (report: HostReport, step: string) => report.steps.find((line) => line.step === step);

  beforeAll(async () => {
    lab = await startTestHosts({
      hosts: [
        { flavour: "centos-stream9", name: "zram" },
        { flavour: "rocky9", name: "nokubelet", units: { kubelet: "absent" } },
        { flavour: "ubuntu2204", name: "breaks", units: { kubelet: "installed" } },
      ],
    });
  }, 120_000);
  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it("turns zram-generator's swap off for good (CentOS Stream 9)", async () => {
    const host = lab.byName("zram");
    const { result, report } = await prep(host);
    expect(result.exitCode, JSON.stringify(report.steps)).toBe(0);
    expect(stepOf(report, "swap")?.detail).toMatch(/zram-generator/);
    expect(await fs.readFile(path.join(host.stateDir, "etc/systemd/zram-generator.conf"), "utf8")).not.toMatch(/^\[zram/m);
    await simulateReboot(host);
    expect((await shimState(host)).swaps).toEqual([]);
  });

  it("reports a kubelet that is not installed, with the install command, and finishes the other steps", async () => {
    const { result, report } = await prep(lab.byName("nokubelet"));
    expect(result.exitCode).toBe(4);
    expect(stepOf(report, "kubelet")).toMatchObject({ state: "failed" });
    expect(stepOf(report, "kubelet")?.detail).toMatch(/not installed.*yum install -y kubelet kubeadm kubectl/);
    expect(stepOf(report, "swap")?.state).toBe("changed");
    // No Kubernetes packages, so no cri-tools either: the runtime cannot be asked over CRI.
    expect(stepOf(report, "runtime")).toMatchObject({ state: "failed" });
    expect(stepOf(report, "runtime")?.detail).toMatch(/containerd enabled and started; but crictl is not installed.*install cri-tools/);
  });

  it("names a service that fails to start, and the next run finishes the job", async () => {
    const { injectFailure, clearFailures } = await import("../support/testhosts/index.js");
    const host = lab.byName("breaks");
    await injectFailure(host, "systemctl enable kubelet");
    const { result, report } = await prep(host);
    expect(result.exitCode).toBe(4);
    expect(stepOf(report, "kubelet")).toMatchObject({ state: "failed" });
    expect(stepOf(report, "kubelet")?.detail).toMatch(/systemctl enable kubelet failed/);
    expect(stepOf(report, "sysctl")?.state).toBe("changed");
    await clearFailures(host);
    const again = await prep(host);
    expect(again.result.exitCode, JSON.stringify(again.report.steps)).toBe(0);
    expect(stepOf(again.report, "kubelet")?.state).toBe("changed");
    expect(stepOf(again.report, "sysctl")?.state).toBe("ok");
  });

  it("opens a running firewalld's ports for the role on the RHEL family, or only reports them with --no-firewall", async () => {
    const host = lab.byName("nokubelet");
    const state = await shimState(host);
    const ports = Object.values(state.firewalldPorts).flat();
    expect(ports).toEqual(expect.arrayContaining(["10250/tcp", "30000-32767/tcp"]));
    const zram = lab.byName("zram");
    const controlPlane = await runCli(["node", "prep", zram.address, ...sshFlags(), "--no-install", "--role", "control-plane", "--no-firewall", "-o", "json"]);
    const report = (JSON.parse(controlPlane.stdout).hosts as HostReport[])[0]!;
    expect(stepOf(report, "firewall")).toMatchObject({ state: "warn" });
    expect(stepOf(report, "firewall")?.detail).toMatch(/6443\/tcp.*--no-firewall/);
  });
});
