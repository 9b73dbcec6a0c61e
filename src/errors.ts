/**
 * Errors a user can act on. The message is one line: what was wrong and what
 * to do. The CLI prints it without a stack trace and exits with `exitCode`.
 */
export type ErrorKind =
  | "usage" // bad flags or arguments
  | "input" // a file or value given was wrong
  | "conflict" // the PKI folder holds something kpki will not replace without --force
  | "verify" // a verification the user asked for failed
  | "io"; // the file system refused

const exitCodes: Record<ErrorKind, number> = {
  usage: 2,
  input: 2,
  conflict: 3,
  verify: 4,
  io: 5,
};

export class KpkiError extends Error {
  readonly kind: ErrorKind;
  private readonly code?: number;
  /** `exitCode` overrides the kind's code where a command documents its own (token verify). */
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options);
    this.name = "KpkiError";
    this.kind = kind;
    this.code = options?.exitCode;
  }
  get exitCode(): number {
    return this.code ?? exitCodes[this.kind];
  }
}

export const usageError = (message: string) => new KpkiError("usage", message);
export const inputError = (message: string) => new KpkiError("input", message);

/**
 * A value taken from the input, quoted for a message: a long one is cut, so
 * the message stays one readable line whatever the file held.
 */
export const quoted = (value: unknown, max = 80): string => {
  const text = String(value);
  return `"${text.length > max ? `${text.slice(0, max)}…" (${text.length} characters)` : `${text}"`}`;
};
