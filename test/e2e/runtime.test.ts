/**
 * The containerd, runtime and kubelet steps on real SSH test hosts running
 * the real containerd (this machine's Debian package, run for real by the
 * hosts' systemctl shim) and the crictl stand-in: the written configuration
 * read back by the real `containerd config dump`, containerd answering a CRI
 * status request, kubelet enabled but left for kubeadm to start, and the bad
 * inputs (a config that is not TOML, --runtime docker without cri-dockerd).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveKubernetesVersion } from "../../src/bootstrap/node/versions.js";
import { runCli, type CliResult } from "../support/cli.js";
import { isRpmScratch, leftovers, shimState, ssh, startTestHosts, testHostsAvailable, type TestHost, type TestHosts } from "../support/testhosts/index.js";
import type { HostReport, StepResult } from "../../src/bootstrap/node/index.js";

const skip = await testHostsAvailable();
if (skip) console.warn(`skipping the runtime e2e tests: ${skip}`);


const NOT_TOML = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"\n  sandbox_image = "registry.k8s.io/pause:3.6"\n';
const TARGET = resolveKubernetesVersion("1.30");

/** Files under a host's upper layer (exactly what changed on it). */
async function changedFiles(host: TestHost): Promise<Record<string, string>> {
  const entries = await fs.readdir(host.stateDir, { recursive: true, withFileTypes: true });
  const files: Record<string, string> = {};
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    if (full.includes("/var/lib/containerd/") || full.includes("/var/log/")) continue; // containerd's own state
    if (isRpmScratch(full)) continue; // rpm's sqlite scratch files from the packages step's queries, not a change
    files[path.relative(host.stateDir, full)] = await fs.readFile(full, "utf8");
  }
  return files;
}

/** containerd's effective configuration on the host, as the real containerd dumps it. */
async function effectiveConfig(host: TestHost): Promise<Record<string, any>> {
  const dump = await ssh(host, "containerd --config /etc/containerd/config.toml config dump 2>/dev/null");
  expect(dump.exitCode, String(dump.stderr)).toBe(0);
  return parseToml(String(dump.stdout)) as Record<string, any>;
}

