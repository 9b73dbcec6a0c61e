import { statSync } from "node:fs";
import { KpkiError, quoted } from "../errors.js";
import type { SshHost, SshSettings } from "../bootstrap/node/ssh.js";
import { dnsNameProblem, ipFamily } from "../pki/names.js";

/** The OpenSSH options every command that reaches nodes takes. */
export const sshOptions = {
  user: { type: "string", describe: "SSH user [default: ssh's: your ~/.ssh/config, else your login]" },
  port: { type: "number", describe: "SSH port [default: ssh's]" },
  identity: { alias: "i", type: "string", describe: "SSH private key file" },
  "ssh-option": { type: "string", array: true, describe: "extra ssh -o option (Key=Value), repeatable" },
  "accept-new-host-keys": { type: "boolean", default: false, describe: "accept the host key of a host seen for the first time (StrictHostKeyChecking=accept-new); a changed key is still refused" },
  become: { type: "boolean", default: false, describe: "run as root through sudo -n (for a non-root --user)" },
  "connect-timeout": { type: "number", default: 10, describe: "seconds to wait for a connection and the SSH banner" },
  timeout: { type: "number", default: 900, describe: "seconds one host may take in all; past it the host gets its own timeout error and the others go on" },
} as const;

export interface SshArgs {
  user?: string;
  port?: number;
  identity?: string;
  sshOption?: (string | number)[];
  acceptNewHostKeys: boolean;
  become: boolean;
  connectTimeout: number;
  timeout?: number;
}

/** [user@]host[:port], the host a name or an IP ([v6] with a port). */
export function parseHostSpec(text: string, args: SshArgs, flag = "host"): SshHost {
  let rest = text.trim();
  let user = args.user;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let port = args.port;
  const bracketed = rest.match(/^\[([^\]]+)\](?::(\d+))?$/);
  if (bracketed) {
    rest = bracketed[1]!;
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    const [host, portText] = rest.split(":") as [string, string];
    rest = host;
    port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new KpkiError("usage", `${flag} "${text}": the port must be a number from 1 to 65535`);
  }
  if (!ipFamily(rest)) {
    const problem = dnsNameProblem(rest.toLowerCase());
    if (problem || rest.includes("*")) throw new KpkiError("usage", `${flag} ${quoted(text)} is not a valid host name or IP address: ${problem ?? "no wildcards"}`);
  }
  if (user !== undefined && !/^[a-z_][a-z0-9_.-]*\$?$/i.test(user)) throw new KpkiError("usage", `${flag} "${text}": "${user}" is not a valid user name`);
  for (const option of args.sshOption ?? []) {
    if (!/^[A-Za-z]+=.+$/.test(String(option))) throw new KpkiError("usage", `--ssh-option "${option}" must be Key=Value, as ssh -o takes it`);
    if (/^StrictHostKeyChecking=(no|off)$/i.test(String(option))) {
      throw new KpkiError("usage", "--ssh-option StrictHostKeyChecking=no: kpki never turns host-key checking off; use --accept-new-host-keys for fresh nodes");
    }
  }
  return { address: rest, port, user, identityFile: args.identity, options: (args.sshOption ?? []).map(String) };
}

export function sshSettings(args: SshArgs): SshSettings {
  if (!Number.isInteger(args.connectTimeout) || args.connectTimeout < 1) throw new KpkiError("usage", "--connect-timeout must be a whole number of seconds, at least 1");
  // ssh itself only warns and goes on without the key; say so before any host is tried.
  if (args.identity !== undefined) checkKeyFile(args.identity, "-i");
  if (args.timeout !== undefined && (!Number.isFinite(args.timeout) || args.timeout <= 0)) throw new KpkiError("usage", "--timeout must be a number of seconds, more than 0");
  return { connectTimeoutSeconds: args.connectTimeout, acceptNewHostKeys: args.acceptNewHostKeys, become: args.become, timeoutSeconds: args.timeout };
}

function checkKeyFile(file: string, flag: string): void {
  try {
    if (!statSync(file).isFile()) throw new KpkiError("usage", `${flag} ${file}: it is a folder, not a key file`);
  } catch (error) {
    if (error instanceof KpkiError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new KpkiError("usage", `${flag} ${file}: ${code === "ENOENT" ? "no such key file" : code === "EACCES" ? "permission denied" : (error as Error).message}: give the SSH private key with -i`);
  }
}
