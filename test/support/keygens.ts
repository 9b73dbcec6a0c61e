import type { Keygen } from "../../src/pki/keygen.js";
import { KEY_TYPES, type KeyType } from "../../src/pki/keys.js";

/**
 * The key types and generators the interop suites run: every type with the
 * default (RSA from primes), and RSA from OpenSSL's own generator
 * (`--keygen openssl`), so both kinds of key meet the same peers.
 */
export const KEYGEN_CASES: readonly (readonly [KeyType, Keygen])[] = [
  ...KEY_TYPES.map((type) => [type, "primes"] as const),
  ["rsa-2048", "openssl"],
  ["rsa-4096", "openssl"],
];
