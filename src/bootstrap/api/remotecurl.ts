import { randomBytes } from "node:crypto";
import { ConnectionError, type ApiTarget, type ConnectionFailure } from "./apiclient.js";
import type { SshHost, SshSession } from "../node/ssh.js";
import type { Transport } from "./tokenverify.js";
import { shellQuote } from "../../shellquote.js";

// curl's exit codes for what `token verify` names (curl(1), EXIT CODES).
const CURL_FAILURES: Record<number, [ConnectionFailure, string]> = {
  6: ["unresolved", "the name does not resolve from the node"],
  7: ["refused", "the connection was refused from the node: is kube-apiserver listening there, and is the way open?"],
  28: ["timeout", "no answer from the node's side within the timeout (a firewall dropping packets?)"],
  35: ["tls-other", "the TLS handshake failed"],
  51: ["tls-name-mismatch", "the server certificate does not cover the name used"],
  60: ["tls-unknown-ca", "the server certificate did not verify against the CA (or its name does not match)"],
};


/**
 * The same checks run from a node: curl there, over the SSH session, with
 * the CA (or -k when asked) and the token sent in the script on standard
 * input — written to a 0600 curl config file (`-K`, which even CentOS 7's
 * curl 7.29 reads), never put on a command line the node's process list shows.
 */
export function remoteCurlTransport(session: SshSession, host: SshHost): Transport {
  return async (target: ApiTarget, method: string, path: string, body?: unknown) => {
    const marker = randomBytes(8).toString("hex");
    const url = new URL(path, target.server).toString();
    const lines = [
      "set -u",
      "umask 077",
      "d=$(mktemp -d) || exit 90",
      "trap 'rm -rf \"$d\"' EXIT",
      `cat > "$d/config" <<'${marker}'`,
      'header = "Accept: application/json"',
      ...(target.bearerToken ? [`header = "Authorization: Bearer ${target.bearerToken}"`] : []),
      ...(body !== undefined ? ['header = "Content-Type: application/json"'] : []),
      marker,
    ];
    const args = ["-sS", "--max-time", String(Math.ceil((target.timeoutMs ?? 10_000) / 1000)), "-X", method, "-K", "$d/config", "-o", "$d/body", "-w", "%{http_code}"];
    if (target.insecure) args.push("-k");
    else if (target.caPem) {
      lines.push(`cat > "$d/ca.crt" <<'${marker}'`, target.caPem.trim(), marker);
      args.push("--cacert", "$d/ca.crt");
    }
    if (body !== undefined) {
      lines.push(`cat > "$d/request" <<'${marker}'`, JSON.stringify(body), marker);
      args.push("--data-binary", "@$d/request");
    }
    lines.push(
      "command -v curl >/dev/null 2>&1 || { echo 'curl is not installed on the node' >&2; exit 91; }",
      `code=$(curl ${args.map((arg) => (arg.includes("$d") ? `"${arg}"` : shellQuote(arg))).join(" ")} ${shellQuote(url)})`,
      "status=$?",
      `printf '%s\\n' "$code"`,
      `[ -f "$d/body" ] && cat "$d/body"`,
      "exit $status",
    );
    const result = await session.run(host, `${lines.join("\n")}\n`);
    if (result.exitCode === 91) throw new ConnectionError("unreachable", `${host.address}: curl is not installed on the node: install it to check from there`);
    if (result.exitCode !== 0) {
      const [failure, text] = CURL_FAILURES[result.exitCode] ?? (["unreachable", `curl exit ${result.exitCode}`] as [ConnectionFailure, string]);
      throw new ConnectionError(failure, `from ${host.address}: ${text} (${result.stderr.trim().split("\n").at(-1) ?? ""})`);
    }
    const [statusLine = "0", ...rest] = result.stdout.split("\n");
    const text = rest.join("\n");
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: Number(statusLine), body: parsed, text };
  };
}
