/**
 * The packages step of kpki node prep with REAL package managers: apt/dpkg on
 * the Debian and Ubuntu hosts, dnf/rpm on Rocky 9 and CentOS Stream 9, yum
 * (Debian's dnf under that name) on CentOS 7, installing from signed local
 * repositories (test/support/repos) served over http on the test bridge as
 * the --package-mirror. The repositories are built once for this file.
 */
import { createHash } from "node:crypto";
import { promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../support/cli.js";
import { buildTestRepos, containerdAvailable, debianSourceFiles, serveRepos, type RepoServer, type TestRepos } from "../support/repos/index.js";
import {
  isRpmScratch,
  leftovers,
  machineChanges,
  snapshotMachine,
  ssh,
  startTestHosts,
  testHostsAvailable,
  type HostSpec,
  type MachineSnapshot,
  type TestHost,
  type TestHosts,
} from "../support/testhosts/index.js";
import { tempDir } from "../support/tmp.js";
import type { HostReport } from "../../src/bootstrap/node/index.js";

const skip = (await testHostsAvailable()) ?? containerdAvailable();
if (skip && process.env.CI) throw new Error(`the packages e2e tests cannot run in CI: ${skip}`);
if (skip) console.warn(`skipping the packages e2e tests: ${skip}`);


const FRESH = { units: { kubelet: "absent", containerd: "absent", docker: "absent" } } as const;
const fresh = (flavour: HostSpec["flavour"], name: string): HostSpec => ({ flavour, name, ...FRESH });

async function changedFiles(host: TestHost): Promise<Record<string, string>> {
  const entries = await fs.readdir(host.stateDir, { recursive: true, withFileTypes: true });
  const files: Record<string, string> = {};
  for (const entry of entries) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isDirectory() || isRpmScratch(full)) continue;
    files[path.relative(host.stateDir, full)] = entry.isSymbolicLink()
      ? `-> ${await fs.readlink(full)}`
      : createHash("sha256").update(await fs.readFile(full).catch(() => Buffer.from("?"))).digest("hex");
  }
  return files;
}

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe.skipIf(Boolean(skip))("kpki node prep installs the packages with real apt and dnf", () => {
  const dir = tempDir("kpki-packages-");
  let repos: TestRepos;
  let server: RepoServer;
  let lab: TestHosts;
  let before: MachineSnapshot;
  let dpkgStatus: string;
  const main = ["debian12", "ubuntu2204", "centos7", "rocky9", "centos-stream9"];
  const hosts = (...names: string[]) => names.map((name) => lab.byName(name));
  const sshFlags = () => ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`];
  const mirror = (key = repos.keyFile) => ["--package-mirror", server.url, "--package-mirror-key", key];
  const node = async (verb: string, targets: readonly TestHost[], ...extra: string[]): Promise<{ result: CliResult; reports: HostReport[] }> => {
    const result = await runCli(["node", verb, ...targets.map((host) => host.address), ...sshFlags(), "-o", "json", ...extra]);
    const reports = result.stdout ? (JSON.parse(result.stdout).hosts as HostReport[]) : [];
    return { result, reports };
  };
  const packagesStep = (report: HostReport) => report.steps.find((line) => line.step === "packages");
  const run = async (host: TestHost, command: string) => {
    const result = await ssh(host, command);
    return `${String(result.stdout).trim()}${result.exitCode === 0 ? "" : ` [exit ${result.exitCode}: ${String(result.stderr).trim()}]`}`;
  };
  const installed = (host: TestHost) =>
    run(host, host.family === "debian"
      ? "dpkg-query -W -f '${Package} ${Version} ${Status}\\n' kubelet kubeadm kubectl cri-tools containerd 2>/dev/null | grep installed || true"
      : "rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\\n' kubelet kubeadm kubectl cri-tools containerd.io | grep -v 'not installed' || true");

  beforeAll(async () => {
    before = await snapshotMachine();
    dpkgStatus = sha("/var/lib/dpkg/status");
    repos = await buildTestRepos(dir);
    lab = await startTestHosts({
      hosts: [
        ...main.map((flavour) => fresh(flavour as HostSpec["flavour"], flavour)),
        fresh("ubuntu2204", "held-deb"),
        fresh("rocky9", "held-rpm"),
        fresh("debian12", "wrongkey-deb"),
        fresh("rocky9", "wrongkey-rpm"),
        fresh("debian12", "offline-deb"),
        fresh("centos7", "offline-rpm"),
        {
          ...fresh("rocky9", "rhel7"),
          files: { "/usr/lib/os-release": 'NAME="Red Hat Enterprise Linux Server"\nVERSION="7.9 (Maipo)"\nID="rhel"\nVERSION_ID="7.9"\nPRETTY_NAME="Red Hat Enterprise Linux Server 7.9 (Maipo)"\n' },
        },
      ],
    });
    server = await serveRepos(repos.root, lab.subnet.gateway);
    // The Debian-family hosts' own distribution repository (where `containerd` comes from) is a local mirror too.
    for (const host of lab.hosts.filter((candidate) => candidate.family === "debian")) {
      const files = debianSourceFiles(repos, server.url);
      const script = Object.entries(files).map(([file, content]) => `mkdir -p ${path.dirname(file)} && printf '%s' '${content}' > ${file}`).join(" && ");
      expect(await run(host, script)).toBe("");
    }
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await lab?.stop();
    if (before) expect(machineChanges(before, await snapshotMachine())).toEqual([]);
    if (dpkgStatus) expect(sha("/var/lib/dpkg/status")).toBe(dpkgStatus);
    if (lab) expect(await leftovers(lab.footprint())).toEqual([]);
  }, 120_000);

  it("check and --dry-run list what would be added, installed and held, contact no repository and change no byte", async () => {
    const targets = hosts(...main);
    const start = await Promise.all(targets.map(changedFiles));
    server.clearLog();
    for (const verb of ["check", "prep"]) {
      const { result, reports } = await node(verb, targets, "--kubernetes-version", "1.33", ...mirror(), ...(verb === "prep" ? ["--dry-run"] : []));
      // check: not ready; --dry-run: changes merely pending, the plan was made (exit 0).
      expect(result.exitCode).toBe(verb === "check" ? 4 : 0);
      for (const report of reports) {
        const step = packagesStep(report)!;
        const host = lab.hosts.find((candidate) => candidate.address === report.host)!;
        expect(step.state, report.host).toBe("would-change");
        expect(step.detail).toContain(`add repository ${server.url}/kubernetes/core:/stable:/v1.33/${host.family === "debian" ? "deb" : "rpm"}/ (key --package-mirror-key)`);
        expect(step.detail).toMatch(/install kubelet 1\.33\.x kubeadm 1\.33\.x kubectl 1\.33\.x cri-tools 1\.33\.x containerd/);
        expect(step.detail).toMatch(/hold kubelet kubeadm kubectl cri-tools/);
        if (host.family === "rhel") expect(step.detail).toContain(`${server.url}/docker/linux/centos/$releasever/$basearch/stable (Docker's, for containerd.io)`);
      }
    }
    expect(server.requests()).toEqual([]);
    expect(await Promise.all(targets.map(changedFiles))).toEqual(start);
  });

  it("a fresh host ends with the packages at the target version and held; a second prep changes nothing and fetches nothing", async () => {
    const targets = hosts(...main);
    server.clearLog();
    const { result, reports } = await node("prep", targets, "--kubernetes-version", "1.33", ...mirror());
    expect(result.stderr).toBe("");
    expect(result.exitCode, JSON.stringify(reports.map(packagesStep))).toBe(0);
    for (const host of targets) {
      const step = packagesStep(reports.find((report) => report.host === host.address)!)!;
      expect(step.state).toBe("changed");
      expect(await run(host, "kubelet --version; kubeadm version -o short; kubectl version --client | head -n 1")).toBe("Kubernetes v1.33.2\nv1.33.2\nClient Version: v1.33.2");
      // The real containerd, from the package.
      expect(await run(host, "containerd --version")).toMatch(/^containerd .* 1\.6\./);
      if (host.family === "debian") {
        const list = await installed(host);
        for (const line of ["kubelet 1.33.2-1.1", "kubeadm 1.33.2-1.1", "kubectl 1.33.2-1.1", "cri-tools 1.33.0-1.1"]) expect(list).toContain(`${line} hold ok installed`);
        expect(list).toMatch(/^containerd 1\.6\.\S+ install ok installed$/m);
        expect(await run(host, "cat /etc/apt/sources.list.d/kubernetes.list")).toBe(`deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] ${server.url}/kubernetes/core:/stable:/v1.33/deb/ /`);
        expect(await run(host, "cat /etc/apt/keyrings/kubernetes-apt-keyring.asc")).toBe(repos.key.trim());
        // Held: apt refuses to change them.
        expect(await run(host, "apt-get install -y -s --allow-downgrades kubelet=1.33.1-1.1 2>&1 | tail -n 1")).toMatch(/Held packages were changed/);
      } else {
        expect((await installed(host)).split("\n").sort()).toEqual([
          `containerd.io 1.6.20-3.1.el${host.flavour === "centos7" ? 7 : 9}`,
          "cri-tools 1.33.0-150500.1.1",
          "kubeadm 1.33.2-150500.1.1",
          "kubectl 1.33.2-150500.1.1",
          "kubelet 1.33.2-150500.1.1",
        ]);
        const repo = await run(host, "cat /etc/yum.repos.d/kubernetes.repo");
        expect(repo).toContain(`baseurl=${server.url}/kubernetes/core:/stable:/v1.33/rpm/`);
        expect(repo).toMatch(/^gpgcheck=1$/m);
        expect(repo).toMatch(/^exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni$/m);
        // Held: without --disableexcludes the package manager does not see them.
        expect(await run(host, `${host.flavour === "centos7" ? "yum" : "dnf"} -q -y install kubelet-1.33.1 2>&1 | tail -n 1`)).toMatch(/No match for argument|Unable to find a match|filtered out by exclude/);
        // containerd.io's packaged config turned the CRI off (as Docker ships it); the containerd step, in the same prep, turned it on again.
        expect(await run(host, "grep disabled_plugins /etc/containerd/config.toml")).toBe("disabled_plugins = []");
      }
      // No upstream URL is configured anywhere.
      expect(await run(host, "grep -rl 'pkgs.k8s.io\\|download.docker.com' /etc/apt /etc/yum.repos.d 2>/dev/null || true")).toBe("");
    }
    // The mirror is the only URL any host contacted: every request came from a host to a mirror path.
    const requests = server.requests();
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) {
      expect(targets.map((host) => host.address)).toContain(request.from);
      expect(request.path).toMatch(/^\/(kubernetes\/core:\/stable:\/v1\.33\/(deb|rpm)|docker\/linux\/centos\/(7|9)\/x86_64\/stable|debian)\//);
      expect(request.status, request.path).toBe(200);
    }
    for (const host of targets) expect(requests.some((request) => request.from === host.address), host.name).toBe(true);

    const snapshot = await Promise.all(targets.map(changedFiles));
    server.clearLog();
    const again = await node("prep", targets, "--kubernetes-version", "1.33", ...mirror());
    expect(again.result.exitCode).toBe(0);
    expect(again.reports.map((report) => packagesStep(report)?.state)).toEqual(Array(targets.length).fill("ok"));
    expect(again.reports.map((report) => report.changed)).toEqual(Array(targets.length).fill(0));
    expect(server.requests()).toEqual([]);
    expect(await Promise.all(targets.map(changedFiles))).toEqual(snapshot);
  }, 120_000);

  it("a package held at another version is reported, not changed; --upgrade changes it and holds it again", async () => {
    const targets = hosts("held-deb", "held-rpm");
    const first = await node("prep", targets, "--kubernetes-version", "1.32", ...mirror());
    expect(first.result.exitCode, JSON.stringify(first.reports.map(packagesStep))).toBe(0);
    const was = await Promise.all(targets.map(installed));
    expect(was[0]).toMatch(/kubelet 1\.32\.5-1\.1 hold ok installed/);
    expect(was[1]).toMatch(/kubelet 1\.32\.5-150500\.1\.1/);
    const files = await Promise.all(targets.map(changedFiles));

    const refused = await node("prep", targets, "--kubernetes-version", "1.33.2", ...mirror());
    expect(refused.result.exitCode).toBe(4);
    const [deb, rpm] = refused.reports.map(packagesStep);
    expect(deb).toMatchObject({ state: "failed" });
    expect(deb!.detail).toMatch(/^kubelet 1\.32\.5-1\.1 \(held\), kubeadm 1\.32\.5-1\.1 \(held\), kubectl 1\.32\.5-1\.1 \(held\), cri-tools 1\.32\.0-1\.1 \(held\) installed, but the target is Kubernetes 1\.33\.2: kpki changes an installed version only with --upgrade/);
    expect(rpm).toMatchObject({ state: "failed" });
    expect(rpm!.detail).toMatch(/kubelet 1\.32\.5-150500\.1\.1.*--upgrade/);
    expect(await Promise.all(targets.map(installed))).toEqual(was);
    expect(await Promise.all(targets.map(changedFiles))).toEqual(files);

    const upgraded = await node("prep", targets, "--kubernetes-version", "1.33.2", "--upgrade", ...mirror());
    expect(upgraded.result.exitCode, JSON.stringify(upgraded.reports.map(packagesStep))).toBe(0);
    const now = await Promise.all(targets.map(installed));
    for (const pkg of ["kubelet", "kubeadm", "kubectl"]) expect(now[0]).toMatch(new RegExp(`${pkg} 1\\.33\\.2-1\\.1 hold ok installed`));
    expect(now[0]).toMatch(/cri-tools 1\.33\.0-1\.1 hold ok installed/);
    expect(now[1]).toMatch(/kubelet 1\.33\.2-150500\.1\.1/);
    expect(await run(targets[1]!, "grep baseurl /etc/yum.repos.d/kubernetes.repo")).toBe(`baseurl=${server.url}/kubernetes/core:/stable:/v1.33/rpm/`);

    // Back to an older patch: a downgrade, also only with --upgrade.
    const down = await node("prep", targets, "--kubernetes-version", "1.33.1", "--upgrade", ...mirror());
    expect(down.result.exitCode, JSON.stringify(down.reports.map(packagesStep))).toBe(0);
    const older = await Promise.all(targets.map(installed));
    expect(older[0]).toMatch(/kubelet 1\.33\.1-1\.1 hold ok installed/);
    expect(older[1]).toMatch(/kubelet 1\.33\.1-150500\.1\.1/);
  }, 180_000);

  it("a wrong key fails the step naming the URL, installs nothing and takes its repository files back; the other hosts finish", async () => {
    const targets = hosts("wrongkey-deb", "wrongkey-rpm", "debian12");
    const start = await Promise.all(targets.map(installed));
    const { result, reports } = await node("prep", targets, "--kubernetes-version", "1.33", ...mirror(repos.wrongKeyFile));
    expect(result.exitCode).toBe(4);
    const [deb, rpm, other] = reports.map(packagesStep);
    expect(deb).toMatchObject({ state: "failed" });
    expect(deb!.detail).toContain(`the signature check of ${server.url}/kubernetes/core:/stable:/v1.33/deb/ failed with the key given by --package-mirror-key`);
    expect(deb!.detail).toMatch(/NO_PUBKEY|not signed/);
    expect(rpm).toMatchObject({ state: "failed" });
    expect(rpm!.detail).toMatch(new RegExp(`^the signature check of ${server.url}/(kubernetes/core:/stable:/v1\\.33/rpm/|docker/linux/centos/\\$releasever/\\$basearch/stable) failed`));
    expect(rpm!.detail).toMatch(/GPG check FAILED|Public key for .* is not installed|not correct/);
    // A host prepared before, given the wrong key: apt-get update proves it wrong, and the right one is put back.
    expect(other).toMatchObject({ state: "failed", detail: expect.stringContaining("the signature check of") });
    expect(await run(targets[2]!, "cat /etc/apt/keyrings/kubernetes-apt-keyring.asc")).toBe(repos.key.trim());
    expect(await installed(targets[2]!)).toEqual(start[2]);
    expect((await Promise.all(targets.map(installed))).slice(0, 2)).toEqual(start.slice(0, 2));
    expect(await run(targets[0]!, "ls /etc/apt/sources.list.d /etc/apt/keyrings 2>&1")).not.toMatch(/kubernetes/);
    expect(await run(targets[1]!, "ls /etc/yum.repos.d /etc/pki/rpm-gpg 2>&1")).not.toMatch(/kubernetes|docker-ce|kpki/);
    // The wrong key dnf imported to check the packages is not left trusted.
    expect(await run(targets[1]!, "rpm -q gpg-pubkey")).toMatch(/package gpg-pubkey is not installed/);
    // The other steps of the failed hosts still ran.
    for (const report of reports.slice(0, 2)) expect(report.steps.find((line) => line.step === "sysctl")?.state).toBe("changed");

    // Without --package-mirror-key the keys come from the mirror's copies of upstream's key paths: the next run finishes the job.
    server.clearLog();
    const fixed = await node("prep", targets.slice(0, 2), "--kubernetes-version", "1.33", "--package-mirror", server.url);
    expect(fixed.result.exitCode, JSON.stringify(fixed.reports.map(packagesStep))).toBe(0);
    expect(await run(targets[0]!, "cat /etc/apt/keyrings/kubernetes-apt-keyring.asc")).toBe(repos.key.trim());
    expect(await run(targets[1]!, "grep gpgkey /etc/yum.repos.d/kubernetes.repo /etc/yum.repos.d/docker-ce.repo")).toBe(
      `/etc/yum.repos.d/kubernetes.repo:gpgkey=${server.url}/kubernetes/core:/stable:/v1.33/rpm/repodata/repomd.xml.key\n/etc/yum.repos.d/docker-ce.repo:gpgkey=${server.url}/docker/linux/centos/gpg`,
    );
    const fetched = server.requests().map((request) => request.path);
    expect(fetched).toContain("/kubernetes/core:/stable:/v1.33/deb/Release.key");
    // dnf fetches a repository's key when a package from it needs it (one key signs both here).
    expect(fetched.some((file) => file === "/kubernetes/core:/stable:/v1.33/rpm/repodata/repomd.xml.key" || file === "/docker/linux/centos/gpg")).toBe(true);
  }, 120_000);

  it("an unreachable mirror fails the step with the URL and leaves nothing behind", async () => {
    const targets = hosts("offline-deb", "offline-rpm");
    const offline = `http://${lab.unusedAddress}:8080`;
    const { result, reports } = await node("prep", targets, "--kubernetes-version", "1.33", "--package-mirror", offline, "--package-mirror-key", repos.keyFile);
    expect(result.exitCode).toBe(4);
    const [deb, rpm] = reports.map(packagesStep);
    expect(deb).toMatchObject({ state: "failed" });
    expect(deb!.detail).toMatch(new RegExp(`^apt-get update failed: .*${lab.unusedAddress.replace(/\./g, "\\.")}`));
    expect(rpm).toMatchObject({ state: "failed" });
    expect(rpm!.detail).toMatch(/^yum install .* failed: .*(Failed to download|Cannot download|Curl error)/);
    expect(await Promise.all(targets.map(installed))).toEqual(["", ""]);
    expect(await run(targets[0]!, "ls /etc/apt/sources.list.d /etc/apt/keyrings 2>&1")).not.toMatch(/kubernetes/);
    expect(await run(targets[1]!, "ls /etc/yum.repos.d 2>&1")).not.toMatch(/kubernetes|docker/);
  }, 180_000);

  it("a distribution Docker's repository does not serve fails the step saying so, with nothing written", async () => {
    const host = lab.byName("rhel7");
    const start = await changedFiles(host);
    const { result, reports } = await node("prep", [host], "--kubernetes-version", "1.33", "--os-family", "rhel", ...mirror());
    expect(result.exitCode).toBe(4);
    expect(packagesStep(reports[0]!)).toMatchObject({ state: "failed", detail: expect.stringMatching(/^Docker's repository serves no containerd\.io for Red Hat Enterprise Linux Server 7\.9/) });
    const after = await changedFiles(host);
    expect(Object.keys(after).filter((file) => file.startsWith("etc/yum.repos.d") || file.startsWith("var/lib/rpm/rpmdb.sqlite"))).toEqual(
      Object.keys(start).filter((file) => file.startsWith("etc/yum.repos.d") || file.startsWith("var/lib/rpm/rpmdb.sqlite")),
    );
  });

  it("--no-install only reports what is missing", async () => {
    const host = lab.byName("offline-deb");
    const { reports } = await node("check", [host], "--no-install");
    // (kubectl is there: the hosts see this machine's /usr/bin/kubectl, a program not from any package they know.)
    expect(packagesStep(reports[0]!)).toMatchObject({ state: "warn", detail: expect.stringMatching(/^not installed: kubelet kubeadm cri-tools containerd \(--no-install/) });
  });

  it("refuses an unknown --kubernetes-version, a bad mirror URL or key in one line, before touching any host", async () => {
    const host = lab.byName("offline-deb");
    const start = await changedFiles(host);
    const notAKey = path.join(dir, "not-a-key.txt");
    await fs.writeFile(notAKey, "hello\n");
    for (const [args, message] of [
      [["--kubernetes-version", "1.99"], /--kubernetes-version 1\.99: kpki does not know Kubernetes 1\.99/],
      [["--package-mirror", "ftp://mirror"], /--package-mirror ftp:\/\/mirror: give an http:\/\/, https:\/\/ or file:\/\/ URL/],
      [["--package-mirror", server.url, "--package-mirror-key", notAKey], /is not an ASCII-armored OpenPGP public key/],
      [["--package-mirror-key", repos.keyFile], /--package-mirror-key needs --package-mirror/],
    ] as const) {
      const result = await runCli(["node", "prep", host.address, ...sshFlags(), ...args]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe("");
    }
    expect(await changedFiles(host)).toEqual(start);
  });
});
