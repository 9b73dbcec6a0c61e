/**
 * kpki node push-pki by kubeadm's distribution rules, on three real sshd test
 * hosts: the first control plane, a joining control plane and a worker, their
 * roles from an inventory. What each host holds afterwards is read from its
 * overlay's upper layer: exactly the files push-pki wrote, with their modes.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterOfClusterInfo } from "../../src/bootstrap/api/clusterinfo.js";
import { SHARED_PKI_FILES } from "../../src/bootstrap/node/pushpki.js";
import { runCli } from "../support/cli.js";
import { startTestHosts, testHostsAvailable, type TestHost, type TestHosts } from "../support/testhosts/index.js";
import { tempDir } from "../support/tmp.js";

const skip = await testHostsAvailable();
if (skip) console.warn(`skipping the push-pki e2e tests: ${skip}`);

/** Every file on the host under /etc/kubernetes, with its mode, as push-pki left it. */
async function kubernetesFiles(host: TestHost): Promise<Record<string, string>> {
  const root = path.join(host.stateDir, "etc/kubernetes");
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  const files: Record<string, string> = {};
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[`/etc/kubernetes/${path.relative(root, full)}`] = ((await fs.stat(full)).mode & 0o777).toString(8);
  }
  return files;
}

async function everything(host: TestHost): Promise<string[]> {
  return (await fs.readdir(host.stateDir, { recursive: true })).map(String).sort();
}

