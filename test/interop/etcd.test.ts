import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { havePeer } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

// kpki's etcd certificates in a real etcd 3.4: a two-member cluster on
// 127.0.0.1 with client and peer TLS and client-certificate auth on both,
// as kubeadm's static etcd pod runs it; etcdctl and curl as clients.
const root = tempDir();
const hasEtcd = await havePeer("etcd", "apt-get install -y etcd-server etcd-client");
const hasEtcdctl = hasEtcd && (await havePeer("etcdctl", "apt-get install -y etcd-server etcd-client"));
const hasCurl = await havePeer("curl", "apt-get install -y curl");

const NODE = "etcd-test";
const EXTRA_SAN = "etcd.example.test";
const pki = path.join(root, "cluster", "pki");
const otherPki = path.join(root, "other", "pki");
const file = (name: string) => path.join(pki, name);
const READY_TIMEOUT_MS = 15_000;

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  log: string;
  process?: ChildProcess;
  exit?: Promise<void>;
  exited: boolean;
}

let members: Member[] = [];
const clientUrl = (member: Member) => `https://127.0.0.1:${member.clientPort}`;
const peerUrl = (member: Member) => `https://127.0.0.1:${member.peerPort}`;
const readLog = (member: Member) => {
  try {
    return readFileSync(member.log, "utf8");
  } catch {
    return "";
  }
};
const logTails = (lines = 30) =>
  members.map((member) => `--- etcd ${member.name} (${member.log}), last ${lines} lines ---\n${readLog(member).trimEnd().split("\n").slice(-lines).join("\n")}`).join("\n");

/** Free ports on 127.0.0.1: all bound at once (so they differ), then released for etcd. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function startMember(member: Member, cluster: readonly Member[]) {
  const fd = openSync(member.log, "w");
  const child = spawn(
    "etcd",
    [
      "--name", member.name,
      "--data-dir", member.dataDir,
      "--listen-client-urls", clientUrl(member),
      "--advertise-client-urls", clientUrl(member),
      "--listen-peer-urls", peerUrl(member),
      "--initial-advertise-peer-urls", peerUrl(member),
      "--initial-cluster", cluster.map((m) => `${m.name}=${peerUrl(m)}`).join(","),
      "--initial-cluster-state", "new",
      "--initial-cluster-token", "kpki-interop",
      // 2.5 times etcd's defaults: two cores shared with key generation must not cost the leader its lease.
      "--heartbeat-interval", "250",
      "--election-timeout", "2500",
      // Client and peer TLS exactly as kubeadm's etcd.yaml sets them.
      "--cert-file", file("etcd/server.crt"),
      "--key-file", file("etcd/server.key"),
      "--client-cert-auth",
      "--trusted-ca-file", file("etcd/ca.crt"),
      "--peer-cert-file", file("etcd/peer.crt"),
      "--peer-key-file", file("etcd/peer.key"),
      "--peer-client-cert-auth",
      "--peer-trusted-ca-file", file("etcd/ca.crt"),
    ],
    { stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  member.process = child;
  member.exited = false;
  member.exit = new Promise((resolve) => {
    child.once("exit", () => {
      member.exited = true;
      resolve();
    });
    child.once("error", () => {
      member.exited = true;
      resolve();
    });
  });
}

/**
 * Stops the members one at a time: a leader told to stop hands leadership to
 * a live peer first, and waits (about 7 s) when that peer is stopping too.
 * SIGTERM, then SIGKILL if it hangs.
 */
async function stopMembers() {
  for (const member of members) {
    if (!member.process || member.exited) continue;
    member.process.kill("SIGTERM");
    const stopped = await Promise.race([member.exit!.then(() => true), sleep(5_000).then(() => false)]);
    if (!stopped) {
      member.process.kill("SIGKILL");
      await member.exit;
    }
  }
  for (const member of members) rmSync(member.dataDir, { recursive: true, force: true });
}

/** GET over TLS with a client certificate, as a probe would. */
function getJson(url: string, client: { cert: string; key: string }, timeoutMs = 1_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      url,
      { ca: readFileSync(file("etcd/ca.crt")), cert: readFileSync(client.cert), key: readFileSync(client.key), agent: false, timeout: timeoutMs },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", reject);
  });
}

