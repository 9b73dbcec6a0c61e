import { generatePrime, KeyObject, sign, verify, webcrypto } from "node:crypto";
import { inputError } from "../errors.js";
import { generationAlgorithm, importAlgorithm, type KeyPair, type KeyType } from "./keys.js";
import { primeProblems, rsaJwk, rsaKeyFromPrimes, RsaRuleError } from "./rsaprimes.js";

/**
 * How RSA keys are made. `primes`: two primes from Node's generatePrime
 * (OpenSSL's random probable primes, on the thread pool), made into a key
 * by the FIPS 186-5 rules in rsaprimes.ts. `openssl`: OpenSSL's own RSA key
 * generator (for two-prime keys of 2048 bits and more, SP 800-56B with
 * auxiliary primes), for sites whose policy names it. ECDSA keys come from
 * OpenSSL either way.
 */
export const KEYGENS = ["primes", "openssl"] as const;
export type Keygen = (typeof KEYGENS)[number];
export const DEFAULT_KEYGEN: Keygen = "primes";

export function parseKeygen(value: string): Keygen {
  const normalized = value.trim().toLowerCase();
  if ((KEYGENS as readonly string[]).includes(normalized)) return normalized as Keygen;
  throw inputError(`unknown key generator "${value}": use one of ${KEYGENS.join(", ")}`);
}

/** The modulus length of an RSA key type, or undefined for ECDSA. */
export function rsaModulusLength(type: KeyType): number | undefined {
  const algorithm = generationAlgorithm(type);
  return "modulusLength" in algorithm ? algorithm.modulusLength : undefined;
}

/** Whether keys of this type are made from primes by kpki (else one call to OpenSSL makes each). */
export const usesPrimes = (type: KeyType, keygen: Keygen) => keygen === "primes" && rsaModulusLength(type) !== undefined;

const generatePrimeAsync = (bits: number) =>
  new Promise<bigint>((resolve, reject) => generatePrime(bits, { bigint: true }, (error, prime) => (error ? reject(error) : resolve(prime))));

// FIPS 186-5 A.1.3 gives up after 5·nlen/2 candidates; each draw here is
// already prime, and one fails only when 65537 divides p−1 (1 in 65537).
const MAX_PRIME_DRAWS = 16;

/**
 * One prime for an nlen-bit modulus, on the thread pool. OpenSSL sets the top
 * two bits of each candidate, so p ≥ 1.5·2^(nlen/2−1) > √2·2^(nlen/2−1), and
 * tests it with 64 Miller–Rabin rounds (for primes up to 2048 bits); a prime with
 * gcd(e, p−1) ≠ 1 is drawn again.
 */
export async function generateRsaPrime(nlen: number): Promise<bigint> {
  for (let draw = 0; draw < MAX_PRIME_DRAWS; draw++) {
    const prime = await generatePrimeAsync(nlen / 2);
    if (primeProblems(prime, nlen).length === 0) return prime;
  }
  throw new Error(`no usable ${nlen / 2}-bit prime in ${MAX_PRIME_DRAWS} draws`);
}

/**
 * The key pair made from two primes, imported by Node's own crypto and
 * self-tested. Throws RsaRuleError when the pair breaks a rule (too close,
 * or d too small: the caller draws again).
 */
export async function rsaKeyPairFromPrimes(type: KeyType, p: bigint, q: bigint): Promise<KeyPair> {
  const nlen = rsaModulusLength(type);
  if (nlen === undefined) throw new Error(`${type} is not an RSA key type`);
  const jwk = rsaJwk(rsaKeyFromPrimes(p, q, nlen));
  const algorithm = importAlgorithm(type);
  const [privateKey, publicKey] = await Promise.all([
    webcrypto.subtle.importKey("jwk", jwk, algorithm, true, ["sign"]),
    webcrypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e }, algorithm, true, ["verify"]),
  ]);
  return selfTested({ type, privateKey, publicKey, privateKeyObject: KeyObject.from(privateKey) });
}

// Each pair fails the distance or d rule with a probability below 2^−90.
const MAX_PAIR_DRAWS = 4;

/**
 * Generates a key pair. RSA keys come from two primes (or, with `openssl`,
 * from OpenSSL's generator); either way the work runs on Node's thread pool,
 * so several calls started together run concurrently.
 */
export async function generateKeyPair(type: KeyType, keygen: Keygen = DEFAULT_KEYGEN): Promise<KeyPair> {
  const nlen = rsaModulusLength(type);
  if (!usesPrimes(type, keygen) || nlen === undefined) {
    const pair = (await webcrypto.subtle.generateKey(generationAlgorithm(type), true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
    return selfTested({ type, privateKey: pair.privateKey, publicKey: pair.publicKey, privateKeyObject: KeyObject.from(pair.privateKey) });
  }
  for (let draw = 1; ; draw++) {
    const [p, q] = await Promise.all([generateRsaPrime(nlen), generateRsaPrime(nlen)]);
    try {
      return await rsaKeyPairFromPrimes(type, p, q);
    } catch (error) {
      if (!(error instanceof RsaRuleError) || draw >= MAX_PAIR_DRAWS) throw error;
    }
  }
}

const SELF_TEST_MESSAGE = Buffer.from("kpki key pair self-test");

/**
 * Signs once with the private key and verifies with the public one (FIPS
 * 140's pairwise consistency test), so no key that cannot sign is ever used.
 * Synchronous on purpose: a job on the thread pool would queue behind primes.
 */
export function selfTested(key: KeyPair): KeyPair {
  const publicKey = KeyObject.from(key.publicKey);
  const signature = sign("sha256", SELF_TEST_MESSAGE, key.privateKeyObject);
  if (!verify("sha256", SELF_TEST_MESSAGE, publicKey, signature)) throw new Error(`a generated ${key.type} key failed its self-test`);
  return key;
}
