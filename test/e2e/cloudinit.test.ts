/**
 * kpki node cloud-init: the user-data passes the real `cloud-init schema`,
 * stays under EC2's 16 KiB for every role and family, with a mirror and its
 * key too, carries the --format script once, and the real cloud-init, run on
 * fresh test hosts (NoCloud seed; its write_files, runcmd and scripts_user
 * modules), installs from the signed test repositories as the mirror and
 * leaves them ready by `kpki node check` over SSH.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { execa } from "execa";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderCloudConfig, USER_DATA_LIMIT_BYTES } from "../../src/bootstrap/node/provision.js";
import { resolveKubernetesVersion } from "../../src/bootstrap/node/versions.js";
import type { HostReport } from "../../src/bootstrap/node/index.js";
import { runCli } from "../support/cli.js";
import { havePeer } from "../support/peers.js";
import { buildTestRepos, containerdAvailable, debianSourceFiles, serveRepos, type RepoServer, type TestRepos } from "../support/repos/index.js";
import { makeKey, stopAgent } from "../support/repos/gpg.js";
import { leftovers, ssh, sshArgs, startTestHosts, testHostsAvailable, type HostSpec, type TestHost, type TestHosts } from "../support/testhosts/index.js";
import { tempDir } from "../support/tmp.js";

const haveCloudInit = await havePeer("cloud-init", "apt-get install cloud-init (scripts/install-peers)");
const skip = (await testHostsAvailable()) ?? containerdAvailable();
if (skip && process.env.CI) throw new Error(`the cloud-init boot test cannot run in CI: ${skip}`);
if (skip) console.warn(`skipping the cloud-init boot test: ${skip}`);

/** The command's output, as bytes (gzipped by default) and as the #cloud-config text. */
const userData = async (...args: string[]) => {
  const result = await runCli(["node", "cloud-init", ...args]);
  expect(result.exitCode, result.stderr).toBe(0);
  const bytes = result.stdoutBytes!;
  const text = args.includes("--no-gzip") || args.includes("script") ? result.stdout : gunzipSync(bytes).toString("utf8");
  return { bytes, text, stderr: result.stderr };
};

/** The script write_files puts on the node, decoded as cloud-init decodes it (gz+b64). */
const shippedScript = (text: string) => {
  const files = (parse(text) as { write_files: { path: string; encoding: string; content: string }[] }).write_files;
  expect(files.map((file) => [file.path, file.encoding])).toEqual([["/var/lib/kpki/node-prep.sh", "gz+b64"]]);
  return gunzipSync(Buffer.from(files[0]!.content, "base64")).toString("utf8");
};

