import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { main } from "../../src/cli/main.js";
import type { Io } from "../../src/cli/io.js";

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout as the bytes written (binary output: node cloud-init's gzipped user-data); runCli only. */
  stdoutBytes?: Buffer;
}

/** Runs the CLI in this process, capturing its output. */
export async function runCli(args: readonly string[], options: { stdin?: string | Buffer; tty?: boolean } = {}): Promise<CliResult> {
  const stdout: Buffer[] = [];
  let stderr = "";
  const io: Io = {
    stdout: (text) => void stdout.push(Buffer.from(text)),
    stderr: (text) => void (stderr += text),
    readStdin: async () => Buffer.from(options.stdin ?? ""),
    isTTY: options.tty ?? false,
  };
  const exitCode = await main(args, io);
  const stdoutBytes = Buffer.concat(stdout);
  return { exitCode, stdout: stdoutBytes.toString("utf8"), stderr, stdoutBytes };
}

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The bin users run: it starts kpki from the startup snapshot the build made (see bin/kpki). */
export const binPath = path.join(repoRoot, "bin/kpki");

/** Runs the built bin as a user would (needs `npm run build`). */
export async function runBin(args: readonly string[], options: { cwd?: string; input?: string } = {}): Promise<CliResult> {
  const result = await execa(binPath, args, { reject: false, cwd: options.cwd, input: options.input });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}
