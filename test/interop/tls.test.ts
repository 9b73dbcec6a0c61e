import { readFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import tls from "node:tls";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../src/pki/keys.js";
import { runCli } from "../support/cli.js";
import { havePeer } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

// kpki's certificates in a real TLS handshake: Node's TLS stack (OpenSSL
// inside, with Node's own hostname check) and curl as clients.
const root = tempDir();
const hasCurl = await havePeer("curl", "apt-get install -y curl");
const KEY_TYPES_UNDER_TEST: KeyType[] = ["rsa-2048", "ecdsa-p256", "ecdsa-p384"];
const otherCaDir = path.join(root, "other", "pki");

const servers: https.Server[] = [];
afterAll(async () => {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** The CA + API server pair only: two keys, and no kubeconfigs in the shared root. */
async function init(dir: string, ...extra: string[]) {
  const result = await runCli(["init", "--master-ip", "192.0.2.10", "--dir", path.dirname(dir), "--only", "apiserver", ...extra]);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
}

/** An HTTPS server on 127.0.0.1 with a free port, closed in afterAll. */
async function startServer(options: https.ServerOptions): Promise<number> {
  const server = https.createServer(options, (request, response) => {
    const peer = (request.socket as tls.TLSSocket).getPeerCertificate();
    response.end(peer?.subject?.CN ? `hello ${peer.subject.CN}\n` : "ok\n");
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

interface Handshake {
  authorized?: boolean;
  protocol?: string | null;
  peerCN?: string;
  errorCode?: string;
  errorMessage?: string;
}

/** Connects with Node's default checks (rejectUnauthorized, checkServerIdentity) and reports how the handshake ended. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: true, ...options }, () => {
      const result = { authorized: socket.authorized, protocol: socket.getProtocol(), peerCN: String(socket.getPeerCertificate().subject?.CN) };
      socket.end();
      resolve(result);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ errorCode: error.code, errorMessage: error.message });
    });
  });
}

async function curl(args: readonly string[]) {
  // -q: no ~/.curlrc; --noproxy: never send 127.0.0.1 through a proxy from the environment.
  const result = await execa("curl", ["-q", "--silent", "--show-error", "--noproxy", "*", "--max-time", "20", ...args], {
    reject: false,
    encoding: "utf8",
    stdin: "ignore",
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

beforeAll(async () => {
  // Another PKI whose CA has the same name (CN=kubernetes) but another key.
  await init(otherCaDir);
});

describe.each(KEY_TYPES_UNDER_TEST)("a TLS server with kpki's API server certificate (%s)", (keyType) => {
  const dir = path.join(root, keyType, "pki");
  const file = (name: string) => path.join(dir, name);
  let ca: Buffer;
  let otherCa: Buffer;
  let port: number;

  beforeAll(async () => {
    await init(dir, "--key-type", keyType, "--san", "127.0.0.1");
    ca = readFileSync(file("ca.crt"));
    otherCa = readFileSync(path.join(otherCaDir, "ca.crt"));
    port = await startServer({ cert: readFileSync(file("apiserver.crt")), key: readFileSync(file("apiserver.key")) });
  });

  it("is trusted by a client that trusts only ca.crt, at the IP 127.0.0.1", async () => {
    const result = await handshake(port, { ca });
    expect(result.errorMessage).toBeUndefined();
    expect(result.authorized).toBe(true);
    expect(result.peerCN).toBe("kube-apiserver");
  });

  it("is trusted for the service name kubernetes.default.svc (SNI)", async () => {
    for (const servername of ["kubernetes.default.svc", "kubernetes", "kubernetes.default.svc.cluster.local"]) {
      const result = await handshake(port, { ca, servername });
      expect(result.errorMessage, servername).toBeUndefined();
      expect(result.authorized, servername).toBe(true);
    }
  });

  it("handshakes with TLS 1.2 as well as TLS 1.3", async () => {
    for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
      const result = await handshake(port, { ca, servername: "kubernetes.default.svc", minVersion: version, maxVersion: version });
      expect(result.errorMessage, version).toBeUndefined();
      expect(result.protocol).toBe(version);
    }
  });

  it("is refused by a client that trusts another CA of the same name", async () => {
    const result = await handshake(port, { ca: otherCa, servername: "kubernetes.default.svc" });
    expect(result.authorized).toBeUndefined();
    expect(result.errorCode).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_SIGNATURE_FAILURE)$/);
  });

  it("is refused by a client that trusts only the system CAs", async () => {
    const result = await handshake(port, { servername: "kubernetes.default.svc" });
    expect(result.errorCode).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
  });

  it("is refused for a name the certificate does not hold", async () => {
    const result = await handshake(port, { ca, servername: "evil.example.com" });
    expect(result.errorCode).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(result.errorMessage).toContain("evil.example.com");
  });

  it("is refused at an IP the certificate does not hold", async () => {
    // The certificate's IPs are 192.0.2.10, 10.96.0.1 and 127.0.0.1: check against another as if connected there.
    const result = await handshake(port, { ca, checkServerIdentity: (_host, cert) => tls.checkServerIdentity("192.0.2.11", cert) });
    expect(result.errorCode).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("serves as a client certificate to a server that requires one from ca.crt", async () => {
    const mtlsPort = await startServer({
      cert: readFileSync(file("apiserver.crt")),
      key: readFileSync(file("apiserver.key")),
      ca,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const response = await new Promise<string>((resolve, reject) => {
      const request = https.get(
        { host: "127.0.0.1", port: mtlsPort, path: "/", ca, cert: readFileSync(file("apiserver.crt")), key: readFileSync(file("apiserver.key")), agent: false },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve(body));
        },
      );
      request.on("error", reject);
    });
    expect(response).toBe("hello kube-apiserver\n");
    // Without a client certificate the server ends the handshake.
    const refused = await new Promise<boolean>((resolve) => {
      const request = https.get({ host: "127.0.0.1", port: mtlsPort, path: "/", ca, agent: false }, (res) => {
        res.resume();
        resolve(false);
      });
      request.on("error", () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  describe.skipIf(!hasCurl)("curl", () => {
    it("fetches https://127.0.0.1:PORT/ with --cacert ca.crt", async () => {
      const result = await curl(["--cacert", file("ca.crt"), `https://127.0.0.1:${port}/`]);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe("ok"); // execa strips the final newline
    });

    it("fetches https://kubernetes.default.svc:PORT/ resolved to 127.0.0.1", async () => {
      const result = await curl(["--cacert", file("ca.crt"), "--resolve", `kubernetes.default.svc:${port}:127.0.0.1`, `https://kubernetes.default.svc:${port}/`]);
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe("ok"); // execa strips the final newline
    });

    it("fails with exit 60 when it trusts another CA", async () => {
      const result = await curl(["--cacert", path.join(otherCaDir, "ca.crt"), `https://127.0.0.1:${port}/`]);
      expect(result.exitCode).toBe(60);
      expect(result.stdout).toBe("");
    });

    it("fails with exit 60 for a name the certificate does not hold", async () => {
      const result = await curl(["--cacert", file("ca.crt"), "--resolve", `evil.example.com:${port}:127.0.0.1`, `https://evil.example.com:${port}/`]);
      expect(result.exitCode).toBe(60);
      expect(result.stderr).toMatch(/evil\.example\.com/);
    });
  });
});
