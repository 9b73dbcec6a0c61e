import { execa } from "execa";

/** Runs openssl, returning its output; throws with stderr when it fails. */
export async function openssl(args: readonly string[], options: { cwd?: string; input?: string | Buffer } = {}) {
  const result = await execa("openssl", args, { reject: false, cwd: options.cwd, input: options.input, encoding: "utf8" });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
