/**
 * kpki node prep with installs, against the floor: a plain
 * `ssh host 'bash -s' < script` per host (all hosts at once) doing the same
 * installs from the same local signed repositories (the Kubernetes
 * repository and key written, apt-get update, install at the pinned
 * version, apt-mark hold; on the RHEL family the .repo files and one
 * dnf/yum install with --disableexcludes). 5 fresh hosts (Debian 12,
 * Ubuntu 22.04, CentOS 7, Rocky 9, CentOS Stream 9); then a second run of
 * each on the same hosts (kpki: nothing to do; the floor: its script again).
 * Medians of BENCH_RUNS runs (default 3), each on new hosts. kpki's prep
 * also runs its other steps (swap, modules, sysctl, SELinux, firewall…),
 * which the floor does not: the ratio counts them against kpki.
 */
import path from "node:path";
import { execa } from "execa";
import { afterAll, it } from "vitest";
import { binPath } from "../test/support/cli.js";
import { buildTestRepos, debianSourceFiles, serveRepos, type RepoServer, type TestRepos } from "../test/support/repos/index.js";
import { sshArgs, ssh, startTestHosts, testHostsAvailable, type TestHost, type TestHosts } from "../test/support/testhosts/index.js";
import { tempDir } from "../test/support/tmp.js";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const FLAVOURS = ["debian12", "ubuntu2204", "centos7", "rocky9", "centos-stream9"] as const;
const VERSION = "1.33.2";

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** The same installs, written by hand the shortest way. */
function floorScript(host: TestHost, repos: TestRepos, url: string): string {
  const base = `${url}/kubernetes/core:/stable:/v1.33`;
  if (host.family === "debian") {
    return `set -e
mkdir -p /etc/apt/keyrings
cat > /etc/apt/keyrings/kubernetes-apt-keyring.asc <<'KEY'
${repos.key.trim()}
KEY
echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] ${base}/deb/ /' > /etc/apt/sources.list.d/kubernetes.list
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends kubelet=${VERSION}-1.1 kubeadm=${VERSION}-1.1 kubectl=${VERSION}-1.1 cri-tools containerd >/dev/null
apt-mark hold kubelet kubeadm kubectl cri-tools >/dev/null
`;
  }
  const manager = host.flavour === "centos7" ? "yum" : "dnf";
  return `set -e
mkdir -p /etc/pki/rpm-gpg
cat > /etc/pki/rpm-gpg/mirror.asc <<'KEY'
${repos.key.trim()}
KEY
cat > /etc/yum.repos.d/kubernetes.repo <<'REPO'
[kubernetes]
name=Kubernetes
baseurl=${base}/rpm/
enabled=1
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/mirror.asc
exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni
REPO
cat > /etc/yum.repos.d/docker-ce.repo <<'REPO'
[docker-ce-stable]
name=Docker CE Stable - $basearch
baseurl=${url}/docker/linux/centos/$releasever/$basearch/stable
enabled=1
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/mirror.asc
REPO
${manager} install -y -q --disableexcludes=kubernetes kubelet-${VERSION} kubeadm-${VERSION} kubectl-${VERSION} cri-tools containerd.io >/dev/null
`;
}

const dir = tempDir("kpki-bench-packages-");
let repos: TestRepos;
let server: RepoServer | undefined;
afterAll(async () => {
  await server?.close();
});

async function fresh(): Promise<TestHosts> {
  const lab = await startTestHosts({ hosts: FLAVOURS.map((flavour) => ({ flavour, units: { kubelet: "absent", containerd: "absent", docker: "absent" } })) });
  await server?.close();
  server = await serveRepos(repos.root, lab.subnet.gateway);
  for (const host of lab.hosts.filter((candidate) => candidate.family === "debian")) {
    const files = debianSourceFiles(repos, server.url);
    const result = await ssh(host, Object.entries(files).map(([file, content]) => `mkdir -p ${path.dirname(file)} && printf '%s' '${content}' > ${file}`).join(" && "));
    if (result.exitCode !== 0) throw new Error(`${host.name}: ${result.stderr}`);
  }
  return lab;
}

it.skipIf(Boolean(await testHostsAvailable()))("node prep with installs: kpki against a plain ssh 'bash -s' doing the same installs", async () => {
  repos = await buildTestRepos(dir);
  const times: Record<"kpki" | "floor" | "kpkiAgain" | "floorAgain", number[]> = { kpki: [], floor: [], kpkiAgain: [], floorAgain: [] };
  for (let round = 0; round < runs; round++) {
    let lab = await fresh();
    try {
      const kex = lab.hosts[0]!.sshOptions.find((option) => option.startsWith("KexAlgorithms="))!;
      const args = [
        "node", "prep", ...lab.hosts.map((host) => host.address), "--parallel", "20", "--kubernetes-version", VERSION,
        "--package-mirror", server!.url, "--package-mirror-key", repos.keyFile,
        "--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`, "--ssh-option", kex, "-o", "json",
      ];
      times.kpki.push(await timed(() => execa(binPath, args)));
      times.kpkiAgain.push(await timed(() => execa(binPath, args)));
    } finally {
      await lab.stop();
    }
    lab = await fresh();
    try {
      const floor = () => Promise.all(lab.hosts.map((host) => execa("ssh", sshArgs(host, "bash -s"), { input: floorScript(host, repos, server!.url) })));
      times.floor.push(await timed(floor));
      times.floorAgain.push(await timed(floor));
    } finally {
      await lab.stop();
    }
  }
  const [kpki, floor, kpkiAgain, floorAgain] = [times.kpki, times.floor, times.kpkiAgain, times.floorAgain].map(median) as [number, number, number, number];
  console.log(
    `\nnode prep with installs, 5 fresh hosts, medians of ${runs} runs:\n` +
      `  first prep: kpki ${kpki.toFixed(2)} s, floor ${floor.toFixed(2)} s (kpki/floor ${(kpki / floor).toFixed(2)})\n` +
      `  second prep: kpki ${kpkiAgain.toFixed(2)} s, floor ${floorAgain.toFixed(2)} s (kpki/floor ${(kpkiAgain / floorAgain).toFixed(2)}, goal <= 1.3)`,
  );
});
