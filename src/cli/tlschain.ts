import type { DetailedPeerCertificate } from "node:tls";
import { KpkiError } from "../errors.js";
import { parseEndpoint } from "../pki/spec.js";

export interface ServerChain {
  host: string;
  port: number;
  servername?: string;
  /** The certificates the server presented, leaf first, as DER. */
  chain: Buffer[];
}

/**
 * The chain a TLS server presents (openssl s_client -showcerts), read without
 * trusting it: nothing is verified here, the caller says what it proves.
 */
export async function fetchServerChain(url: string, options: { servername?: string; timeoutMs: number }): Promise<ServerChain> {
  const { host, port } = parseEndpoint(url.replace(/^https:\/\//, "").replace(/\/.*$/, ""), 443, "the address");
  const address = host.value;
  const servername = options.servername ?? (host.type === "dns" ? address : undefined);
  return new Promise((resolve, reject) => {
    // Loaded on use: node:tls cannot be saved in the CLI's startup snapshot (src/cli/snapshot/entry.ts).
    const socket = process.getBuiltinModule("node:tls").connect({ host: address, port, servername, rejectUnauthorized: false, timeout: options.timeoutMs });
    const fail = (message: string) => {
      socket.destroy();
      reject(new KpkiError("verify", message));
    };
    socket.once("secureConnect", () => {
      const chain: Buffer[] = [];
      const seen = new Set<string>();
      // Walk the presented chain; Node links a self-signed root to itself.
      for (let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); cert?.raw && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
        seen.add(cert.fingerprint256);
        chain.push(cert.raw);
      }
      socket.end();
      if (chain.length === 0) return fail(`${address}:${port} presented no certificate`);
      resolve({ host: address, port, servername, chain });
    });
    socket.once("timeout", () => fail(`${address}:${port}: no TLS answer within ${options.timeoutMs / 1000} s`));
    socket.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "ECONNREFUSED" ? "refused the connection" : error.code === "ENOTFOUND" ? "is not a known host name" : error.message;
      fail(`${address}:${port} ${why}`);
    });
  });
}
