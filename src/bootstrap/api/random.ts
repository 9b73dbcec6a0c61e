import { randomBytes } from "node:crypto";

export const CHARSETS = {
  /** Bootstrap tokens: kubeadm's alphabet. */
  token: "0123456789abcdefghijklmnopqrstuvwxyz",
  alnum: "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  hex: "0123456789abcdef",
  base64url: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
} as const;
export type CharsetName = keyof typeof CHARSETS;

/**
 * `length` characters drawn uniformly from `alphabet` with the CSPRNG. A byte
 * maps to a character only when it falls below the largest multiple of the
 * alphabet's size; the rest are thrown away, so no character is likelier than
 * another (what `tr -cd … < /dev/urandom` and `% 36` get wrong).
 */
export function randomString(length: number, alphabet: string): string {
  if (alphabet.length < 2 || alphabet.length > 256) throw new Error("alphabet must hold 2 to 256 characters");
  const limit = 256 - (256 % alphabet.length);
  let result = "";
  while (result.length < length) {
    for (const byte of randomBytes(Math.max(16, (length - result.length) * 2))) {
      if (byte >= limit) continue;
      result += alphabet[byte % alphabet.length];
      if (result.length === length) break;
    }
  }
  return result;
}