describe.runIf(haveCloudInit)("kpki node cloud-init: user-data the real cloud-init accepts, under EC2's limit", () => {
  const dir = tempDir();
  let keyFile: string;

  beforeAll(async () => {
    // A mirror's signing key, as real as the test repositories' (RSA-2048).
    const key = await makeKey(dir, "mirror");
    await stopAgent(key);
    keyFile = path.join(dir, "mirror.asc");
    await fs.writeFile(keyFile, key.armored);
  });

  const schema = async (text: string) => {
    const file = path.join(dir, `user-data-${Math.random().toString(36).slice(2)}.yaml`);
    await fs.writeFile(file, text);
    return execa("cloud-init", ["schema", "--config-file", file], { reject: false });
  };

  it.each([
    ["--role", "worker"],
    ["--role", "control-plane", "--kubernetes-version", "1.33"],
    ["--role", "worker", "--no-firewall", "--ipv6", "--runtime", "containerd", "--no-gzip"],
  ])("passes cloud-init schema: %s %s", async (...args) => {
    const { text, stderr } = await userData(...args);
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    if (!args.includes("--no-gzip")) expect(stderr).toBe("");
    const checked = await schema(text);
    expect(checked.exitCode, checked.stdout + checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/Valid cloud-config/);
  });

  it("the schema check is real: the same user-data with a wrong encoding is refused", async () => {
    const { text } = await userData("--role", "worker");
    const checked = await schema(text.replace("encoding: gz+b64", "encoding: gz+b65"));
    expect(checked.exitCode).not.toBe(0);
    expect(checked.stdout + checked.stderr).toMatch(/encoding/);
  });

  const sizeCases = ["worker", "control-plane", "control-plane-init"].flatMap((role) =>
    [[], ["--os-family", "rhel"], ["--os-family", "debian"]].flatMap((family) => [
      ["--role", role, ...family],
      ["--role", role, ...family, "--package-mirror", "http://169.254.77.1:8080/k8s", "--package-mirror-key", "KEY"],
    ]),
  );
  it.each(sizeCases)("is under EC2's 16 KiB, without a warning: %s %s %s %s %s %s %s %s", async (...args) => {
    const { bytes, stderr } = await userData(...args.map((arg) => (arg === "KEY" ? keyFile : arg)));
    expect(bytes.length).toBeLessThan(USER_DATA_LIMIT_BYTES);
    expect(stderr).toBe("");
  });

  it("--no-gzip is the same #cloud-config as text, past EC2's limit, and says so", async () => {
    const gzipped = await userData("--role", "worker");
    const text = await userData("--role", "worker", "--no-gzip");
    expect(text.text).toBe(gzipped.text);
    expect(text.bytes.length).toBeGreaterThan(USER_DATA_LIMIT_BYTES);
    expect(text.stderr).toBe(`warning: the user-data is ${text.bytes.length} bytes, past the limit of 16384 (EC2 takes 16 KiB, Azure and OpenStack 64 KiB, GCE 256 KiB): leave out --no-gzip, ship --format script in the image, or fetch it with #include\n`);
  });

  it("says when the user-data is past a smaller limit, naming its size and the limit", () => {
    const options = { role: "worker", runtime: "auto", ipv6: false, firewall: true, kubernetes: resolveKubernetesVersion("1.33") } as const;
    const { bytes, warnings } = renderCloudConfig(options);
    expect(warnings).toEqual([]);
    expect(renderCloudConfig(options, { limitBytes: bytes - 1 }).warnings).toEqual([expect.stringMatching(new RegExp(`^the user-data is ${bytes} bytes gzipped, past the limit of ${bytes - 1} `))]);
    expect(renderCloudConfig(options, { limitBytes: bytes }).warnings).toEqual([]);
  });

  it("never writes the gzipped bytes to a terminal", async () => {
    const result = await runCli(["node", "cloud-init", "--role", "worker"], { tty: true });
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/gzip-compressed and standard output is a terminal: redirect it to a file \(> user-data\), or give --no-gzip/);
  });

  it("carries the --format script, plain shell, once: the node script in it once, run to prepare, then to check", async () => {
    for (const args of [["--role", "control-plane"], ["--role", "worker", "--package-mirror", "http://169.254.77.1:8080", "--package-mirror-key", keyFile]]) {
      const script = await userData(...args, "--format", "script");
      expect(script.text.startsWith("#!/bin/sh\n")).toBe(true);
      expect(shippedScript((await userData(...args)).text)).toBe(script.text);
      expect(script.text.match(/^step_packages\(\) \{$/gm)).toHaveLength(1);
      expect(script.text).toMatch(/^node_script apply >/m);
      expect(script.text).toMatch(/^node_script check >/m);
      for (const shell of ["sh", "bash"]) {
        const syntax = await execa(shell, ["-n"], { input: script.text, reject: false });
        expect(syntax.exitCode, syntax.stderr).toBe(0);
      }
    }
  });
});

const FRESH = { units: { kubelet: "absent", containerd: "absent", docker: "absent" } } as const;