/** Starts the two members and polls /health on both until the cluster has a leader; retries on a port taken meanwhile. */
async function startCluster() {
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(4);
    members = ["m1", "m2"].map((name, index) => ({
      name,
      clientPort: ports[2 * index]!,
      peerPort: ports[2 * index + 1]!,
      dataDir: path.join(root, `data-${name}-${attempt}`),
      log: path.join(root, `etcd-${name}-${attempt}.log`),
      exited: false,
    }));
    for (const member of members) startMember(member, members);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = "";
    while (Date.now() < deadline && !members.some((member) => member.exited)) {
      const probes = await Promise.all(
        members.map((member) =>
          getJson(`${clientUrl(member)}/health`, { cert: file("etcd/healthcheck-client.crt"), key: file("etcd/healthcheck-client.key") }).then(
            (result) => (result.status === 200 && JSON.parse(result.body).health === "true" ? "" : `${member.name}: ${result.status} ${result.body}`),
            (error: Error) => `${member.name}: ${error.message}`,
          ),
        ),
      );
      lastError = probes.filter(Boolean).join("; ");
      if (!lastError) return;
      await sleep(200);
    }
    const logs = logTails();
    await stopMembers();
    if (attempt < 3 && /address already in use/.test(logs)) continue;
    throw new Error(`etcd did not become healthy within ${READY_TIMEOUT_MS / 1000} s (last probe: ${lastError || "a member exited"})\n${logs}`);
  }
}

