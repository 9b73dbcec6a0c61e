/**
 * kubeadm's preflight, kpki's own checks and the fleet checks, on real sshd
 * test hosts: a real containerd answering the CRI on its socket (asked with
 * gRPC over HTTP/2 by curl, as no crictl ships on Debian), real files, ports,
 * /proc/sys/net, a real clock set off with libfaketime; the kubelet and
 * kubeadm programs are stand-ins that print a version as the real ones do.
 */
import { existsSync, promises as fs, readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { clearFailures, injectFailure, leftovers, shimCalls, shimState, ssh, startTestHosts, testHostsAvailable, type TestHost, type TestHosts } from "../support/testhosts/index.js";
import { KERNEL_CONFIG_NAMES } from "../../src/bootstrap/node/preflight.js";

const skip = (await testHostsAvailable()) ?? (existsSync("/usr/bin/containerd") ? undefined : "no /usr/bin/containerd (Debian's containerd; scripts/install-peers installs it)");
if (skip && process.env.CI) throw new Error(`the preflight e2e tests cannot run in CI: ${skip}`);
if (skip) console.warn(`skipping the preflight e2e tests: ${skip}`);
/** The real docker client (this machine's), which asks a Docker Engine stand-in on a test host. */
const dockerClient = ["/usr/local/bin/docker", "/usr/bin/docker"].find((file) => existsSync(file));
if (!dockerClient && !skip) console.warn("skipping the Docker cgroup driver test: no docker client");

interface Check {
  name: string;
  source: string;
  severity: "error" | "warning";
  status: "pass" | "fail" | "ignored";
  detail: string;
}
interface Report {
  host: string;
  ok: boolean;
  ready: boolean;
  steps: { step: string; state: string; detail: string }[];
  checks: Check[];
  facts: Record<string, string>;
  error?: { failure: string; message: string };
}

const TARGET = "1.32";
/** kubelet and kubeadm as their packages install them would answer --version / version -o short. */
const versionPrograms = (kubelet: string, kubeadm: string) =>
  [
    `printf '#!/bin/sh\\necho "Kubernetes ${kubelet}"\\n' > /usr/bin/kubelet`,
    `printf '#!/bin/sh\\n[ "$1" = version ] && echo "${kubeadm}"\\n' > /usr/bin/kubeadm`,
    "chmod 0755 /usr/bin/kubelet /usr/bin/kubeadm",
  ].join(" && ");

/**
 * A DMI product_uuid, as a cloned VM image carries: this machine has no /sys/class/dmi, so the host's
 * /sys/class becomes a tmpfs holding its classes again (bind mounts, in the host's own mount namespace) and an id/product_uuid.
 */
async function giveProductUuid(host: TestHost, uuid: string): Promise<void> {
  const done = await ssh(host, [
    "set -e",
    "mkdir -p /run/kpki-sysclass && mount --bind /sys/class /run/kpki-sysclass",
    "mount -t tmpfs -o size=64k,mode=755 tmpfs /sys/class",
    "for d in /run/kpki-sysclass/*; do n=${d##*/}; mkdir /sys/class/$n; mount --bind $d /sys/class/$n; done",
    `mkdir -p /sys/class/dmi/id && echo ${uuid} > /sys/class/dmi/id/product_uuid`,
  ].join("\n"));
  expect(done.exitCode, String(done.stderr)).toBe(0);
}

/** The runtime the prep started (the systemctl shim runs the real containerd, test/support/testhosts/runtime.ts), stopped. */
async function stopContainerd(host: TestHost): Promise<void> {
  const stopped = await ssh(host, "systemctl stop containerd");
  expect(stopped.exitCode, String(stopped.stderr)).toBe(0);
}

describe.skipIf(Boolean(skip))("kubeadm's preflight and the fleet checks on real SSH hosts", () => {
  let lab: TestHosts;
  const sshFlags = () => ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`];
  /** Every report a check gave, with the --ignore-preflight-errors names it was given: "ready means ready" is asserted over all of them. */
  const seen: { report: Report; ignored: string[] }[] = [];
  const check = async (hosts: readonly TestHost[], ...extra: string[]) => {
    const result = await runCli(["node", "check", ...hosts.map((host) => host.address), ...sshFlags(), "--kubernetes-version", TARGET, "-o", "json", ...extra]);
    const reports = result.stdout ? (JSON.parse(result.stdout).hosts as Report[]) : [];
    const ignored = extra.flatMap((value, index) => (extra[index - 1] === "--ignore-preflight-errors" ? value.toLowerCase().split(",") : []));
    for (const report of reports) seen.push({ report, ignored });
    return { result, reports };
  };
  const failing = (report: Report) => report.checks.filter((entry) => entry.status !== "pass").map((entry) => `${entry.name}:${entry.severity}:${entry.status}`).sort();

  beforeAll(async () => {
    lab = await startTestHosts({
      hosts: [
        // This machine's real containerd (Debian's package) instead of the flavour's stand-in program.
        // The distribution's containerd installed (the real binary, run by the systemctl shim), its packaged config.
        { flavour: "rocky9", name: "ready" },
        { flavour: "ubuntu2204", name: "broken" },
        { flavour: "debian12", name: "kconfig" },
        // Docker Engine behind cri-dockerd instead of containerd.
        { flavour: "ubuntu2204", name: "docker", units: { containerd: "absent" } },
        { flavour: "centos7", name: "clone-a", files: { "/etc/machine-id": "0123456789abcdef0123456789abcdef\n" } },
        { flavour: "centos7", name: "clone-b", files: { "/etc/machine-id": "0123456789abcdef0123456789abcdef\n" } },
        {
          flavour: "ubuntu2204",
          name: "unknown-os",
          files: { "/etc/os-release": 'ID=plan9\nVERSION_ID="4"\nPRETTY_NAME="Plan 9 from Bell Labs"\n', "/usr/lib/os-release": 'ID=plan9\nVERSION_ID="4"\nPRETTY_NAME="Plan 9 from Bell Labs"\n' },
        },
      ],
    });
    for (const name of ["ready", "broken"]) {
      const host = lab.byName(name);
      expect((await ssh(host, versionPrograms(`v${TARGET}.4`, `v${TARGET}.4`))).exitCode).toBe(0);
      // --no-install: no package repositories here (test/e2e/packages.test.ts installs from local ones). The containerd
      // step writes the CRI config (SystemdCgroup), the runtime step starts containerd and waits for its CRI answer.
      const prep = await runCli(["node", "prep", host.address, ...sshFlags(), "--no-install", "--role", "control-plane", "--kubernetes-version", TARGET, "-o", "json"]);
      expect(prep.exitCode, prep.stdout).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
    if (lab) expect(await leftovers(lab.footprint())).toEqual([]);
  }, 120_000);

  it("a prepared host with a runtime that answers is ready: every error-severity check passes, and the few warnings are what kubeadm warns about", async () => {
    const host = lab.byName("ready");
    const { result, reports } = await check([host], "--role", "control-plane-init");
    const [report] = reports;
    expect(result.exitCode, JSON.stringify(failing(report!))).toBe(0);
    expect(report!.ready).toBe(true);
    const names = report!.checks.map((entry) => entry.name);
    // kubeadm's init list, by kubeadm's names, then kpki's own.
    for (const name of ["IsPrivilegedUser", "NumCPU", "Mem", "KubernetesVersion", "Firewalld", "Port-6443", "Port-10259", "Port-10257",
      "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml", "FileAvailable--etc-kubernetes-manifests-etcd.yaml", "HTTPProxy", "HTTPProxyCIDR",
      "CRI", "Swap", "FileExisting-ip", "FileExisting-iptables", "FileExisting-mount", "FileExisting-nsenter", "FileExisting-touch", "SystemVerification",
      "Hostname", "KubeletVersion", "Service-Kubelet", "Port-10250", "FileContent--proc-sys-net-ipv4-ip_forward", "Port-2379", "Port-2380",
      "DirAvailable--var-lib-etcd", "Modules", "BridgeNetfilter", "SELinux", "CgroupDriver"]) expect(names, name).toContain(name);
    expect(report!.checks.filter((entry) => entry.severity === "error" && entry.status !== "pass")).toEqual([]);
    // What is left is only warnings: tools this machine lacks (ebtables, ethtool, socat) and its cgroup v1.
    for (const entry of report!.checks.filter((candidate) => candidate.status !== "pass")) {
      expect(entry.severity, entry.name).toBe("warning");
      expect(entry.name).toMatch(/^(FileExisting-(ebtables|ethtool|socat|tc)|SystemVerification)$/);
    }
    // The checks are about the real host: the runtime answered on its socket, forwarding is on in its network namespace.
    expect(report!.checks.find((entry) => entry.name === "CRI")?.status).toBe("pass");
    expect(String((await ssh(host, "cat /proc/sys/net/ipv4/ip_forward")).stdout).trim()).toBe("1");
    // --apiserver-port is the port checked: sshd holds 22 there.
    const busy = await check([host], "--role", "control-plane-init", "--apiserver-port", "22");
    expect(busy.result.exitCode).toBe(4);
    expect(failing(busy.reports[0]!).filter((entry) => entry.includes(":error:"))).toEqual(["Port-22:error:fail"]);

    // A second runtime's socket: kubeadm refuses to guess, and so does kpki until --cri-socket picks one. That one
    // is a socket nothing answers on (bound, never listening): CRI fails there, and passes on containerd's.
    const made = await ssh(host, "mkdir -p /run/crio && python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('/run/crio/crio.sock')\"");
    expect(made.exitCode, String(made.stderr)).toBe(0);
    try {
      const several = (await check([host], "--role", "control-plane-init")).reports[0]!.checks.find((entry) => entry.name === "CRI")!;
      expect(several).toMatchObject({ severity: "error", status: "fail" });
      expect(several.detail).toMatch(/several CRI sockets: unix:\/\/\/var\/run\/containerd\/containerd\.sock unix:\/\/\/var\/run\/crio\/crio\.sock: give --cri-socket/);
      const silent = (await check([host], "--role", "control-plane-init", "--cri-socket", "unix:///var/run/crio/crio.sock")).reports[0]!.checks.find((entry) => entry.name === "CRI")!;
      expect(silent).toMatchObject({ severity: "error", status: "fail" });
      // crictl (cri-tools) asks it, as kubeadm does: refused on the bound socket nothing listens on.
      expect(silent.detail).toMatch(/^container runtime is not running: crictl version: .*unix:\/\/\/var\/run\/crio\/crio\.sock.*connection refused/);
      const chosen = await check([host], "--role", "control-plane-init", "--cri-socket", "unix:///var/run/containerd/containerd.sock");
      expect(chosen.result.exitCode).toBe(0);
    } finally {
      await ssh(host, "rm -rf /run/crio");
    }
  });

  it("names each failing check with kubeadm's name and severity; warnings never make a host not ready", async () => {
    const host = lab.byName("broken");
    const warnOnly = await ssh(host, "echo 'HTTPS_PROXY=http://user:secret@proxy.example:3128' >> /etc/environment");
    expect(warnOnly.exitCode).toBe(0);
    const proxied = await check([host], "--role", "control-plane-init");
    expect(proxied.result.exitCode, JSON.stringify(failing(proxied.reports[0]!))).toBe(0);
    const proxyCheck = proxied.reports[0]!.checks.find((entry) => entry.name === "HTTPProxyCIDR")!;
    expect(proxyCheck).toMatchObject({ severity: "warning", status: "fail" });
    expect(proxyCheck.detail).toMatch(/10\.96\.0\.0\/12.*proxy\.example:3128/);
    expect(JSON.stringify(proxied.reports)).not.toContain("secret");
    // NO_PROXY covering the service CIDR and the node's address clears both.
    await ssh(host, `echo 'NO_PROXY=10.96.0.0/12,${host.address},localhost' >> /etc/environment`);
    const covered = await check([host], "--role", "control-plane-init");
    expect(covered.reports[0]!.checks.find((entry) => entry.name === "HTTPProxyCIDR")?.status).toBe("pass");
    expect(covered.reports[0]!.checks.find((entry) => entry.name === "HTTPProxy")?.status).toBe("pass");

    const broke = await ssh(host, [
      "mkdir -p /etc/kubernetes/manifests /var/lib/etcd",
      "echo 'kind: Pod' > /etc/kubernetes/manifests/kube-apiserver.yaml",
      "touch /var/lib/etcd/member",
      "rm -f /usr/sbin/iptables /sbin/iptables",
      `printf '#!/bin/sh\\necho "Kubernetes v1.33.1"\\n' > /usr/bin/kubelet`,
    ].join(" && "));
    expect(broke.exitCode, String(broke.stderr)).toBe(0);
    await stopContainerd(host);
    const { result, reports } = await check([host], "--role", "control-plane-init");
    expect(result.exitCode).toBe(4);
    const report = reports[0]!;
    expect(report.ready).toBe(false);
    const of = (name: string) => report.checks.find((entry) => entry.name === name);
    expect(of("FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml")).toMatchObject({ severity: "error", status: "fail", detail: "/etc/kubernetes/manifests/kube-apiserver.yaml already exists" });
    expect(of("DirAvailable--var-lib-etcd")).toMatchObject({ severity: "error", status: "fail", detail: "/var/lib/etcd is not empty" });
    expect(of("FileExisting-iptables")).toMatchObject({ severity: "error", status: "fail", detail: "iptables not found in system path" });
    expect(of("KubeletVersion")).toMatchObject({ severity: "error", status: "fail" });
    expect(of("KubeletVersion")!.detail).toMatch(/kubelet version is higher than the control plane version.*v1\.33\.1/);
    expect(of("CRI")).toMatchObject({ severity: "error", status: "fail" });
    expect(of("CRI")!.detail).toMatch(/containerd\.sock/);
    expect(failing(report).filter((entry) => entry.includes(":error:"))).toEqual([
      "CRI:error:fail", "DirAvailable--var-lib-etcd:error:fail", "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml:error:fail", "FileExisting-iptables:error:fail", "KubeletVersion:error:fail",
    ]);
    // A worker joining there is not asked about manifests or etcd (kubeadm join's list), but about kubelet.conf and pki/ca.crt.
    await ssh(host, "mkdir -p /etc/kubernetes/pki && touch /etc/kubernetes/pki/ca.crt");
    const worker = (await check([host], "--role", "worker")).reports[0]!;
    expect(worker.checks.map((entry) => entry.name)).not.toContain("DirAvailable--var-lib-etcd");
    expect(worker.checks.find((entry) => entry.name === "FileAvailable--etc-kubernetes-pki-ca.crt")).toMatchObject({ severity: "error", status: "fail" });
    await ssh(host, "rm -f /etc/kubernetes/pki/ca.crt");

    // --ignore-preflight-errors skips exactly what it names (case-insensitive, comma-separated or repeated), as errors shown as warnings.
    const some = await check([host], "--role", "control-plane-init", "--ignore-preflight-errors", "cri,DirAvailable--var-lib-etcd", "--ignore-preflight-errors", "FileExisting-iptables");
    expect(some.result.exitCode).toBe(4);
    expect(failing(some.reports[0]!).filter((entry) => !entry.includes(":warning:"))).toEqual([
      "CRI:error:ignored", "DirAvailable--var-lib-etcd:error:ignored", "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml:error:fail", "FileExisting-iptables:error:ignored", "KubeletVersion:error:fail",
    ]);
    const text = await runCli(["node", "check", host.address, ...sshFlags(), "--kubernetes-version", TARGET, "--role", "control-plane-init", "--ignore-preflight-errors", "CRI"]);
    expect(text.stdout).toMatch(/\[WARNING CRI\]: .*error ignored/);
    expect(text.stdout).toMatch(/\[ERROR KubeletVersion\]: /);
    // "all" turns every preflight error into a warning, as kubeadm's flag does, the kubelet of another minor among
    // them (KubeletVersion is the one place its version is judged; the kubelet step only installs and enables):
    // the host is ready, as kubeadm init --ignore-preflight-errors all would pass there.
    const all = await check([host], "--role", "control-plane-init", "--ignore-preflight-errors", "all");
    expect(failing(all.reports[0]!).filter((entry) => !entry.includes(":warning:") && !entry.endsWith(":ignored"))).toEqual([]);
    expect(all.reports[0]!.checks.find((entry) => entry.name === "KubeletVersion")).toMatchObject({ severity: "error", status: "ignored" });
    expect(all.reports[0]!.steps.filter((step) => step.state === "failed")).toEqual([]);
    expect(all.reports[0]!.steps.find((step) => step.step === "kubelet")?.detail).toMatch(/^kubelet v1\.33\.1, kubeadm v1\.32\.4; enabled/);
    expect(all.result.exitCode).toBe(0);
    expect(all.reports[0]!.ready).toBe(true);
    // Naming KubeletVersion alone ignores that one and leaves the others errors.
    const kubeletOnly = await check([host], "--role", "control-plane-init", "--ignore-preflight-errors", "KubeletVersion");
    expect(kubeletOnly.reports[0]!.checks.find((entry) => entry.name === "KubeletVersion")?.status).toBe("ignored");
    expect(kubeletOnly.reports[0]!.ready).toBe(false);
  });

  it("an unknown distribution still gets every read-only check, and an error for the os step", async () => {
    const host = lab.byName("unknown-os");
    const { result, reports } = await check([host], "--role", "worker");
    expect(result.exitCode).toBe(4);
    const report = reports[0]!;
    expect(report.steps.find((step) => step.step === "os")).toMatchObject({ state: "failed" });
    expect(report.steps.find((step) => step.step === "os")?.detail).toMatch(/Plan 9.*--os-family/);
    expect(report.steps.find((step) => step.step === "swap")?.state).toBe("would-change");
    expect(report.checks.map((entry) => entry.name)).toEqual(expect.arrayContaining(["CRI", "Swap", "FileExisting-iptables", "KubeletVersion", "FileAvailable--etc-kubernetes-pki-ca.crt", "Modules"]));
    // Applying changes nothing on it but the read-only steps run.
    const before = await fs.readdir(host.stateDir, { recursive: true });
    const prep = await runCli(["node", "prep", host.address, ...sshFlags(), "-o", "json"]);
    expect(prep.exitCode).toBe(4);
    expect(JSON.parse(prep.stdout).hosts[0].steps.map((step: { step: string }) => step.step)).toEqual(["os"]);
    expect(JSON.parse(prep.stdout).hosts[0].checks.length).toBeGreaterThan(20);
    expect(await fs.readdir(host.stateDir, { recursive: true })).toEqual(before);
  });

  it("fleet checks: clones sharing a machine-id, a product_uuid, a MAC and a host name are both named; a clock 2 minutes off is named", async () => {
    const [a, b] = [lab.byName("clone-a"), lab.byName("clone-b")];
    for (const host of [a, b]) await giveProductUuid(host, "4C4C4544-0042-3510-8052-B4C04F4E3332");
    // A second NIC on each clone carrying one MAC, set in its own network namespace as a cloned VM's would be
    // (a veth pair: this kernel has no dummy links; its peer gets a MAC of its own). Their eth0s stay apart.
    for (const host of [a, b]) {
      const nic = await ssh(host, "ip link add ens9 type veth peer name ens10 && ip link set ens9 address 52:54:00:12:34:56");
      expect(nic.exitCode, String(nic.stderr)).toBe(0);
    }
    // The clone kept its image's host name (the UTS namespace is the host's own).
    expect((await ssh(b, "hostname clone-a")).exitCode).toBe(0);
    const library = readdirSync("/usr/lib").map((dir) => `/usr/lib/${dir}/faketime/libfaketime.so.1`).find((file) => existsSync(file));
    if (process.env.CI && !library) throw new Error("libfaketime is missing: scripts/install-peers installs it");
    const { reports } = await check([a, b, lab.byName("ready")]);
    for (const report of reports.slice(0, 2)) {
      for (const name of ["DuplicateMachineID", "DuplicateProductUUID", "DuplicateHostname", "DuplicateMAC"]) {
        const duplicate = report.checks.find((entry) => entry.name === name);
        expect(duplicate, `${report.host} ${name}`).toMatchObject({ severity: "error", status: "fail" });
        expect(duplicate!.detail).toContain(`shared by ${a.address}, ${b.address}`);
      }
      expect(report.ready).toBe(false);
    }
    expect(reports[0]!.checks.find((entry) => entry.name === "DuplicateProductUUID")!.detail).toMatch(/product_uuid 4c4c4544-0042-3510-8052-b4c04f4e3332/);
    // Only the shared MAC is named: each host's eth0 and ens10 have their own (and the third host shares none).
    expect(reports[0]!.checks.filter((entry) => entry.name === "DuplicateMAC").map((entry) => entry.detail)).toEqual([`MAC address 52:54:00:12:34:56 is shared by ${a.address}, ${b.address}: each node needs its own (a cloned image?)`]);
    expect(reports[0]!.facts.macs).toMatch(/^ens10=[0-9a-f:]{17} ens9=52:54:00:12:34:56 eth0=[0-9a-f:]{17}$/);
    for (const host of [a, b]) await ssh(host, "ip link del ens9");
    const apart = await check([a, b]);
    for (const report of apart.reports) expect(report.checks.find((entry) => entry.name === "DuplicateMAC"), report.host).toBeUndefined();
    await ssh(b, "hostname clone-b");
    expect(reports[2]!.checks.some((entry) => entry.name.startsWith("Duplicate"))).toBe(false);
    if (!library) return;
    // The host's programs see a clock 120 s ahead: libfaketime, preloaded by the login shell kpki's session starts
    // (not through /etc/ld.so.preload: sshd itself breaks under it).
    await ssh(b, `printf 'export LD_PRELOAD=${library} FAKETIME=+120\\n' > /root/.bashrc`);
    try {
      const skewed = await check([a, b]);
      const clock = skewed.reports[1]!.checks.find((entry) => entry.name === "ClockSkew");
      expect(clock).toMatchObject({ severity: "error", status: "fail" });
      expect(clock!.detail).toMatch(/clock is 1[12]\d s ahead of this machine's/);
      expect(skewed.reports[0]!.checks.find((entry) => entry.name === "ClockSkew")).toBeUndefined();
    } finally {
      await ssh(b, "rm -f /root/.bashrc");
    }
  });

  it("SystemVerification reads the kernel's config where system-validators look: a required option missing, all there, none found", async () => {
    const host = lab.byName("kconfig");
    const release = String((await ssh(host, "uname -r")).stdout).trim();
    const systemVerification = async () => (await check([host], "--role", "worker")).reports[0]!.checks.find((entry) => entry.name === "SystemVerification")!;
    // A kernel config as /proc/config.gz serves it (gzip), once with every option system-validators judge and once
    // without NETFILTER_XT_MATCH_COMMENT, bound over the kernel's own in the host's mount namespace.
    // (AUFS, optional, is in no mainline kernel: "not set", as there.)
    const config = (...omit: string[]) => {
      const names = KERNEL_CONFIG_NAMES.filter((name) => name !== "AUFS_FS" && !omit.includes(name));
      return `# Linux kernel configuration\n${names.map((name) => `CONFIG_${name}=y`).join("\n")}\n# CONFIG_AUFS_FS is not set\n`;
    };
    const made = await ssh(host, [
      "set -e",
      `printf '${config("NETFILTER_XT_MATCH_COMMENT").replace(/\n/g, "\\n")}' | gzip -c > /root/lacking.gz`,
      "mount --bind /root/lacking.gz /proc/config.gz",
    ].join("\n"));
    expect(made.exitCode, String(made.stderr)).toBe(0);
    try {
      const lacking = await systemVerification();
      expect(lacking).toMatchObject({ severity: "error", status: "fail" });
      expect(lacking.detail).toContain("unexpected kernel config: CONFIG_NETFILTER_XT_MATCH_COMMENT (/proc/config.gz; optional: CONFIG_AUFS_FS: not set - Required for aufs.)");
    } finally {
      await ssh(host, "umount /proc/config.gz");
    }
    // No /proc/config.gz (a procfs showing only processes, as a kernel without IKCONFIG_PROC has none), and no file
    // in any other place the validator looks: it loads the configs module and looks again; without that module, that error.
    const hidden = await ssh(host, "mount -t proc -o subset=pid proc /proc");
    expect(hidden.exitCode, String(hidden.stderr)).toBe(0);
    try {
      await injectFailure(host, "modprobe configs");
      const noModule = await systemVerification();
      expect(noModule).toMatchObject({ severity: "error", status: "fail" });
      expect(noModule.detail).toMatch(/failed to parse kernel config: unable to load kernel module: "configs", output: "modprobe: FATAL: Module configs not found/);
      await clearFailures(host);
      const none = await systemVerification();
      expect(none.detail).toContain(`failed to parse kernel config: no config path in [/proc/config.gz /boot/config-${release} `);
      // What it loaded for the look it unloaded again.
      expect((await shimState(host)).modules).not.toContain("configs");
      expect(await shimCalls(host)).toEqual(expect.arrayContaining(["modprobe configs", "modprobe -r configs"]));
      // Every option there, in the fifth place it looks (the kernel package's copy under /usr/lib/modules): no finding.
      const placed = await ssh(host, `mkdir -p /usr/lib/modules/${release} && printf '${config().replace(/\n/g, "\\n")}' > /usr/lib/modules/${release}/config`);
      expect(placed.exitCode, String(placed.stderr)).toBe(0);
      const all = await check([host], "--role", "worker");
      expect(all.reports[0]!.facts.kernel_config_path).toBe(`/usr/lib/modules/${release}/config`);
      expect(all.reports[0]!.checks.find((entry) => entry.name === "SystemVerification")!.detail).not.toMatch(/kernel config/);
    } finally {
      await clearFailures(host);
      await ssh(host, `umount /proc; rm -rf /usr/lib/modules/${release}`);
    }
    // Back to this kernel's own /proc/config.gz: it has every required option.
    const own = await check([host], "--role", "worker");
    expect(own.reports[0]!.facts.kernel_config_path).toBe("/proc/config.gz");
    expect(own.reports[0]!.checks.find((entry) => entry.name === "SystemVerification")!.detail).not.toMatch(/kernel config/);
  });

  it("a proxy set in a containerd drop-in, with NO_PROXY short of the service CIDR and the node, is named under kubeadm's names, saying where", async () => {
    const host = lab.byName("ready");
    const dropIn = "/etc/systemd/system/containerd.service.d/http-proxy.conf";
    const write = (noProxy: string) => ssh(host, `mkdir -p ${dropIn.replace(/\/[^/]+$/, "")} && printf '[Service]\\nEnvironment="HTTPS_PROXY=http://proxy.example:3128" "NO_PROXY=${noProxy}"\\n' > ${dropIn}`);
    expect((await write("localhost,127.0.0.1")).exitCode).toBe(0);
    try {
      // systemd's merged view, as the preflight reads it.
      expect(String((await ssh(host, "systemctl show -p Environment containerd.service")).stdout).trim()).toBe("Environment=HTTPS_PROXY=http://proxy.example:3128 NO_PROXY=localhost,127.0.0.1");
      const { result, reports } = await check([host], "--role", "control-plane-init");
      const of = (name: string) => reports[0]!.checks.find((entry) => entry.name === name)!;
      expect(of("HTTPProxyCIDR")).toMatchObject({ severity: "warning", status: "fail" });
      expect(of("HTTPProxyCIDR").detail).toMatch(/^connection to "10\.96\.0\.0\/12" uses proxy "http:\/\/proxy\.example:3128" \(set in containerd\.service's Environment= \(unit and drop-ins\)\)/);
      expect(of("HTTPProxy").detail).toContain(`Connection to "https://${host.address}" uses proxy "http://proxy.example:3128" (set in containerd.service's Environment=`);
      // Warnings only: still ready.
      expect(result.exitCode).toBe(0);
      expect(reports[0]!.ready).toBe(true);
      expect((await write(`localhost,10.96.0.0/12,${host.address}`)).exitCode).toBe(0);
      const covered = (await check([host], "--role", "control-plane-init")).reports[0]!;
      expect(covered.checks.filter((entry) => entry.name.startsWith("HTTPProxy")).map((entry) => entry.status)).toEqual(["pass", "pass"]);
    } finally {
      await ssh(host, `rm -rf ${dropIn.replace(/\/[^/]+$/, "")}`);
    }
  });

  it.skipIf(!dockerClient && !process.env.CI)("CgroupDriver behind cri-dockerd is Docker's, as the real docker client's docker info reports it", async () => {
    if (!dockerClient) throw new Error("no docker client (/usr/local/bin/docker or /usr/bin/docker) to ask the Docker Engine stand-in");
    const host = lab.byName("docker");
    // The Docker Engine API as docker info asks it (test/support/dockerd/engine.py), on Docker's socket in the host.
    const engine = await fs.readFile(new URL("../support/dockerd/engine.py", import.meta.url), "utf8");
    const started = await ssh(host, [
      `cat > /root/engine.py <<'KPKI_EOF'\n${engine}KPKI_EOF`,
      "setsid python3 /root/engine.py /var/run/docker.sock </dev/null >/dev/null 2>&1 & echo $!",
      "for i in $(seq 100); do [ -S /var/run/docker.sock ] && break; sleep 0.1; done",
    ].join("\n"));
    expect(started.exitCode, String(started.stderr)).toBe(0);
    const pid = String(started.stdout).trim();
    expect(pid).toMatch(/^\d+$/);
    try {
      const driver = async () => (await check([host], "--role", "worker", "--cri-socket", "unix:///var/run/cri-dockerd.sock")).reports[0]!.checks.find((entry) => entry.name === "CgroupDriver")!;
      // No daemon.json on a cgroup v1 host: dockerd's cgroupfs, not the kubelet's systemd.
      const cgroupfs = await driver();
      expect(cgroupfs, cgroupfs.detail).toMatchObject({ severity: "error", status: "fail" });
      expect(cgroupfs.detail).toMatch(/^Docker uses the cgroupfs cgroup driver \(docker info\), the kubelet systemd \(kubeadm's default\): pods restart forever; set "exec-opts": \["native\.cgroupdriver=systemd"\] in \/etc\/docker\/daemon\.json/);
      expect((await ssh(host, `mkdir -p /etc/docker && echo '{ "exec-opts": ["native.cgroupdriver=systemd"] }' > /etc/docker/daemon.json`)).exitCode).toBe(0);
      expect((await driver()).status).toBe("pass");
      // The daemon gone (its socket left behind): the client cannot connect; kpki says it cannot tell.
      expect((await ssh(host, `kill ${pid}`)).exitCode).toBe(0);
      const down = await driver();
      expect(down).toMatchObject({ severity: "warning", status: "fail" });
      expect(down.detail).toMatch(/docker info: Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock/);
    } finally {
      await ssh(host, `kill ${pid} 2>/dev/null; rm -f /var/run/docker.sock /root/engine.py`);
    }
  });

  it("refuses an unknown check name in one line, before touching any host", async () => {
    const host = lab.byName("ready");
    const before = await fs.readdir(host.stateDir, { recursive: true });
    for (const [args, message] of [
      [["--ignore-preflight-errors", "Swapp"], /no check named swapp \(did you mean Swap\?\)/],
      [["--ignore-preflight-errors", "all,Swap"], /don't specify individual checks if 'all' is used/],
      [["--role", "master"], /role/],
      [["--service-cidr", "10.96.0.0"], /--service-cidr "10\.96\.0\.0" is not a CIDR/],
    ] as const) {
      const result = await runCli(["node", "check", host.address, ...sshFlags(), ...args]);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(await fs.readdir(host.stateDir, { recursive: true })).toEqual(before);
  });

  it("ready means ready: every host called ready in this file had each listed error passing, or ignored because its name (or all) was given", () => {
    expect(seen.some(({ report }) => report.ready)).toBe(true);
    expect(seen.some(({ report }) => !report.ready)).toBe(true);
    for (const { report, ignored } of seen) {
      const named = (name: string) => ignored.includes("all") || ignored.includes(name.toLowerCase());
      // An ignored result is always one the operator named; a blocking one never is.
      for (const entry of report.checks.filter((candidate) => candidate.status === "ignored")) expect(named(entry.name), `${report.host} ${entry.name}`).toBe(true);
      if (!report.ready) continue;
      for (const entry of report.checks) {
        const fine = entry.status === "pass" || entry.severity === "warning" || (entry.status === "ignored" && named(entry.name));
        expect(fine, `${report.host} ${entry.name}: ${entry.severity} ${entry.status} ${entry.detail}`).toBe(true);
      }
      expect(report.steps.filter((step) => step.state === "failed"), report.host).toEqual([]);
    }
  });
});