describe.skipIf(Boolean(skip))("push-pki by kubeadm's rules on real SSH hosts", () => {
  let lab: TestHosts;
  const dir = tempDir();
  // A cluster folder laid out like /etc/kubernetes: pki/ and the kubeconfigs inside.
  const cluster = path.join(dir, "cluster");
  const pki = path.join(cluster, "pki");
  const inventory = path.join(dir, "hosts.yaml");
  const sshFlags = () => ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`];
  const hosts = () => ({ init: lab.byName("cp-1"), join: lab.byName("cp-2"), worker: lab.byName("w-1") });

  beforeAll(async () => {
    const init = await runCli(["init", "--master-ip", "192.0.2.10", "--node-name", "cp-1", "--key-type", "ecdsa-p256", "--dir", cluster]);
    expect(init.exitCode, init.stderr).toBe(0);
    lab = await startTestHosts({ hosts: [{ flavour: "rocky9", name: "cp-1" }, { flavour: "ubuntu2204", name: "cp-2" }, { flavour: "centos7", name: "w-1" }] });
    const { init: first, join, worker } = hosts();
    await fs.writeFile(inventory, [
      "hosts:",
      `  - { name: cp-1, address: ${first.address}, role: control-plane-init }`,
      `  - { name: cp-2, address: ${join.address}, role: control-plane }`,
      `  - { name: w-1, address: ${worker.address} }`,
      "",
    ].join("\n"));
  }, 120_000);

  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it("--dry-run lists every file each host would get, by its inventory role, and writes nothing", async () => {
    const before = await Promise.all(lab.hosts.map(everything));
    const result = await runCli(["node", "push-pki", "--inventory", inventory, "--dir", cluster, "--kubeconfigs", "--discovery-file", "--dry-run", ...sshFlags(), "-o", "json"]);
    expect(result.exitCode, result.stderr).toBe(0);
    const plans = JSON.parse(result.stdout) as { host: string; role: string; files: { file: string; mode: string; action: string }[] }[];
    expect(plans.map((plan) => [plan.host, plan.role])).toEqual([["cp-1", "control-plane-init"], ["cp-2", "control-plane"], ["w-1", "worker"]]);
    expect(plans.every((plan) => plan.files.every((file) => file.action === "would-create"))).toBe(true);
    expect(plans[1]!.files.map((file) => file.file)).toEqual([...SHARED_PKI_FILES.map((file) => `/etc/kubernetes/pki/${file}`), "/etc/kubernetes/admin.conf", "/etc/kubernetes/discovery.conf"]);
    expect(plans[2]!.files.map((file) => file.file)).toEqual(["/etc/kubernetes/discovery.conf"]);
    const text = await runCli(["node", "push-pki", "--inventory", inventory, "--dir", cluster, "--dry-run", ...sshFlags()]);
    expect(text.stdout).toMatch(/cp-1 \(.*\), control-plane-init \(dry run: nothing written\):\n(.*\n)*\s+would create\s+0600\s+\/etc\/kubernetes\/pki\/ca\.key/);
    expect(text.stdout).toMatch(/w-1 .*nothing to push/);
    expect(await Promise.all(lab.hosts.map(everything))).toEqual(before);
  });

  it("places exactly the table's files with kubeadm's modes: the whole folder, the shared CA material, nothing under pki for a worker", async () => {
    const { init, join, worker } = hosts();
    const result = await runCli(["node", "push-pki", "--inventory", inventory, "--dir", cluster, "--kubeconfigs", "--discovery-file", ...sshFlags()]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);

    const local = (await fs.readdir(pki, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile() && /\.(crt|key|pub)$/.test(entry.name))
      .map((entry) => path.relative(pki, path.join(entry.parentPath, entry.name)));
    const pkiMode = (file: string) => (file.endsWith(".key") || file === "sa.pub" ? "600" : "644");
    const kubeconfigs = ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"];
    expect(await kubernetesFiles(init)).toEqual(Object.fromEntries([
      ...local.map((file) => [`/etc/kubernetes/pki/${file}`, pkiMode(file)]),
      ...kubeconfigs.map((file) => [`/etc/kubernetes/${file}`, "600"]),
    ]));
    for (const file of local) expect(await fs.readFile(path.join(init.stateDir, "etc/kubernetes/pki", file)), file).toEqual(await fs.readFile(path.join(pki, file)));

    expect(await kubernetesFiles(join)).toEqual(Object.fromEntries([
      ...SHARED_PKI_FILES.map((file) => [`/etc/kubernetes/pki/${file}`, pkiMode(file)]),
      ["/etc/kubernetes/admin.conf", "600"],
      ["/etc/kubernetes/discovery.conf", "600"],
    ]));
    // Not the first node's leaves: its apiserver and etcd certificates name cp-1 and 192.0.2.10.
    await expect(fs.access(path.join(join.stateDir, "etc/kubernetes/pki/apiserver.crt"))).rejects.toThrow();
    await expect(fs.access(path.join(join.stateDir, "etc/kubernetes/pki/etcd/server.crt"))).rejects.toThrow();

    expect(await kubernetesFiles(worker)).toEqual({ "/etc/kubernetes/discovery.conf": "600" });
    // No key anywhere on the worker, and no pki/ca.crt to fail kubeadm join's FileAvailable--etc-kubernetes-pki-ca.crt.
    const written = (await fs.readdir(worker.stateDir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    for (const entry of written) expect(await fs.readFile(path.join(entry.parentPath, entry.name), "utf8"), entry.name).not.toMatch(/PRIVATE KEY/);
    const discovery = clusterOfClusterInfo(await fs.readFile(path.join(worker.stateDir, "etc/kubernetes/discovery.conf"), "utf8"));
    expect(discovery).toEqual({ server: "https://192.0.2.10:6443", caPem: await fs.readFile(path.join(pki, "ca.crt"), "utf8") });
    // kubectl reads it as a kubeconfig with one cluster and no credentials.
    const view = await execa("kubectl", ["config", "view", "--kubeconfig", path.join(worker.stateDir, "etc/kubernetes/discovery.conf"), "-o", "jsonpath={.clusters[0].cluster.server} {.users}"], { env: { HOME: dir }, reject: false });
    expect(view.stdout.trim()).toBe("https://192.0.2.10:6443 null");

    // A second push changes nothing.
    const again = await runCli(["node", "push-pki", "--inventory", inventory, "--dir", cluster, "--kubeconfigs", "--discovery-file", ...sshFlags(), "-o", "json"]);
    expect((JSON.parse(again.stdout) as { files: { action: string }[] }[]).flatMap((host) => host.files).every((file) => file.action === "unchanged")).toBe(true);
  });

  it("a joining control plane's own leaves: kpki init with its node name and address against the same CAs", async () => {
    // The README's recipe: the shared files into a folder of the node's own, then kpki init there.
    const ownCluster = path.join(dir, "cp-2");
    const own = path.join(ownCluster, "pki");
    for (const file of SHARED_PKI_FILES) {
      await fs.mkdir(path.dirname(path.join(own, file)), { recursive: true });
      await fs.copyFile(path.join(pki, file), path.join(own, file));
    }
    const made = await runCli(["init", "--master-ip", "192.0.2.12", "--node-name", "cp-2", "--dir", ownCluster]);
    expect(made.exitCode, made.stderr).toBe(0);
    for (const file of SHARED_PKI_FILES) expect(await fs.readFile(path.join(own, file)), file).toEqual(await fs.readFile(path.join(pki, file)));
    const verify = await execa("openssl", ["verify", "-CAfile", path.join(pki, "ca.crt"), path.join(own, "apiserver.crt")], { reject: false });
    expect(verify.stdout).toMatch(/OK$/);
    const text = (await execa("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", path.join(own, "apiserver.crt")])).stdout;
    expect(text).toMatch(/DNS:cp-2/);
    expect(text).toMatch(/IP Address:192\.0\.2\.12/);
  });

  it("refuses bad input in one line and writes nothing to any host", async () => {
    const { join, worker } = hosts();
    const badRole = path.join(dir, "bad-role.yaml");
    await fs.writeFile(badRole, `hosts:\n  - { address: ${worker.address}, role: master }\n`);
    const empty = path.join(dir, "no-kubeconfigs");
    await fs.mkdir(empty, { recursive: true });
    const before = await Promise.all(lab.hosts.map(everything));
    const cases: [string[], RegExp][] = [
      [["--role", "master", worker.address], /role/],
      [["--inventory", badRole], /bad-role\.yaml:2: role must be one of control-plane-init, control-plane, worker/],
      [["--role", "worker", "--only", "ca.key", worker.address], /a worker gets nothing under \/etc\/kubernetes\/pki/],
      [["--role", "worker", "--kubeconfigs", worker.address], /a worker gets no kubeconfig with credentials/],
      [["--role", "control-plane", "--only", "apiserver.crt", join.address], /another node's certificates are wrong on a joining control plane/],
      [["--discovery-file", "--kubeconfig-dir", empty, worker.address], /--discovery-file needs the API server/],
      [["--discovery-file", "--server", "http://192.0.2.10:6443", worker.address], /must be https:\/\/HOST/],
      [["--target", "relative/pki", worker.address], /--target "relative\/pki" must be an absolute path/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(["node", "push-pki", "--dir", cluster, ...args, ...sshFlags()]);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(await Promise.all(lab.hosts.map(everything))).toEqual(before);
  });
});