describe.skipIf(Boolean(skip) || !haveCloudInit)("kpki node cloud-init run by the real cloud-init on fresh hosts, installing from a mirror", () => {
  const dir = tempDir("kpki-cloudinit-");
  let lab: TestHosts;
  let repos: TestRepos;
  let server: RepoServer;

  beforeAll(async () => {
    repos = await buildTestRepos(dir);
    lab = await startTestHosts({ hosts: (["rocky9", "debian12"] as const).map((flavour): HostSpec => ({ flavour, ...FRESH })) });
    server = await serveRepos(repos.root, lab.subnet.gateway);
    // The Debian host's own distribution repository (where `containerd` comes from) is on the mirror too.
    for (const host of lab.hosts.filter((candidate) => candidate.family === "debian")) {
      const script = Object.entries(debianSourceFiles(repos, server.url)).map(([file, content]) => `mkdir -p ${path.dirname(file)} && printf '%s' '${content}' > ${file}`).join(" && ");
      const written = await ssh(host, script);
      expect(written.exitCode, String(written.stderr)).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await lab?.stop();
    if (lab) expect(await leftovers(lab.footprint())).toEqual([]);
  }, 60_000);

  /**
   * A first boot by the real cloud-init from a NoCloud seed: its four stages
   * in order (init-local, init, config, final), the module lists cut to the
   * ones the user-data uses (write_files, runcmd, scripts_user) so nothing
   * else (users, ssh host keys, network) touches the test host. The seed is
   * the command's gzipped output, as a cloud would hand it over.
   */
  async function firstBoot(host: TestHost, bytes: Buffer) {
    const config = "datasource_list: [ NoCloud ]\nnetwork: {config: disabled}\ncloud_init_modules: [write_files]\ncloud_config_modules: []\ncloud_final_modules: [runcmd, scripts_user]\n";
    const seed = [
      "mkdir -p /var/lib/cloud/seed/nocloud /etc/cloud/cloud.cfg.d",
      `printf '${config}' > /etc/cloud/cloud.cfg.d/99-kpki-test.cfg`,
      "printf 'instance-id: kpki-test\\n' > /var/lib/cloud/seed/nocloud/meta-data",
      "cat > /var/lib/cloud/seed/nocloud/user-data",
    ].join(" && ");
    const written = await execa("ssh", sshArgs(host, seed), { input: bytes, reject: false });
    expect(written.exitCode, written.stderr).toBe(0);
    const results = [];
    for (const stage of ["init --local", "init", "modules --mode config", "modules --mode final"]) {
      results.push(await ssh(host, `cloud-init ${stage}`, { timeoutMs: 240_000 }));
    }
    return results;
  }

  it("installs from the mirror and leaves each fresh host ready by kpki node check over SSH, with the report in a file on the node", async () => {
    const flags = ["--user", "root", "--identity", lab.identityFile, "--ssh-option", `UserKnownHostsFile=${lab.knownHostsFile}`, "--kubernetes-version", "1.33"];
    const mirror = ["--package-mirror", server.url, "--package-mirror-key", repos.keyFile];
    const check = () => runCli(["node", "check", ...lab.hosts.map((host) => host.address), ...flags, ...mirror, "--role", "control-plane", "-o", "json"]);
    expect((await check()).exitCode).toBe(4);
    const { bytes, stderr } = await userData("--role", "control-plane", "--kubernetes-version", "1.33", ...mirror);
    expect(stderr).toBe("");
    expect(bytes.length).toBeLessThan(USER_DATA_LIMIT_BYTES);
    server.clearLog();
    for (const host of lab.hosts) {
      const runs = await firstBoot(host, bytes);
      for (const run of runs) expect(run.exitCode, `${host.name}: ${run.stdout}\n${run.stderr}`).toBe(0);
      const status = await ssh(host, "cloud-init status");
      expect(String(status.stdout), host.name).toMatch(/status: done/);
      const script = await ssh(host, "stat -c '%a %U' /var/lib/kpki/node-prep.sh");
      expect(String(script.stdout).trim()).toBe("700 root");
      const report = await ssh(host, "cat /var/log/kpki/node-prep.txt; stat -c '%a' /var/log/kpki/node-prep.txt");
      const text = String(report.stdout);
      expect(text, host.name).toMatch(/^kpki node prep: role control-plane, Kubernetes 1\.33, /);
      expect(text).toMatch(/changed\s+swap/);
      expect(text).toMatch(/changed\s+packages\s+.*installed/);
      expect(text).toMatch(/verdict: ready for kubeadm\n644$/);
      const installed = await ssh(host, host.family === "debian" ? "dpkg-query -W -f '${Version}' kubelet" : "rpm -q --qf '%{VERSION}' kubelet");
      expect(String(installed.stdout), host.name).toBe(host.family === "debian" ? "1.33.2-1.1" : "1.33.2");
    }
    // Every package came from the mirror, over the bridge, from the hosts.
    const fetched = server.requests().filter((request) => /\.(deb|rpm)$/.test(request.path));
    expect(new Set(fetched.map((request) => request.from))).toEqual(new Set(lab.hosts.map((host) => host.address)));
    expect(fetched.every((request) => request.status === 200)).toBe(true);
    const after = await check();
    expect(after.exitCode, after.stdout + after.stderr).toBe(0);
    for (const report of JSON.parse(after.stdout).hosts as HostReport[]) expect(report.ok, JSON.stringify(report.steps)).toBe(true);
    // The report on the node is the same KPKI lines kpki parses over SSH.
    const lines = await ssh(lab.hosts[0]!, "cat /var/log/kpki/node-check.report");
    expect(String(lines.stdout).split("\n").filter((line) => line.startsWith("KPKI\t")).length).toBeGreaterThan(5);
  }, 600_000);
});
