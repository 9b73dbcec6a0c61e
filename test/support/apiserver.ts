import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";

/**
 * A small stand-in for kube-apiserver's front door, for tests where there is
 * no real one: HTTPS with the given serving certificate, and client
 * certificate authentication as kube-apiserver does it (x509 request
 * authenticator):
 * - the server asks for a client certificate and verifies it against the
 *   client CA (OpenSSL checks the chain, the dates and the clientAuth usage);
 * - a certificate that does not verify ends the connection before any HTTP
 *   (Go's VerifyClientCertIfGiven fails the handshake);
 * - no certificate at all is an anonymous request: 401 Status;
 * - the certificate's CN is the user name and each O a group, plus
 *   system:authenticated.
 * It answers GET /version, POST .../selfsubjectreviews (kubectl auth whoami)
 * and 404 for anything else, and records who it saw.
 */

export interface SeenRequest {
  method: string;
  path: string;
  /** Undefined for a request without a client certificate. */
  user?: string;
  groups: string[];
  status: number;
}

export interface RejectedHandshake {
  /** The presented certificate's CN. */
  commonName?: string;
  /** OpenSSL's reason, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
  error: string;
}

export interface TestApiServer {
  port: number;
  url: string;
  /** Requests that reached HTTP, in order. */
  seen: SeenRequest[];
  /** Connections ended because their client certificate did not verify. */
  rejected: RejectedHandshake[];
  /** Serve with this certificate and trust client certificates from `ca`. Until then every handshake fails. */
  useCredentials(credentials: { cert: Buffer; key: Buffer; ca: Buffer }): void;
  close(): Promise<void>;
}

export const VERSION_INFO = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0",
  gitCommit: "70d3cc986aa8221cd1dfb1121852688902d3bf53",
  gitTreeState: "clean",
  buildDate: "2024-12-11T17:59:15Z",
  goVersion: "go1.23.3",
  compiler: "gc",
  platform: "linux/amd64",
};

const status = (code: number, reason: string, message: string) => ({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });

const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
/** The subject's CN; with several, the last, as Go's pkix.Name keeps it. */
const commonName = (value: string | string[] | undefined): string | undefined => asList(value).at(-1);

/**
 * Starts listening on host:port (port 0: a free one) at once, so a test can
 * learn the port, make certificates naming it, then hand them over with
 * useCredentials.
 */
export async function startApiServer(options: { host?: string; port?: number } = {}): Promise<TestApiServer> {
  const host = options.host ?? "127.0.0.1";
  const seen: SeenRequest[] = [];
  const rejected: RejectedHandshake[] = [];

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket as TLSSocket;
    // A certificate that does not verify ends the connection (as Go's VerifyClientCertIfGiven
    // does in the handshake), even if a request raced the secureConnection check.
    if (!socket.authorized && Object.keys(socket.getPeerCertificate() ?? {}).length > 0) return void socket.destroy();
    const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
    const user = commonName(peer?.subject?.CN);
    const groups = user ? [...asList(peer!.subject.O), "system:authenticated"] : [];
    const path = (request.url ?? "/").split("?")[0]!;
    const reply = (code: number, body: unknown) => {
      seen.push({ method: request.method ?? "", path, user, groups, status: code });
      response.writeHead(code, { "Content-Type": "application/json" });
      response.end(`${JSON.stringify(body)}\n`);
    };
    // Drain any body first (kubectl auth whoami POSTs a SelfSubjectReview).
    request.resume();
    request.on("end", () => {
      if (!user) return reply(401, status(401, "Unauthorized", "Unauthorized"));
      if (request.method === "GET" && path === "/version") return reply(200, VERSION_INFO);
      if (request.method === "POST" && path === "/apis/authentication.k8s.io/v1/selfsubjectreviews") {
        return reply(201, {
          kind: "SelfSubjectReview",
          apiVersion: "authentication.k8s.io/v1",
          metadata: { creationTimestamp: null },
          status: { userInfo: { username: user, groups } },
        });
      }
      return reply(404, status(404, "NotFound", "the server could not find the requested resource"));
    });
  };

  // No certificate yet: handshakes fail until useCredentials.
  const server = https.createServer({ requestCert: true, rejectUnauthorized: false }, handle);
  server.on("secureConnection", (socket: TLSSocket) => {
    if (socket.authorized) return;
    const peer = socket.getPeerCertificate();
    if (peer && Object.keys(peer).length > 0) {
      rejected.push({ commonName: commonName(peer.subject?.CN), error: String(socket.authorizationError) });
      socket.destroy();
    }
  });
  server.on("tlsClientError", () => {
    // A client that gives up on our certificate: nothing to serve.
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    seen,
    rejected,
    useCredentials: ({ cert, key, ca }) => server.setSecureContext({ cert, key, ca }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
