/**
 * OpenSSH pieces of a test host: ed25519 keys written in OpenSSH's own
 * format (no ssh-keygen process per host), the sshd_config, known_hosts lines
 * built from the host keys (no scanning), the client options, and a wait for
 * the server's banner.
 */
import { generateKeyPairSync } from "node:crypto";
import net from "node:net";

export interface KeyPair {
  /** OpenSSH private key file content ("BEGIN OPENSSH PRIVATE KEY"). */
  privateKey: string;
  /** One line: "ssh-ed25519 AAAA… comment". */
  publicKey: string;
}

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

/** A fresh ed25519 key pair in the openssh-key-v1 format (PROTOCOL.key), unencrypted. */
export function ed25519KeyPair(comment: string): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const seed = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  const pub = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  const check = uint32(Math.floor(Math.random() * 0xffffffff));
  let secret = Buffer.concat([
    check,
    check,
    sshString("ssh-ed25519"),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const padding = Buffer.from(Array.from({ length: (8 - (secret.length % 8)) % 8 }, (_, i) => i + 1));
  secret = Buffer.concat([secret, padding]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(publicBlob),
    sshString(secret),
  ]);
  const lines = body.toString("base64").match(/.{1,70}/g)!;
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${publicBlob.toString("base64")} ${comment}`,
  };
}

/** The server's configuration: key-only root login, no PAM, logs on stderr. */
export function sshdConfig(hostKeyPath: string): string {
  return `# kpki test host: key-only root login
ListenAddress 0.0.0.0
Port 22
HostKey ${hostKeyPath}
PermitRootLogin prohibit-password
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
PrintMotd no
PrintLastLog no
UseDNS no
PidFile none
MaxStartups 100:30:200
MaxSessions 64
LogLevel INFO
Subsystem sftp internal-sftp
`;
}

/** Key exchange the EL7/8/9 servers offer anyway, cheapest first (see testhosts.md). */
export const KEX_ALGORITHMS = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256";

/** Client `-o` options (flat argv) that reach a test host with exactly these files. */
export function clientOptions(identityFile: string, knownHostsFile: string): string[] {
  return [
    `UserKnownHostsFile=${knownHostsFile}`,
    "GlobalKnownHostsFile=/dev/null",
    `IdentityFile=${identityFile}`,
    "IdentitiesOnly=yes",
    "BatchMode=yes",
    "StrictHostKeyChecking=yes",
    `KexAlgorithms=${KEX_ALGORITHMS}`,
    "ConnectTimeout=5",
    "User=root",
    "Port=22",
    "LogLevel=ERROR",
  ].flatMap((option) => ["-o", option]);
}

/** An ssh_config block for one host (for `ssh -F FILE NAME` and `--ssh-option` users). */
export function sshConfigBlock(name: string, address: string, identityFile: string, knownHostsFile: string): string {
  const options = clientOptions(identityFile, knownHostsFile).filter((_, index) => index % 2 === 1);
  return [`Host ${name}`, `  HostName ${address}`, ...options.map((option) => `  ${option.replace("=", " ")}`), ""].join("\n");
}

/** Resolves once something at address:port sends an SSH banner; rejects after timeoutMs. */
export async function waitForBanner(address: string, port: number, timeoutMs: number, stillRunning: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer";
  while (Date.now() < deadline) {
    if (!stillRunning()) throw new Error(`sshd at ${address} exited before it answered`);
    const banner = await new Promise<string | Error>((resolve) => {
      const socket = net.connect({ host: address, port, timeout: 500 });
      let data = "";
      socket.on("data", (chunk) => {
        data += chunk.toString("latin1");
        if (data.includes("\n")) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.on("timeout", () => {
        socket.destroy();
        resolve(new Error("timeout"));
      });
      socket.on("error", (error) => resolve(error));
      socket.on("close", () => resolve(data || new Error("closed without a banner")));
    });
    if (typeof banner === "string" && banner.startsWith("SSH-2.0-")) return;
    lastError = banner instanceof Error ? banner.message : `unexpected banner ${JSON.stringify(banner)}`;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`sshd at ${address}:${port} did not answer within ${timeoutMs} ms (${lastError})`);
}
