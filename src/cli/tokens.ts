import { KpkiError } from "../errors.js";
import type { ApiTarget } from "../bootstrap/api/apiclient.js";
import type { SshHost, SshSession, SshSettings } from "../bootstrap/node/ssh.js";
import type { Transport } from "../bootstrap/api/tokenverify.js";
import { checkGroups, checkUsages, generateToken, parseToken, parseTtl, type TokenInfo, type TokenSpec } from "../bootstrap/api/token.js";
import { inputLabel, readInput } from "./files.js";
import { printJson, type Io } from "./io.js";

const splitList = (values: readonly unknown[]) => values.flatMap((value) => String(value).split(",")).map((value) => value.trim()).filter(Boolean);

/** A token to make, from the command line (kubeadm's flags and defaults). */
export function tokenSpecFrom(args: { ttl: string; usages: readonly unknown[]; groups: readonly unknown[]; description?: string }, given?: string): TokenSpec {
  const ttl = parseTtl(args.ttl);
  return {
    token: given ? parseToken(given, "token") : generateToken(),
    expires: ttl > 0 ? new Date(Date.now() + ttl) : undefined,
    usages: checkUsages(splitList(args.usages)),
    groups: checkGroups(splitList(args.groups)),
    description: args.description,
  };
}

function shortDuration(ms: number): string {
  if (ms <= 0) return "<invalid>";
  const hours = Math.floor(ms / 3_600_000);
  if (hours >= 48) return `${Math.floor(hours / 24)}d`;
  if (hours >= 1) return `${hours}h`;
  return `${Math.max(1, Math.floor(ms / 60_000))}m`;
}

/** kubeadm token list's columns; the secret half is not shown. */
export function formatTokenTable(tokens: readonly TokenInfo[], now: Date, table: (rows: string[][]) => string): string {
  const rows = tokens.map((token) => [
    `${token.id}.****************`,
    token.expires ? shortDuration(token.expires.getTime() - now.getTime()) : "<forever>",
    token.expires ? token.expires.toISOString().replace(/\.\d{3}Z$/, "Z") : "<never>",
    [...token.usages].sort().join(",") || "<none>",
    token.description ?? "<none>",
    token.groups.join(",") || "<none>",
  ]);
  return `${table([["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"], ...rows])}\n`;
}

export interface TokenVerifyArgs {
  server: string;
  token: string;
  caFile?: string;
  caHashes?: string[];
  insecure: boolean;
  tlsServerName?: string;
  path: string;
  kubeconfig?: string;
  timeoutMs: number;
  json: boolean;
  /** Run the check from this node over SSH. */
  from?: SshHost;
  ssh?: SshSettings;
}

export async function runTokenVerify(io: Io, args: TokenVerifyArgs): Promise<void> {
  const { checkApiServerUrl } = await import("../bootstrap/api/apiclient.js");
  parseToken(args.token);
  checkApiServerUrl(args.server);
  if (!args.path.startsWith("/")) throw new KpkiError("usage", `--path "${args.path}" must start with "/", e.g. /api`);
  const target: ApiTarget = { server: args.server, tlsServerName: args.tlsServerName, timeoutMs: args.timeoutMs };
  let session: SshSession | undefined;
  let transport: Transport | undefined;
  if (args.from) {
    const [ssh, { remoteCurlTransport }] = await Promise.all([import("../bootstrap/node/ssh.js"), import("../bootstrap/api/remotecurl.js")]);
    session = new ssh.SshSession({ ...args.ssh!, persist: true }); // several requests in a row from one node
    transport = remoteCurlTransport(session, args.from);
  }
  try {
    await verifyWith(io, args, target, transport);
  } finally {
    await session?.close();
  }
}

async function verifyWith(io: Io, args: TokenVerifyArgs, target: ApiTarget, transport?: Transport): Promise<void> {
  const [{ caFromPins, checkPin }, { verifyToken, OUTCOME_EXIT_CODES }, { targetFromKubeconfig }, { ConnectionError }] = await Promise.all([
    import("../bootstrap/api/trust.js"),
    import("../bootstrap/api/tokenverify.js"),
    import("../bootstrap/api/cluster.js"),
    import("../bootstrap/api/apiclient.js"),
  ]);
  const token = parseToken(args.token);
  let trust: "ca" | "pin" | "insecure";
  if (args.insecure) {
    trust = "insecure";
    target.insecure = true;
    io.stderr("kpki: WARNING: --insecure: the server's certificate is not checked, so whoever answers could be anyone; use --ca or --ca-hash\n");
  } else if (args.caFile) {
    trust = "ca";
    target.caPem = (await readCaFile(args.caFile, io)).pem;
  } else {
    trust = "pin";
    const pins = (args.caHashes ?? []).map((pin) => checkPin(pin));
    target.caPem = (await caFromPins(args.server, pins, args.timeoutMs, transport).catch((error) => {
      // Not reaching the server is its own outcome (refused, timeout: 24), not a pin mismatch (23).
      if (error instanceof ConnectionError) throw new KpkiError("verify", error.message, { exitCode: OUTCOME_EXIT_CODES[error.failure] });
      if (error instanceof KpkiError) throw new KpkiError("verify", error.message, { exitCode: OUTCOME_EXIT_CODES["tls-unknown-ca"] });
      throw error;
    })).pem;
  }
  const admin = args.kubeconfig ? targetFromKubeconfig(args.kubeconfig, undefined, false) : undefined;
  const check = await verifyToken({ target, trust, token, path: args.path, admin, transport });
  if (args.json) printJson(io, check);
  else {
    const from = args.from ? ` from ${args.from.address}` : "";
    const lines = [`${check.outcome === "authenticated" ? "OK" : "FAILED"}${from}: ${check.diagnosis}`, `  server ${check.server} (TLS: ${check.trust === "insecure" ? "NOT verified" : check.trust === "pin" ? "verified against the pinned CA" : "verified against --ca"})`];
    if (check.status !== undefined) lines.push(`  GET ${check.path} → HTTP ${check.status}`);
    if (check.causes.length > 0) lines.push(check.causes.length === 1 ? `  cause: ${check.causes[0]}` : "  possible causes:", ...(check.causes.length > 1 ? check.causes.map((cause) => `    - ${cause}`) : []));
    io.stdout(`${lines.join("\n")}\n`);
  }
  const exitCode = OUTCOME_EXIT_CODES[check.outcome];
  if (exitCode !== 0) throw new KpkiError("verify", `token ${token.id}: ${check.outcome}`, { exitCode });
}


/** A CA certificate named on the command line, and its pin; a file that is not one is the user's input error (2). */
export async function readCaFile(file: string, io: Io): Promise<{ pem: string; pin: string; subject: string }> {
  const { parseCertificate } = await import("../pki/certinfo.js");
  const { caOf } = await import("../bootstrap/api/trust.js");
  const cert = parseCertificate(await readInput(file, io), inputLabel(file));
  if (!cert.isCA) throw new KpkiError("input", `${inputLabel(file)} is not a CA certificate (${cert.subject}, no CA:TRUE): give the cluster CA, e.g. the cluster's pki/ca.crt`);
  return caOf(cert.pem);
}