/** Runs etcdctl (API v3) over TLS; `refusal` keeps the wait short where the handshake is expected to fail. */
async function etcdctl(args: readonly string[], client: { cert: string; key: string; cacert?: string }, endpoints = members.map(clientUrl), refusal = false) {
  const result = await execa(
    "etcdctl",
    [
      "--endpoints", endpoints.join(","),
      "--cacert", client.cacert ?? file("etcd/ca.crt"),
      "--cert", client.cert,
      "--key", client.key,
      // etcdctl reports a refused handshake only as a timeout, after --command-timeout.
      "--dial-timeout", "2s",
      "--command-timeout", refusal ? "2s" : "10s",
      ...args,
    ],
    { reject: false, encoding: "utf8", stdin: "ignore", env: { ETCDCTL_API: "3" } },
  );
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function curl(args: readonly string[]) {
  // -q: no ~/.curlrc; --noproxy: never send 127.0.0.1 through a proxy from the environment.
  const result = await execa("curl", ["-q", "--silent", "--show-error", "--noproxy", "*", "--max-time", "10", ...args], { reject: false, encoding: "utf8", stdin: "ignore" });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

const healthcheck = { cert: file("etcd/healthcheck-client.crt"), key: file("etcd/healthcheck-client.key") };
const apiserverClient = { cert: file("apiserver-etcd-client.crt"), key: file("apiserver-etcd-client.key") };
const frontProxyClient = { cert: file("front-proxy-client.crt"), key: file("front-proxy-client.key") };
const otherHealthcheck = { cert: path.join(otherPki, "etcd/healthcheck-client.crt"), key: path.join(otherPki, "etcd/healthcheck-client.key") };
const rejectedConnections = () => members.reduce((sum, member) => sum + (readLog(member).match(/rejected connection from .*certificate signed by unknown authority/g)?.length ?? 0), 0);

describe.skipIf(!hasEtcdctl)("a two-member etcd with kpki's etcd certificates", () => {
  beforeAll(async () => {
    const init = await runCli(["init", "--master-ip", "127.0.0.1", "--node-name", NODE, "--etcd-san", EXTRA_SAN, "--dir", path.dirname(pki)]);
    expect(init.stderr).toBe("");
    expect(init.exitCode).toBe(0);
    // Another etcd CA with the same name (CN=etcd-ca), and a healthcheck client it signed.
    const other = await runCli(["init", "--master-ip", "127.0.0.1", "--node-name", NODE, "--only", "etcd-healthcheck-client", "--dir", path.dirname(otherPki)]);
    expect(other.stderr).toBe("");
    expect(other.exitCode).toBe(0);
    await startCluster();
  });

  afterAll(stopMembers);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(logTails()));
  });

  it("lets the healthcheck client put a key and the API server's client read it back through the other member", async () => {
    const [first, second] = members;
    const put = await etcdctl(["put", "/kpki/interop", "hello from kpki"], healthcheck, [clientUrl(first!)]);
    // Not an empty stderr: a starved machine makes etcd re-elect, and etcdctl logs its retries there.
    expect(put.exitCode, put.stderr).toBe(0);
    expect(put.stdout).toBe("OK");
    // A linearizable read on the other member: the write went over the peer TLS link.
    const get = await etcdctl(["get", "/kpki/interop", "--print-value-only"], apiserverClient, [clientUrl(second!)]);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdout).toBe("hello from kpki");
  });

  it("lets the API server's etcd client put and get on both endpoints", async () => {
    const put = await etcdctl(["put", "/registry/kpki", "v1"], apiserverClient);
    expect(put.exitCode).toBe(0);
    const get = await etcdctl(["get", "/registry/kpki", "-w", "json"], apiserverClient);
    expect(get.exitCode).toBe(0);
    const kv = JSON.parse(get.stdout).kvs[0];
    expect(Buffer.from(kv.key, "base64").toString()).toBe("/registry/kpki");
    expect(Buffer.from(kv.value, "base64").toString()).toBe("v1");
  });

  it("accepts a client whose key OpenSSL's own generator made (--keygen openssl)", async () => {
    const dir = path.join(root, "openssl-keygen");
    const csr = await runCli(["cert", "csr", "--name", "client", "--cn", "kube-etcd-healthcheck-client", "--keygen", "openssl", "--dir", dir]);
    expect(csr.exitCode, csr.stderr).toBe(0);
    const signed = await runCli(["cert", "sign", "--csr", path.join(dir, "client.csr"), "--profile", "client", "--ca-cert", file("etcd/ca.crt"), "--ca-key", file("etcd/ca.key"), "--out", path.join(dir, "client.crt")]);
    expect(signed.exitCode, signed.stderr).toBe(0);
    const client = { cert: path.join(dir, "client.crt"), key: path.join(dir, "client.key") };
    const put = await etcdctl(["put", "/kpki/openssl-keygen", "v"], client);
    expect(put.exitCode, put.stderr).toBe(0);
    expect(put.stdout).toBe("OK");
  });

  it("reports every endpoint healthy over TLS", async () => {
    const result = await etcdctl(["endpoint", "health", "-w", "json"], healthcheck);
    expect(result.exitCode).toBe(0);
    const health = JSON.parse(result.stdout) as { endpoint: string; health: boolean; error?: string }[];
    expect(health.map((entry) => entry.endpoint).sort()).toEqual(members.map(clientUrl).sort());
    for (const entry of health) expect(entry, entry.endpoint).toMatchObject({ health: true });
  });

  it("lists both members with their TLS peer URLs", async () => {
    const result = await etcdctl(["member", "list", "-w", "json"], apiserverClient);
    expect(result.exitCode).toBe(0);
    const list = JSON.parse(result.stdout).members as { name: string; peerURLs: string[]; clientURLs: string[] }[];
    expect(list.map((member) => member.name).sort()).toEqual(["m1", "m2"]);
    for (const member of members) {
      const listed = list.find((candidate) => candidate.name === member.name)!;
      expect(listed.peerURLs).toEqual([peerUrl(member)]);
      expect(listed.clientURLs).toEqual([clientUrl(member)]);
    }
    // Both members agree on one leader, elected over the peer link.
    const status = await etcdctl(["endpoint", "status", "-w", "json"], apiserverClient);
    expect(status.exitCode).toBe(0);
    const leaders = new Set((JSON.parse(status.stdout) as { Status: { leader: string } }[]).map((entry) => String(entry.Status.leader)));
    expect(leaders.size).toBe(1);
  });

  it("refuses a client certificate from another CA (the front proxy's)", async () => {
    const before = rejectedConnections();
    const result = await etcdctl(["get", "/kpki/interop"], frontProxyClient, [clientUrl(members[0]!)], true);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/context deadline exceeded|certificate|tls/i);
    // etcd saw the handshake and refused the certificate, rather than etcdctl giving up on its own.
    expect(rejectedConnections()).toBeGreaterThan(before);
  });

  it("refuses a healthcheck client signed by another etcd CA of the same name", async () => {
    const before = rejectedConnections();
    const result = await etcdctl(["put", "/kpki/intruder", "x"], otherHealthcheck, [clientUrl(members[1]!)], true);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(rejectedConnections()).toBeGreaterThan(before);
    // Nothing was written.
    const check = await etcdctl(["get", "/kpki/intruder", "-w", "json"], healthcheck);
    expect(check.exitCode).toBe(0);
    expect(JSON.parse(check.stdout).kvs ?? []).toEqual([]);
  });

  it("is not trusted by a client that trusts another etcd CA", async () => {
    const result = await etcdctl(["get", "/kpki/interop"], { ...healthcheck, cacert: path.join(otherPki, "etcd/ca.crt") }, [clientUrl(members[0]!)], true);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
  });

  describe.skipIf(!hasCurl)("curl", () => {
    it("gets {\"health\":\"true\"} from /health with the healthcheck client", async () => {
      for (const member of members) {
        const result = await curl(["--cacert", file("etcd/ca.crt"), "--cert", healthcheck.cert, "--key", healthcheck.key, `${clientUrl(member)}/health`]);
        expect(result.stderr).toBe("");
        expect(result.exitCode).toBe(0);
        expect(JSON.parse(result.stdout)).toMatchObject({ health: "true" });
      }
    });

    it("trusts the serving certificate for the node name, localhost and --etcd-san", async () => {
      const port = members[0]!.clientPort;
      for (const name of [NODE, "localhost", EXTRA_SAN]) {
        const result = await curl([
          "--cacert", file("etcd/ca.crt"), "--cert", healthcheck.cert, "--key", healthcheck.key,
          "--resolve", `${name}:${port}:127.0.0.1`, `https://${name}:${port}/health`,
        ]);
        expect(result.stderr, name).toBe("");
        expect(JSON.parse(result.stdout)).toMatchObject({ health: "true" });
      }
      const wrong = await curl(["--cacert", file("etcd/ca.crt"), "--cert", healthcheck.cert, "--key", healthcheck.key, "--resolve", `evil.example.com:${port}:127.0.0.1`, `https://evil.example.com:${port}/health`]);
      expect(wrong.exitCode).toBe(60);
    });

    it("is refused without a client certificate, or with one from another CA", async () => {
      const url = `${clientUrl(members[0]!)}/health`;
      const anonymous = await curl(["--cacert", file("etcd/ca.crt"), url]);
      expect(anonymous.exitCode).not.toBe(0);
      expect(anonymous.stdout).toBe("");
      const foreign = await curl(["--cacert", file("etcd/ca.crt"), "--cert", frontProxyClient.cert, "--key", frontProxyClient.key, url]);
      expect(foreign.exitCode).not.toBe(0);
      expect(foreign.stdout).toBe("");
    });

    it("reaches the peer port with the peer certificate, and is refused there with another CA's", async () => {
      for (const member of members) {
        // The peer listener speaks HTTP/1.1 (rafthttp) for these paths.
        const version = await curl(["--http1.1", "--cacert", file("etcd/ca.crt"), "--cert", file("etcd/peer.crt"), "--key", file("etcd/peer.key"), `${peerUrl(member)}/version`]);
        expect(version.stderr).toBe("");
        expect(JSON.parse(version.stdout)).toMatchObject({ etcdserver: expect.stringMatching(/^3\./) });
        const peers = await curl(["--http1.1", "--cacert", file("etcd/ca.crt"), "--cert", file("etcd/peer.crt"), "--key", file("etcd/peer.key"), `${peerUrl(member)}/members`]);
        expect((JSON.parse(peers.stdout) as { name: string }[]).map((peer) => peer.name).sort()).toEqual(["m1", "m2"]);
      }
      const foreign = await curl(["--http1.1", "--cacert", file("etcd/ca.crt"), "--cert", otherHealthcheck.cert, "--key", otherHealthcheck.key, `${peerUrl(members[0]!)}/version`]);
      expect(foreign.exitCode).not.toBe(0);
      expect(foreign.stdout).toBe("");
    });
  });
});