describe.skipIf(Boolean(skip))("containerd, runtime and kubelet steps with the real containerd", () => {
  let lab: TestHosts;
  const sshFlags = () => ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`];
  const node = async (verb: string, hosts: readonly TestHost[], ...extra: string[]): Promise<{ result: CliResult; reports: HostReport[] }> => {
    const result = await runCli(["node", verb, ...hosts.map((host) => host.address), ...sshFlags(), "--no-install", "-o", "json", ...(extra.includes("--kubernetes-version") ? [] : ["--kubernetes-version", TARGET.minor]), ...extra]);
    const reports = result.stdout ? (JSON.parse(result.stdout).hosts as HostReport[]) : [];
    return { result, reports };
  };
  const reportOf = (reports: HostReport[], host: TestHost) => reports.find((report) => report.host === host.address)!;
  const stepOf = (report: HostReport, step: string) => report.steps.find((line) => line.step === step);
  const steps = (report: HostReport, step: string) => report.steps.filter((line) => line.step === step);
  const configHosts = () => ["noconfig", "packaged", "nottoml"].map((name) => lab.byName(name));

  beforeAll(async () => {
    lab = await startTestHosts({
      hosts: [
        // No /etc/containerd/config.toml: containerd's defaults (CRI on, cgroupfs, pause:3.6).
        { flavour: "debian12", name: "noconfig", containerdConfig: null, units: { containerd: "installed" } },
        // containerd.io's packaged file: disabled_plugins = ["cri"].
        { flavour: "rocky9", name: "packaged" },
        // Not TOML; containerd enabled, so it failed to start at boot.
        { flavour: "ubuntu2204", name: "nottoml", containerdConfig: NOT_TOML },
        // A drop-in the operator imports sets SystemdCgroup = false again: kpki cannot win over it.
        {
          flavour: "debian12",
          name: "dropin",
          containerdConfig: 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n',
          files: { "/etc/containerd/conf.d/10-cgroupfs.toml": 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = false\n' },
        },
        // containerd on a socket of the operator's choosing.
        { flavour: "debian12", name: "ownsocket", containerdConfig: 'version = 2\n[grpc]\n  address = "/run/k8s/containerd.sock"\n' },
        // Docker Engine only, no cri-dockerd.
        { flavour: "centos7", name: "dockeronly", units: { containerd: "absent", docker: "enabled" } },
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await lab?.stop();
    if (lab) expect(await leftovers(lab.footprint())).toEqual([]);
  }, 120_000);

  it("containerd.io's packaged configuration serves no CRI: crictl info says so, as the real one does", async () => {
    const host = lab.byName("packaged");
    expect((await ssh(host, "systemctl start containerd")).exitCode).toBe(0);
    const info = await ssh(host, "crictl --runtime-endpoint unix:///run/containerd/containerd.sock info");
    expect(info.exitCode).toBe(1);
    expect(String(info.stderr)).toMatch(
      /^time="[^"]+" level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint \\"unix:\/\/\/run\/containerd\/containerd\.sock\\": rpc error: code = Unimplemented desc = unknown service runtime\.v1\.RuntimeService"$/m,
    );
  });

  it("check names what is wrong with each host's containerd configuration and changes no byte", async () => {
    const before = await Promise.all(configHosts().map(changedFiles));
    const { result, reports } = await node("check", configHosts());
    expect(result.exitCode).toBe(4);
    const [noconfig, packaged, nottoml] = configHosts().map((host) => stepOf(reportOf(reports, host), "containerd")) as [StepResult, StepResult, StepResult];
    expect(noconfig).toMatchObject({ state: "would-change" });
    expect(noconfig.detail).toMatch(/SystemdCgroup is false/);
    expect(noconfig.detail).toMatch(/sandbox image is registry\.k8s\.io\/pause:3\.6 \(kubeadm 1\.30 expects registry\.k8s\.io\/pause:3\.9\)/);
    expect(packaged).toMatchObject({ state: "would-change" });
    expect(packaged.detail).toBe("the CRI plugin is disabled (disabled_plugins: cri)");
    expect(nottoml).toMatchObject({ state: "would-change" });
    expect(nottoml.detail).toMatch(/is not a configuration containerd can load \(containerd: failed to load TOML.*\): kpki would back it up/);
    // The running containerd without CRI: the runtime step sees that the pending change (and a restart) fixes it.
    expect(stepOf(reportOf(reports, lab.byName("packaged")), "runtime")?.detail).toMatch(/does not answer on unix:\/\/\/run\/containerd\/containerd\.sock yet \(.*unknown service runtime\.v1\.RuntimeService.*\): its new configuration needs a restart/);
    expect(await Promise.all(configHosts().map(changedFiles))).toEqual(before);
  });

  it("prep writes a configuration the real containerd reads back with CRI on, SystemdCgroup true and the pinned sandbox image", async () => {
    const { result, reports } = await node("prep", configHosts());
    expect(result.stderr).toBe("");
    expect(result.exitCode, JSON.stringify(reports.map((report) => report.steps.filter((step) => step.state === "failed")))).toBe(0);
    for (const host of configHosts()) {
      const report = reportOf(reports, host);
      expect(stepOf(report, "containerd")?.state, host.name).toBe("changed");
      const config = await effectiveConfig(host);
      expect(config.version).toBe(2); // Debian's containerd is 1.6: config version 2
      expect(config.disabled_plugins ?? []).not.toContain("cri");
      const cri = config.plugins["io.containerd.grpc.v1.cri"];
      expect(cri, `${host.name}: CRI plugin loaded`).toBeDefined();
      expect(cri.sandbox_image).toBe(TARGET.pauseImage);
      expect(cri.containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
      expect(cri.containerd.runtimes.runc.runtime_type).toBe("io.containerd.runc.v2");

      // The real containerd, restarted or started with it, answers a CRI status request.
      const info = await ssh(host, "crictl info");
      expect(info.exitCode, String(info.stderr)).toBe(0);
      const conditions = JSON.parse(String(info.stdout)).status.conditions as Array<{ type: string; status: boolean }>;
      expect(conditions.find((condition) => condition.type === "RuntimeReady")?.status).toBe(true);
      // crictl's shape: the verbose info map merged in (containerd's "config" among it), keys sorted as Go prints maps.
      const keys = Object.keys(JSON.parse(String(info.stdout)));
      expect(keys).toEqual([...keys].sort());
      expect(keys).toEqual(expect.arrayContaining(["config", "status"]));
      if (host.name === "noconfig") {
        const version = await ssh(host, "crictl version; containerd --version");
        const [, , release] = String(version.stdout).split("\n").at(-1)!.split(" ");
        expect(String(version.stdout).split("\n").slice(0, 4)).toEqual(["Version:  0.1.0", "RuntimeName:  containerd", `RuntimeVersion:  ${release}`, "RuntimeApiVersion:  v1"]);
      }
      expect(stepOf(report, "runtime")?.detail).toMatch(/answers on unix:\/\/\/run\/containerd\/containerd\.sock \(crictl info: RuntimeReady/);
      expect(report.facts["cri-socket"]).toBe("unix:///run/containerd/containerd.sock");
      const files = await changedFiles(host);
      expect(files["etc/crictl.yaml"]).toBe("runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10\n");

      // kubelet: enabled, not started by kpki.
      expect(String((await ssh(host, "systemctl is-enabled kubelet")).stdout).trim()).toBe("enabled");
      expect(stepOf(report, "kubelet")?.detail).toMatch(/kubelet v1\.30\.2; enabled/);
    }
    // Backups: byte for byte the file that was there; none where there was none.
    const backups = async (host: TestHost) => Object.entries(await changedFiles(host)).filter(([file]) => /^etc\/containerd\/config\.toml\.kpki-\d{14}$/.test(file));
    expect(await backups(lab.byName("noconfig"))).toEqual([]);
    expect((await backups(lab.byName("nottoml"))).map(([, text]) => text)).toEqual([NOT_TOML]);
    expect((await backups(lab.byName("packaged")))[0]?.[1]).toMatch(/^disabled_plugins = \["cri"\]$/m);
    expect(stepOf(reportOf(reports, lab.byName("nottoml")), "containerd")?.detail).toMatch(/was not a configuration containerd can load \(containerd: failed to load TOML.*\): replaced; .*backup \/etc\/containerd\/config\.toml\.kpki-\d{14}/);
    // Restarted only where it was running: packaged (started above); nottoml's had failed at boot.
    expect(stepOf(reportOf(reports, lab.byName("packaged")), "containerd")?.detail).toMatch(/; containerd restarted$/);
    expect(stepOf(reportOf(reports, lab.byName("nottoml")), "containerd")?.detail).not.toMatch(/restarted/);
    // rocky9's kubelet was only installed: now enabled but not running (kubeadm starts it).
    expect((await shimState(lab.byName("packaged"))).units["kubelet.service"]).toBeUndefined();
  });

  it("a second prep changes nothing and does not restart containerd", async () => {
    const pids = async () => Promise.all(configHosts().map(async (host) => String((await ssh(host, "cat /run/testhost/runtime/containerd.service.pid")).stdout).trim()));
    const before = await pids();
    const files = await Promise.all(configHosts().map(changedFiles));
    const { result, reports } = await node("prep", configHosts());
    expect(result.exitCode).toBe(0);
    for (const report of reports) {
      expect(report.steps.filter((step) => step.state === "changed"), report.host).toEqual([]);
      expect(stepOf(report, "containerd")?.detail).toMatch(/^CRI on, SystemdCgroup = true, sandbox image registry\.k8s\.io\/pause:3\.9 \(containerd 1\.\d+\.\d+\S*, config version 2\)$/);
    }
    expect(await pids()).toEqual(before);
    expect(before.every((pid) => /^\d+$/.test(pid))).toBe(true);
    expect(await Promise.all(configHosts().map(changedFiles))).toEqual(files);
  });

  it("names the --cri-socket kubeadm needs when the host has several CRI sockets", async () => {
    const host = lab.byName("noconfig");
    // A second runtime's socket (a listener that went away leaves its socket file, as a stopped cri-dockerd does).
    const made = await ssh(host, "python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('/run/cri-dockerd.sock')\"");
    expect(made.exitCode, String(made.stderr)).toBe(0);
    try {
      const { reports } = await node("check", [host]);
      const warning = steps(reports[0]!, "runtime").find((line) => line.state === "warn");
      expect(warning?.detail).toBe(
        "several CRI sockets on this host (unix:///var/run/containerd/containerd.sock, unix:///var/run/cri-dockerd.sock): kubeadm init/join needs --cri-socket unix:///run/containerd/containerd.sock (or nodeRegistration.criSocket in its configuration)",
      );
    } finally {
      await ssh(host, "rm -f /run/cri-dockerd.sock");
    }
  });

  it("keeps the operator's socket, asks containerd there, names it in crictl.yaml and tells kubeadm's --cri-socket", async () => {
    const host = lab.byName("ownsocket");
    const { result, reports } = await node("prep", [host]);
    expect(result.exitCode, JSON.stringify(reports[0]?.steps)).toBe(0);
    expect((await effectiveConfig(host)).grpc.address).toBe("/run/k8s/containerd.sock");
    const [runtime, warning] = steps(reports[0]!, "runtime");
    expect(runtime?.detail).toMatch(/answers on unix:\/\/\/run\/k8s\/containerd\.sock \(crictl info: RuntimeReady/);
    expect(warning).toEqual({
      step: "runtime",
      state: "warn",
      detail: "containerd listens on unix:///run/k8s/containerd.sock, where kubeadm does not look by itself: kubeadm init/join needs --cri-socket unix:///run/k8s/containerd.sock (or nodeRegistration.criSocket in its configuration)",
    });
    expect(reports[0]!.facts["cri-socket"]).toBe("unix:///run/k8s/containerd.sock");
    expect((await changedFiles(host))["etc/crictl.yaml"]).toMatch(/^runtime-endpoint: unix:\/\/\/run\/k8s\/containerd\.sock$/m);
    // crictl with no flags reads that file.
    expect((await ssh(host, "crictl info")).exitCode).toBe(0);
  });

  it("leaves kubelet's version against the target to the preflight's KubeletVersion, as kubeadm's skew rule", async () => {
    const host = lab.byName("noconfig");
    const kubeletVersion = (report: HostReport) => report.checks.find((entry) => entry.name === "KubeletVersion")!;
    const { reports } = await node("check", [host], "--kubernetes-version", "1.33");
    // The step names what is installed and does not judge it (one verdict, which --ignore-preflight-errors reaches).
    expect(stepOf(reports[0]!, "kubelet")).toMatchObject({ state: "ok", detail: expect.stringMatching(/^kubelet v1\.30\.2; enabled/) });
    expect(steps(reports[0]!, "kubelet")).toHaveLength(1);
    // 1.30 is within kubeadm's skew below 1.33 (three minors): a warning; below 1.34's it is kubeadm's error.
    expect(kubeletVersion(reports[0]!)).toMatchObject({ severity: "warning", status: "fail", detail: "kubelet v1.30.2 is older than the target 1.33: a skew kubeadm supports, but not the version asked for" });
    const older = (await node("check", [host], "--kubernetes-version", "1.34")).reports[0]!;
    expect(kubeletVersion(older)).toMatchObject({ severity: "error", status: "fail", detail: 'Kubelet version "v1.30.2" is lower than kubeadm can support (1.31 and later). Please upgrade kubelet' });
    // The sandbox image follows the target too: pause:3.10 for 1.33.
    expect(stepOf(reports[0]!, "containerd")?.detail).toMatch(/sandbox image is registry\.k8s\.io\/pause:3\.\d+ \(kubeadm 1\.33 expects registry\.k8s\.io\/pause:3\.10\)/);
  });

  it("checks kubelet's version against the installed kubeadm's, in KubeletVersion", async () => {
    const host = lab.byName("noconfig");
    const kubeadm = async (version: string, ...extra: string[]) => {
      // kubeadm as the test packages make it: `kubeadm version -o short` prints vX.Y.Z.
      await ssh(host, `printf '#!/bin/sh\\necho ${version}\\n' >/usr/bin/kubeadm && chmod 755 /usr/bin/kubeadm`);
      const report = (await node("check", [host], ...extra)).reports[0]!;
      return { step: steps(report, "kubelet"), check: report.checks.find((entry) => entry.name === "KubeletVersion")! };
    };
    try {
      const newer = await kubeadm("v1.29.4");
      expect(newer.step).toEqual([expect.objectContaining({ state: "ok", detail: expect.stringMatching(/^kubelet v1\.30\.2, kubeadm v1\.29\.4; enabled/) })]);
      expect(newer.check).toMatchObject({ severity: "error", status: "fail", detail: "kubelet v1.30.2 is newer than kubeadm v1.29.4: kubeadm's skew policy allows a kubelet of kubeadm's minor or up to three older" });
      const differ = await kubeadm("v1.30.5");
      expect(differ.check).toMatchObject({ severity: "warning", detail: "kubelet v1.30.2 and kubeadm v1.30.5 differ: install both at 1.30" });
      expect((await kubeadm("v1.30.5", "--kubernetes-version", "1.30.2")).check.detail).toBe("kubelet v1.30.2 and kubeadm v1.30.5 differ: install both at 1.30.2");
    } finally {
      await ssh(host, "rm -f /usr/bin/kubeadm");
    }
  });

  it("a configuration that still does not verify after kpki's changes fails the step and leaves the file as it was", async () => {
    const host = lab.byName("dropin");
    const { result, reports } = await node("prep", [host]);
    expect(result.exitCode).toBe(4);
    expect(stepOf(reports[0]!, "containerd")).toMatchObject({ state: "failed" });
    expect(stepOf(reports[0]!, "containerd")?.detail).toMatch(/^after kpki's changes containerd still reports: SystemdCgroup is false .* \(set by an imports = file\?\); \/etc\/containerd\/config\.toml left as it was$/);
    expect(Object.keys(await changedFiles(host)).filter((file) => file.startsWith("etc/containerd/"))).toEqual([]);
  });

  it("starts kubelet once kubeadm has configured it", async () => {
    const host = lab.byName("packaged");
    await ssh(host, "mkdir -p /var/lib/kubelet && echo 'kind: KubeletConfiguration' >/var/lib/kubelet/config.yaml");
    const { reports } = await node("prep", [host]);
    expect(stepOf(reports[0]!, "kubelet")).toMatchObject({ state: "changed" });
    expect(stepOf(reports[0]!, "kubelet")?.detail).toMatch(/kubeadm has configured it \(\/var\/lib\/kubelet\/config\.yaml\): kubelet enabled and started$/);
    expect((await shimState(host)).units["kubelet.service"]).toBe("active");
  });

  it("--runtime docker without cri-dockerd: one clear line naming the step, the other steps and hosts finish", async () => {
    const docker = lab.byName("dockeronly");
    const other = lab.byName("noconfig");
    const { result, reports } = await node("prep", [docker, other], "--runtime", "docker", "--dry-run");
    expect(result.exitCode).toBe(4);
    for (const report of reports) {
      expect(stepOf(report, "runtime")).toMatchObject({ state: "failed" });
      expect(stepOf(report, "runtime")?.detail).toMatch(/^--runtime docker needs cri-dockerd \(Docker Engine has no CRI of its own since Kubernetes 1\.24\): .*install cri-dockerd, or use containerd/);
      expect(stepOf(report, "containerd")).toMatchObject({ state: "info" });
      expect(stepOf(report, "swap")?.state).toMatch(/ok|would-change/);
      // The port checks are kubeadm's preflight now (Port-10250 on every role), and they still ran.
      expect(report.checks.map((check) => check.name)).toContain("Port-10250");
      expect(report.steps.filter((step) => step.state === "failed").length).toBe(1);
    }
  });
});
