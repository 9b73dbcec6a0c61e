/**
 * kpki certs check-expiration over SSH on real sshd test hosts: a control
 * plane with a whole kubeadm folder and two workers, every kubelet folder
 * holding kpki-made certificates with set expiries.
 */
import { promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectScript } from "../../src/bootstrap/node/fleetexpiry.js";
import { ansibleInventory } from "../support/ansibleinventory.js";
import { runCli } from "../support/cli.js";
import { leftovers, sshArgs, startTestHosts, testHostsAvailable, type HostSpec, type TestHosts } from "../support/testhosts/index.js";
import { tempDir } from "../support/tmp.js";

const skip = await testHostsAvailable();
if (skip) console.warn(`skipping the fleet expiry tests: ${skip}`);

const DAY = 86_400_000;

interface Entry {
  host: string;
  name: string;
  expirationDate: string;
  residualTime: number;
  caName?: string;
  externallyManaged: boolean;
  missing: boolean;
  problem?: string;
}

describe.skipIf(Boolean(skip))("kpki certs check-expiration across a fleet", () => {
  const dir = tempDir();
  let lab: TestHosts;
  let inventory: string;
  /** Every private key made for the hosts, to prove none of it ever comes back. */
  const keys: string[] = [];
  const kpki = async (...args: string[]) => {
    const result = await runCli(args);
    expect(result.exitCode, `${args.join(" ")}: ${result.stderr}`).toBe(0);
    return result;
  };
  const read = (file: string) => readFileSync(path.join(dir, file), "utf8");

  /** A kubelet's certificates as kubeadm join leaves them: the client cert+key in one file, kubelet.crt with its own CA. */
  async function kubeletFiles(node: string, clientDays: number, servingDays: number): Promise<Record<string, string>> {
    await kpki("cert", "csr", "--name", `${node}-client`, "--cn", `system:node:${node}`, "--org", "system:nodes", "--key-type", "ecdsa-p256", "--dir", dir);
    await kpki("cert", "sign", "--csr", path.join(dir, `${node}-client.csr`), "--profile", "client", "--dir", path.join(dir, "cp"), "--days", String(clientDays), "--out", path.join(dir, `${node}-client.crt`));
    await kpki("cert", "csr", "--name", `${node}-serving`, "--cn", node, "--san", node, "--key-type", "ecdsa-p256", "--dir", dir);
    await kpki("cert", "sign", "--csr", path.join(dir, `${node}-serving.csr`), "--profile", "server", "--dir", path.join(dir, "kubelet-ca"), "--days", String(servingDays), "--out", path.join(dir, `${node}-serving.crt`));
    keys.push(read(`${node}-client.key`), read(`${node}-serving.key`));
    const dated = "/var/lib/kubelet/pki/kubelet-client-2026-01-01-00-00-00.pem";
    return {
      [dated]: read(`${node}-client.crt`) + read(`${node}-client.key`),
      "/var/lib/kubelet/pki/kubelet-client-current.pem": `-> ${dated}`,
      "/var/lib/kubelet/pki/kubelet.crt": read(`${node}-serving.crt`) + read("kubelet-ca/pki/ca.crt"),
      "/var/lib/kubelet/pki/kubelet.key": read(`${node}-serving.key`),
    };
  }

  /** A worker's kubelet.conf as kubeadm join writes it: the CA embedded, the client certificate by path. */
  const workerKubeconfig = (caPem: string) =>
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- cluster:",
      `    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`,
      "    server: https://192.0.2.10:6443",
      "  name: kubernetes",
      "contexts:",
      "- context: {cluster: kubernetes, user: default-auth}",
      "  name: default-auth@kubernetes",
      "current-context: default-auth@kubernetes",
      "users:",
      "- name: default-auth",
      "  user:",
      "    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem",
      "    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem",
      "",
    ].join("\n");

  beforeAll(async () => {
    await kpki("init", "--master-ip", "192.0.2.10", "--node-name", "cp1", "--key-type", "ecdsa-p256", "--days", "300", "--dir", path.join(dir, "cp"));
    await kpki("init", "--master-ip", "192.0.2.10", "--only", "ca", "--ca-cn", "kubelet-ca", "--key-type", "ecdsa-p256", "--dir", path.join(dir, "kubelet-ca"));
    await kpki("init", "--master-ip", "192.0.2.10", "--only", "ca", "--ca-cn", "another-cluster", "--key-type", "ecdsa-p256", "--dir", path.join(dir, "other"));
    const controlPlane: Record<string, string> = {};
    for (const entry of await fs.readdir(path.join(dir, "cp"), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name.endsWith(".csr")) continue;
      const full = path.join(entry.parentPath, entry.name);
      controlPlane[`/etc/kubernetes/${path.relative(path.join(dir, "cp"), full)}`] = await fs.readFile(full, "utf8");
      if (entry.name.endsWith(".key")) keys.push(await fs.readFile(full, "utf8"));
    }
    const clusterCa = read("cp/pki/ca.crt");
    const hosts: HostSpec[] = [
      { flavour: "rocky9", name: "cp1", files: { ...controlPlane, ...(await kubeletFiles("cp1", 200, 100)) } },
      { flavour: "ubuntu2204", name: "w1", files: { "/etc/kubernetes/pki/ca.crt": clusterCa, "/etc/kubernetes/kubelet.conf": workerKubeconfig(clusterCa), ...(await kubeletFiles("w1", 20, 150)) } },
      // w2's kubelet.conf trusts another cluster's CA: flagged.
      { flavour: "debian12", name: "w2", files: { "/etc/kubernetes/pki/ca.crt": clusterCa, "/etc/kubernetes/kubelet.conf": workerKubeconfig(read("other/pki/ca.crt")), ...(await kubeletFiles("w2", 60, 90)) } },
    ];
    lab = await startTestHosts({ hosts });
    inventory = path.join(dir, "inventory.ini");
    await fs.writeFile(inventory, ansibleInventory(lab, { kube_control_plane: lab.hosts.slice(0, 1), kube_node: lab.hosts.slice(1) }));
  }, 120_000);

  afterAll(async () => {
    await lab?.stop();
    if (lab) expect(await leftovers(lab.footprint())).toEqual([]);
  }, 60_000);

  const expectNoKeys = (text: string) => {
    expect(text).not.toMatch(/PRIVATE KEY|client-key/);
    for (const key of keys) {
      const body = key.split("\n").filter((line) => line && !line.startsWith("-----"));
      for (const line of body) expect(text.includes(line.slice(0, 40)), "a private key's bytes").toBe(false);
    }
  };

  it("lists every certificate of every node with its host, in kubeadm's JSON schema plus host", async () => {
    const result = await runCli(["certs", "check-expiration", "--inventory", inventory, "-o", "json"]);
    expect(result.exitCode, result.stderr).toBe(0);
    const info = JSON.parse(result.stdout) as { kind: string; apiVersion: string; certificates: Entry[]; certificateAuthorities: Entry[] };
    expect(info.kind).toBe("CertificateExpirationInfo");
    expect(info.apiVersion).toBe("output.kubeadm.k8s.io/v1alpha3");
    const names = (host: string, list: Entry[]) => list.filter((entry) => entry.host === host).map((entry) => entry.name).sort();
    expect(names("cp1", info.certificates)).toEqual(
      [
        "admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client", "controller-manager.conf", "etcd-healthcheck-client", "etcd-peer", "etcd-server",
        "front-proxy-client", "kubelet-client-current.pem", "kubelet.conf", "kubelet.crt", "scheduler.conf", "super-admin.conf",
      ].sort(),
    );
    expect(names("cp1", info.certificateAuthorities)).toEqual(["ca", "etcd-ca", "front-proxy-ca", "kubelet.crt CA"]);
    for (const worker of ["w1", "w2"]) expect(names(worker, info.certificateAuthorities)).toEqual(["ca", "kubelet.crt CA"]);
    expect(names("w1", info.certificates)).toEqual(["kubelet-client-current.pem", "kubelet.crt"]);
    expect(names("w2", info.certificates)).toEqual(["kubelet-client-current.pem", "kubelet.conf", "kubelet.crt"]);
    const entry = (host: string, name: string) => info.certificates.find((candidate) => candidate.host === host && candidate.name === name)!;
    // The set expiries, to the day; kubeadm's fields and forms.
    for (const [host, client, serving] of [["cp1", 200, 100], ["w1", 20, 150], ["w2", 60, 90]] as const) {
      expect(Math.round(entry(host, "kubelet-client-current.pem").residualTime / 86_400)).toBe(client);
      expect(Math.round(entry(host, "kubelet.crt").residualTime / 86_400)).toBe(serving);
      expect(entry(host, "kubelet-client-current.pem")).toMatchObject({ caName: "ca", externallyManaged: false, missing: false });
      expect(entry(host, "kubelet.crt").caName).toBe("kubelet.crt CA");
    }
    expect(entry("cp1", "apiserver").expirationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Date.parse(entry("cp1", "apiserver").expirationDate) - (Date.now() + 300 * DAY))).toBeLessThan(DAY);
    expect(info.certificateAuthorities.find((ca) => ca.name === "ca")).not.toHaveProperty("caName");
    // Only the kubeconfig that trusts another CA is flagged.
    const flagged = [...info.certificates, ...info.certificateAuthorities].filter((candidate) => candidate.problem);
    expect(flagged.map((candidate) => `${candidate.host} ${candidate.name}`)).toEqual(["w2 kubelet.conf"]);
    expect(flagged[0]!.problem).toMatch(/embedded CA \(CN=another-cluster\) is not the cluster's/);
    expectNoKeys(result.stdout + result.stderr);
  });

  it("prints one table across the fleet, CAs included, and names the soonest", async () => {
    const hosts = lab.hosts.map((host) => host.address);
    const flags = ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`];
    const result = await runCli(["certs", "check-expiration", ...hosts, ...flags]);
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(/^HOST\s+CERTIFICATE\s+CA\s+EXPIRES\s+RESIDUAL TIME\s+EXTERNALLY MANAGED/);
    expect(result.stdout).toMatch(new RegExp(`${lab.hosts[0]!.address.replace(/\./g, "\\.")}\\s+etcd-ca\\s+-\\s+`));
    expect(result.stdout).toMatch(/kubelet\.conf\s+ca\s+.*! its embedded CA/);
    expect(result.stdout).toMatch(new RegExp(`soonest: ${lab.hosts[1]!.address.replace(/\./g, "\\.")} kubelet-client-current\\.pem, 19d`));
    expectNoKeys(result.stdout + result.stderr);
  });

  it("--fail-within gives one exit code: it trips on the certificate that expires soonest", async () => {
    const within = await runCli(["certs", "check-expiration", "--inventory", inventory, "--limit", "cp1,w1", "--fail-within", "30d"]);
    expect(within.exitCode).toBe(4);
    expect(within.stderr.trim()).toBe("kpki: 1 need attention within 30d: w1 kubelet-client-current.pem");
    const fine = await runCli(["certs", "check-expiration", "--inventory", inventory, "--limit", "cp1,w1", "--fail-within", "15d", "-o", "json"]);
    expect(fine.exitCode, fine.stderr).toBe(0);
    // Across the whole fleet the CA mismatch needs attention too, whatever the window.
    const all = await runCli(["certs", "check-expiration", "--inventory", inventory, "--fail-within", "1d"]);
    expect(all.exitCode).toBe(4);
    expect(all.stderr).toMatch(/w2 kubelet\.conf \(CA mismatch\)/);
  });

  it("brings back certificates only: the raw stream from a node carries no key", async () => {
    for (const host of lab.hosts) {
      const raw = await execa("ssh", sshArgs(host, "sh -s"), { input: collectScript(), reject: false });
      expect(raw.exitCode).toBe(0);
      expect(raw.stdout).toMatch(/BEGIN CERTIFICATE/);
      expectNoKeys(raw.stdout);
    }
  });

  it("a host that cannot be reached is its own failure, and the others are still read", async () => {
    const flags = ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`, "--connect-timeout", "2"];
    const result = await runCli(["certs", "check-expiration", lab.hosts[1]!.address, lab.unusedAddress, ...flags]);
    expect(result.exitCode).toBe(4);
    expect(result.stdout).toMatch(/kubelet-client-current\.pem/);
    expect(result.stdout).toMatch(new RegExp(`${lab.unusedAddress.replace(/\./g, "\\.")}: FAILED: .*cannot connect`));
    expect(result.stderr).toMatch(/1 of 2 host\(s\) could not be read/);
  });
});
