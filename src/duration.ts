/**
 * Durations in Go's syntax (time.ParseDuration), which kubeadm's flags take:
 * "1.5h", "90m", "2h30m", "300ms"; plus d, w and y (24h, 7d, 365d), which
 * kpki's earlier flags took. Go's limits hold: no more than ~292 years
 * (int64 nanoseconds), and a sign only in front.
 */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000,
};
/** Go's time.Duration maximum, 2^63-1 ns, in milliseconds. */
export const MAX_DURATION_MS = 9_223_372_036_854.775;

export type DurationResult = { ms: number } | { problem: "syntax" | "negative" | "too-long" };

/** Parses a duration; says why it is not one. */
export function parseGoDuration(text: string): DurationResult {
  const value = text.trim();
  const match = value.match(/^([+-]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d|w|y))+|0)$/);
  if (!match) return { problem: "syntax" };
  let ms = 0;
  for (const part of match[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w|y)/g)) ms += Number(part[1]) * UNIT_MS[part[2]!]!;
  if (match[1] === "-" && ms > 0) return { problem: "negative" };
  if (ms > MAX_DURATION_MS) return { problem: "too-long" };
  return { ms: Math.round(ms) };
}

/** A duration flag's value in milliseconds, or one message saying what is wrong and what to give. */
export function durationOrProblem(flag: string, text: string, example: string): { ms: number } | { message: string } {
  const result = parseGoDuration(text);
  if ("ms" in result) return result;
  const why =
    result.problem === "negative"
      ? "cannot be negative"
      : result.problem === "too-long"
        ? "is longer than a duration can be (about 292 years)"
        : "is not a duration";
  return { message: `${flag} "${text}" ${why}: use Go's syntax, e.g. ${example} (units ns, us, ms, s, m, h, and d, w, y)` };
}
