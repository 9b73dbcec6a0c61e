import { KpkiError } from "../errors.js";
import { MAX_INPUT_BYTES } from "../inputbounds.js";

/** Where a command's output goes; tests pass their own. */
export interface Io {
  /** Bytes where a command's output is binary (node cloud-init's gzipped user-data). */
  stdout: (text: string | Uint8Array) => void;
  stderr: (text: string) => void;
  /** Standard input, for commands that read a CSR or a password from it. */
  readStdin: () => Promise<Buffer>;
  isTTY: boolean;
}

export const OUTPUT_FORMATS = ["text", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function processIo(): Io {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of process.stdin) {
        chunks.push(chunk as Buffer);
        total += (chunk as Buffer).length;
        if (total > MAX_INPUT_BYTES) break; // enough to say it is too big; the rest is never held
      }
      return Buffer.concat(chunks);
    },
    isTTY: Boolean(process.stdout.isTTY),
  };
}

export function printJson(io: Io, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** The one line a user sees for an error, and the exit code. */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof KpkiError) return { message: error.message, exitCode: error.exitCode };
  const message = error instanceof Error ? error.message : String(error);
  return { message: `internal error: ${message} (set KPKI_DEBUG=1 for details and please report it)`, exitCode: 1 };
}

/** Aligns rows of cells into columns, two spaces apart. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index]!))).join("  ").trimEnd())
    .join("\n");
}
