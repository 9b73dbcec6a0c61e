import { execa } from "execa";

const found = new Map<string, boolean>();

/**
 * Whether a real peer program is on PATH. On a developer's machine a missing
 * peer skips its suite with a printed reason; in CI (CI=true) it fails the
 * run, because .ci/run installs every peer.
 */
export async function havePeer(program: string, installHint: string): Promise<boolean> {
  if (!found.has(program)) {
    const result = await execa("sh", ["-c", `command -v ${program}`], { reject: false });
    found.set(program, result.exitCode === 0);
  }
  if (found.get(program)) return true;
  if (process.env.CI) throw new Error(`${program} is missing in CI: ${installHint}`);
  console.warn(`skipping: ${program} is not installed (${installHint})`);
  return false;
}
