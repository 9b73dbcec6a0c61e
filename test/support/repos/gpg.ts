/**
 * Throwaway OpenPGP keys for the test repositories: a GnuPG home per key
 * under the build folder, an unprotected RSA signing key, and the agent
 * GnuPG starts stopped again (by gpgconf, for that home only).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";

export interface SigningKey {
  home: string;
  fingerprint: string;
  /** The public key, ASCII-armored (what apt's .asc keyrings and rpm --import read). */
  armored: string;
}

export async function makeKey(dir: string, name: string): Promise<SigningKey> {
  const home = path.join(dir, `gnupg-${name}`);
  await fs.mkdir(home, { recursive: true, mode: 0o700 });
  const gpg = (...args: string[]) => execa("gpg", ["--homedir", home, "--batch", "--quiet", ...args]);
  await gpg("--passphrase", "", "--quick-gen-key", `kpki test ${name} <${name}@kpki.test>`, "rsa2048", "sign", "never");
  const listed = await gpg("--with-colons", "--list-secret-keys");
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listed.stdout)?.[1];
  if (!fingerprint) throw new Error(`gpg made no key in ${home}: ${listed.stdout}`);
  const armored = (await gpg("--armor", "--export", fingerprint)).stdout + "\n";
  return { home, fingerprint, armored };
}

/** Runs gpg as the key's owner (signing). */
export function gpgAs(key: SigningKey, ...args: string[]) {
  return execa("gpg", ["--homedir", key.home, "--batch", "--quiet", "--yes", "--local-user", key.fingerprint, ...args]);
}

/** Stops the gpg-agent GnuPG started for this home (it outlives gpg otherwise). */
export async function stopAgent(key: SigningKey): Promise<void> {
  await execa("gpgconf", ["--homedir", key.home, "--kill", "all"], { reject: false });
}
