import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { KpkiError } from "../../errors.js";

/** How to reach one host with the system's OpenSSH client. */
export interface SshHost {
  /** Address or name, as ssh takes it (the user's ~/.ssh/config applies). */
  address: string;
  port?: number;
  user?: string;
  identityFile?: string;
  /** Extra `-o Key=Value` options, passed through. */
  options?: readonly string[];
  /** Through sudo -n, over the session's setting (an inventory's ansible_become). */
  become?: boolean;
}

export interface SshSettings {
  connectTimeoutSeconds: number;
  /**
   * Keep each host's master connection open between calls (ControlPersist)
   * for commands that talk to a host several times in a row; a command that
   * sends one script per host leaves it off and saves a process per host.
   */
  persist?: boolean;
  /** StrictHostKeyChecking=accept-new: for fresh nodes; a changed key is still refused. */
  acceptNewHostKeys: boolean;
  /** Run the remote script through `sudo -n` (non-root users). */
  become: boolean;
  /** How long one host may take in all (--timeout); past it ssh is ended and the host gets its own "timeout" error. */
  timeoutSeconds?: number;
}

/** Why a host could not be worked on; `code` is stable for scripts. */
export type SshFailure = "timeout" | "unreachable" | "auth-refused" | "host-key-changed" | "host-key-unknown" | "sudo-refused" | "remote-failed";

export class SshError extends KpkiError {
  readonly failure: SshFailure;
  constructor(failure: SshFailure, message: string) {
    super("verify", message);
    this.failure = failure;
  }
}

/**
 * One multiplexed OpenSSH connection per host for the whole run
 * (ControlMaster in a private socket folder), in batch mode so nothing ever
 * waits on a prompt. Host keys are checked by OpenSSH itself, never turned off.
 */
export class SshSession {
  private readonly controlDir = mkdtempSync(path.join(tmpdir(), "kpki-ssh-"));
  private readonly opened = new Set<string>();

  constructor(private readonly settings: SshSettings) {}

  private args(host: SshHost): string[] {
    const args = [
      "-o", "BatchMode=yes",
      "-o", `ConnectTimeout=${this.settings.connectTimeoutSeconds}`,
      "-o", `StrictHostKeyChecking=${this.settings.acceptNewHostKeys ? "accept-new" : "yes"}`,
      "-o", "ControlMaster=auto",
      // %C hashes host, port and user: a short socket path whatever the address.
      "-o", `ControlPath=${path.join(this.controlDir, "%C")}`,
      "-o", `ControlPersist=${this.settings.persist ? "120" : "no"}`,
      "-o", "ServerAliveInterval=15",
    ];
    for (const option of host.options ?? []) args.push("-o", option);
    if (host.port) args.push("-p", String(host.port));
    if (host.identityFile) args.push("-i", host.identityFile, "-o", "IdentitiesOnly=yes");
    if (host.user) args.push("-l", host.user);
    return args;
  }

  /**
   * Runs a POSIX sh script on the host (sent on standard input, so nothing
   * secret shows in the process list) and returns its output.
   */
  async run(host: SshHost, script: string, options: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const become = host.become ?? this.settings.become;
    const remote = become ? "sudo -n sh -s" : "sh -s";
    this.opened.add(JSON.stringify(host));
    const result = await execa("ssh", [...this.args(host), host.address, remote], {
      input: script,
      reject: false,
      timeout: options.timeoutMs ?? (this.settings.timeoutSeconds ?? 300) * 1000,
      env: { LC_ALL: "C" },
      // The output as the host wrote it: fetchFile returns a file's bytes, its last newline included.
      stripFinalNewline: false,
    });
    const stderr = String(result.stderr ?? "");
    if (result.timedOut) {
      throw new SshError("timeout", `${describeHost(host)}: did not finish within ${options.timeoutMs ? `${options.timeoutMs / 1000} s` : `--timeout ${this.settings.timeoutSeconds ?? 300} s`} (a hung host or sshd, or raise --timeout); ssh was ended, and the script may have run in part`);
    }
    if (result.exitCode === 255) throw classify(host, stderr);
    if (become && /sudo: (a password is required|a terminal is required)/.test(stderr)) {
      throw new SshError("sudo-refused", `${host.address}: sudo needs a password there; allow ${host.user ?? "the user"} passwordless sudo, or connect as root`);
    }
    return { stdout: String(result.stdout ?? ""), stderr, exitCode: result.exitCode ?? -1 };
  }

  /** Closes every multiplexed connection and removes the socket folder. */
  async close(): Promise<void> {
    if (!this.settings.persist) {
      rmSync(this.controlDir, { recursive: true, force: true });
      return;
    }
    await Promise.all(
      [...this.opened].map((text) => {
        const host = JSON.parse(text) as SshHost;
        return execa("ssh", [...this.args(host), "-O", "exit", host.address], { reject: false, timeout: 5000 });
      }),
    );
    rmSync(this.controlDir, { recursive: true, force: true });
  }
}

const describeHost = (host: SshHost) => `${host.user ? `${host.user}@` : ""}${host.address}${host.port ? `:${host.port}` : ""}`;

function classify(host: SshHost, stderr: string): SshError {
  const where = describeHost(host);
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed.*\n?.*changed/i.test(stderr) || /HOST IDENTIFICATION HAS CHANGED/.test(stderr)) {
    return new SshError("host-key-changed", `${where}: its host key has CHANGED since it was recorded in known_hosts: either the host was rebuilt (remove the old key with ssh-keygen -R) or someone is in the middle; kpki will not connect`);
  }
  if (/Host key verification failed|No .* host key is known/i.test(stderr)) {
    return new SshError("host-key-unknown", `${where}: its host key is not in known_hosts: check it and add it, or pass --accept-new-host-keys for a fresh node`);
  }
  if (/Permission denied|Too many authentication failures|no mutual signature/i.test(stderr)) {
    return new SshError("auth-refused", `${where}: the key was refused (${stderr.trim().split("\n").at(-1)}): check --user and -i, and that the key is in the host's authorized_keys`);
  }
  if (/timed out during banner exchange|Connection timed out during/i.test(stderr)) {
    return new SshError("timeout", `${where}: accepted the connection but never answered SSH within --connect-timeout: a hung sshd or host`);
  }
  const reason = stderr.trim().split("\n").filter(Boolean).at(-1) ?? "ssh failed";
  return new SshError("unreachable", `${where}: cannot connect (${reason.replace(/^ssh: /, "")})`);
}
