import { createHash, X509Certificate } from "node:crypto";
import type { Agent, RequestOptions } from "node:https";
import type { TLSSocket } from "node:tls";
import { KpkiError } from "../../errors.js";
import { caCertHash } from "../../pki/pin.js";

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** How to reach and trust an API server, and who to be. */
export interface ApiTarget {
  /** https://host:port */
  server: string;
  /** PEM of the CA to trust; undefined with `insecure`. */
  caPem?: string;
  /** Skip server verification (only when the user asked for it). */
  insecure?: boolean;
  /** Names the server certificate must cover instead of the URL's host. */
  tlsServerName?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  bearerToken?: string;
  timeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
  /** SHA-256 pins (sha256:<hex> over SPKI) of every certificate the server sent. */
  peerPins: string[];
}

/** Why a request failed before any HTTP answer; `code` is stable for scripts and exit codes. */
export type ConnectionFailure =
  | "tls-unknown-ca"
  | "tls-name-mismatch"
  | "tls-expired"
  | "tls-not-yet-valid"
  | "tls-other"
  | "refused"
  | "timeout"
  | "unresolved"
  | "unreachable";

export class ConnectionError extends KpkiError {
  readonly failure: ConnectionFailure;
  constructor(failure: ConnectionFailure, message: string) {
    super("verify", message);
    this.failure = failure;
  }
}

/** Checks an API server URL: https, a host, a port. */
export function checkApiServerUrl(text: string, flag = "--server"): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KpkiError("usage", `${flag} "${text}" is not a URL: give https://HOST:PORT, e.g. https://192.0.2.10:6443`);
  }
  if (url.protocol !== "https:") throw new KpkiError("usage", `${flag} "${text}" is not https: the API server only speaks TLS; give https://HOST:PORT`);
  if (!url.hostname) throw new KpkiError("usage", `${flag} "${text}" has no host`);
  return url;
}

function describeTlsError(error: NodeJS.ErrnoException, target: ApiTarget): ConnectionError {
  const host = new URL(target.server).host;
  switch (error.code) {
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "CERT_SIGNATURE_FAILURE":
      return new ConnectionError("tls-unknown-ca", `${host}'s certificate is not signed by the CA given (${error.code}): check --ca or --ca-hash is this cluster's`);
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return new ConnectionError("tls-name-mismatch", `${host}'s certificate does not cover the name or IP used (${error.message.replace(/^Hostname\/IP does not match certificate's altnames: /, "")}): use a name it lists, or re-issue it with that SAN (kpki init --san)`);
    case "CERT_HAS_EXPIRED":
      return new ConnectionError("tls-expired", `${host}'s certificate has expired: renew it (kpki certs renew apiserver)`);
    case "CERT_NOT_YET_VALID":
      return new ConnectionError("tls-not-yet-valid", `${host}'s certificate is not valid yet: check the clocks`);
    case "ECONNREFUSED":
      return new ConnectionError("refused", `${host} refused the connection: is kube-apiserver running and listening there?`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ConnectionError("unresolved", `${host}: the name does not resolve`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new ConnectionError("unreachable", `${host} is unreachable from here (${error.code})`);
    default:
      if (error.code?.startsWith("ERR_SSL") || error.code?.startsWith("ERR_TLS") || /certificate|SSL|TLS/i.test(error.message)) {
        return new ConnectionError("tls-other", `TLS with ${host} failed: ${error.message}`);
      }
      return new ConnectionError("unreachable", `${host}: ${error.message}`);
  }
}

export function spkiPin(certificate: X509Certificate): string {
  return `sha256:${createHash("sha256").update(certificate.publicKey.export({ type: "spki", format: "der" })).digest("hex")}`;
}

// One kept-alive connection per server and trust: a check's requests share one
// TLS handshake. Idle sockets are unref'd by Node, so they never hold the process.
const agents = new Map<string, Agent>();
// node:https and node:tls load on first use: their native parts cannot be
// saved in the CLI's startup snapshot (src/cli/snapshot/entry.ts).
const https = () => process.getBuiltinModule("node:https");
const tls = () => process.getBuiltinModule("node:tls");
function agentFor(target: ApiTarget): Agent {
  const key = JSON.stringify([target.server, target.caPem, target.insecure, target.tlsServerName, target.clientCertPem]);
  let agent = agents.get(key);
  if (!agent) agents.set(key, (agent = new (https().Agent)({ keepAlive: true, maxSockets: 1 })));
  return agent;
}

/**
 * One HTTPS request to an API server, TLS verified against the CA given
 * unless `insecure`. JSON in, JSON out. No retries: a check should report
 * what happened, not hide it.
 */
export function apiRequest(target: ApiTarget, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const url = new URL(path, target.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const options: RequestOptions = {
    method,
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port || 443,
    path: `${url.pathname}${url.search}`,
    headers: {
      Accept: "application/json",
      "User-Agent": "kpki",
      ...(payload ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {}),
      ...(target.bearerToken ? { Authorization: `Bearer ${target.bearerToken}` } : {}),
    },
    ca: target.caPem,
    rejectUnauthorized: !target.insecure,
    servername: target.tlsServerName ?? (/^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname),
    cert: target.clientCertPem,
    key: target.clientKeyPem,
    agent: agentFor(target),
    timeout: target.timeoutMs ?? 10_000,
  };
  if (target.tlsServerName) options.checkServerIdentity = (_host, cert) => tls().checkServerIdentity(target.tlsServerName!, cert);
  return new Promise((resolve, reject) => {
    const req = https().request(options, (response) => {
      const socket = response.socket as TLSSocket;
      const peerPins: string[] = [];
      let peer = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (peer?.raw && !seen.has(peer.fingerprint256)) {
        seen.add(peer.fingerprint256);
        // The pin over the certificate's own SPKI bytes, as kubeadm computes it: no key is
        // decoded from what the server sent (a hostile key can abort Node, see keyshape.ts).
        try {
          peerPins.push(caCertHash(peer.raw));
        } catch {
          // not DER: no pin to match
        }
        peer = peer.issuerCertificate;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        // No API answer kpki reads comes near this; a server that sends more is refused, not held in memory.
        if (received > MAX_RESPONSE_BYTES) {
          req.destroy();
          reject(new ConnectionError("unreachable", `${url.host} sent more than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB in one answer: not an API server kpki can use`));
          return;
        }
        chunks.push(chunk);
      });
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = undefined;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        resolve({ status: response.statusCode ?? 0, body: parsed, text, peerPins });
      });
      response.on("error", (error) => reject(describeTlsError(error, target)));
    });
    req.on("timeout", () => {
      req.destroy();
      reject(new ConnectionError("timeout", `${url.host} did not answer within ${(target.timeoutMs ?? 10_000) / 1000} s`));
    });
    req.on("error", (error: NodeJS.ErrnoException) => reject(error instanceof ConnectionError ? error : describeTlsError(error, target)));
    if (payload) req.write(payload);
    req.end();
  });
}
