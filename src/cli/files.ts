import { KpkiError } from "../errors.js";
import { checkInputSize, readBounded } from "../inputbounds.js";
import type { Io } from "./io.js";

/** What a positional "-" reaches a command as (see main.ts: yargs would drop it). */
export const STDIN_PATH = "/dev/stdin";

/** How errors name a file given on the command line. */
export const inputLabel = (file: string) => (file === "-" || file === STDIN_PATH ? "standard input" : file);

/** Reads a file named on the command line ("-" is standard input), with errors a user can act on. */
export async function readInput(file: string, io: Io): Promise<Buffer> {
  if (file === "-" || file === STDIN_PATH) {
    const data = await io.readStdin();
    checkInputSize(data, "standard input");
    return data;
  }
  try {
    return await readBounded(file);
  } catch (error) {
    if (error instanceof KpkiError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : code === "EACCES" ? "permission denied" : (error as Error).message;
    throw new KpkiError("input", `cannot read ${file}: ${reason}`);
  }
}

/** Like readInput, but a missing file is undefined rather than an error. */
export async function readOptional(file: string, io: Io): Promise<Buffer | undefined> {
  try {
    return await readInput(file, io);
  } catch (error) {
    if (error instanceof KpkiError && /no such file/.test(error.message)) return undefined;
    throw error;
  }
}

/** Options that give a token: on the command line, in a file (kept out of `ps`), or in KPKI_TOKEN. */
export const tokenOptions = {
  token: { type: "string", describe: "the bootstrap token (or --token-file, or KPKI_TOKEN in the environment)" },
  "token-file": { type: "string", describe: "read the token from this file" },
} as const;

export async function readTokenArg(args: { token?: string; tokenFile?: string }, io: Io): Promise<string> {
  const text = args.token ?? (args.tokenFile ? (await readInput(args.tokenFile, io)).toString().trim() : process.env.KPKI_TOKEN);
  if (!text) throw new KpkiError("usage", "give the token with --token, --token-file or KPKI_TOKEN");
  return text;
}
