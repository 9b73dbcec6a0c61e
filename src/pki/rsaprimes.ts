/**
 * An RSA private key from two primes, by the rules of FIPS 186-5 for random
 * probable primes (Appendix A.1.3; B.3.3 in FIPS 186-4) and for the key
 * (A.1.1). Pure
 * BigInt arithmetic: the primes come from elsewhere (Node's generatePrime, in
 * keygen.ts), and every rule a pair must meet is checked here before a key
 * is made from it.
 */

/** The public exponent kpki uses, as Go, kubeadm and OpenSSL do. */
export const RSA_PUBLIC_EXPONENT = 65537n;

/** The private key's numbers, as RFC 8017 names them. */
export interface RsaKeyValues {
  n: bigint;
  e: bigint;
  d: bigint;
  p: bigint;
  q: bigint;
  dp: bigint;
  dq: bigint;
  qi: bigint;
}

export type RsaRuleName = "prime-size" | "coprime" | "distance" | "modulus-size" | "private-exponent";

interface Candidate {
  p: bigint;
  q: bigint;
  nlen: number;
  e: bigint;
  /** λ(n) = lcm(p−1, q−1), when p, q > 1. */
  lambda?: bigint;
  /** e⁻¹ mod λ(n), when e is invertible there. */
  d?: bigint;
}

interface RsaRule {
  name: RsaRuleName;
  /** The rule as FIPS 186-5 states it, for errors and tests. */
  text: string;
  holds: (candidate: Candidate) => boolean;
}

const half = (nlen: number) => BigInt(nlen / 2);

/** √2·2^(nlen/2−1) ≤ x < 2^(nlen/2), compared exactly: x² ≥ 2^(nlen−1). */
const primeInRange = (x: bigint, nlen: number) => x > 0n && x * x >= 1n << BigInt(nlen - 1) && x < 1n << half(nlen);

/** Rules on one prime alone, so a generator can reject a bad prime before pairing it. */
const PRIME_RULES: readonly RsaRule[] = [
  {
    name: "prime-size",
    text: "p and q are each at least √2·2^(nlen/2−1) and below 2^(nlen/2)",
    holds: ({ p, q, nlen }) => primeInRange(p, nlen) && primeInRange(q, nlen),
  },
  {
    name: "coprime",
    text: "gcd(e, p−1) = gcd(e, q−1) = 1",
    holds: ({ p, q, e }) => gcd(e, p - 1n) === 1n && gcd(e, q - 1n) === 1n,
  },
];

/** Every rule a pair (and the key made from it) must meet, in the order FIPS 186-5 applies them. */
export const RSA_RULES: readonly RsaRule[] = [
  ...PRIME_RULES,
  {
    name: "distance",
    text: "|p − q| > 2^(nlen/2 − 100)",
    holds: ({ p, q, nlen }) => abs(p - q) > 1n << (half(nlen) - 100n),
  },
  {
    name: "modulus-size",
    text: "n = p·q has exactly nlen bits",
    holds: ({ p, q, nlen }) => bitLength(p * q) === nlen,
  },
  {
    name: "private-exponent",
    text: "2^(nlen/2) < d < lcm(p−1, q−1)",
    holds: ({ nlen, lambda, d }) => d !== undefined && lambda !== undefined && d > 1n << half(nlen) && d < lambda,
  },
];

/** The rules one prime breaks on its own (checked as if it were both p and q). */
export function primeProblems(prime: bigint, nlen: number, e = RSA_PUBLIC_EXPONENT): RsaRuleName[] {
  return PRIME_RULES.filter((rule) => !rule.holds({ p: prime, q: prime, nlen, e })).map((rule) => rule.name);
}

/** The rules a pair breaks; empty when a key may be made from it. */
export function rsaPairProblems(p: bigint, q: bigint, nlen: number, e = RSA_PUBLIC_EXPONENT): RsaRuleName[] {
  return problemsOf(candidateOf(p, q, nlen, e));
}

/** The pair with λ(n) and d worked out once, for the rules and the key alike. */
function candidateOf(p: bigint, q: bigint, nlen: number, e: bigint): Candidate {
  if (p <= 1n || q <= 1n) return { p, q, nlen, e };
  const lambda = lcm(p - 1n, q - 1n);
  // d = e⁻¹ mod λ(n) (A.1.1's λ(n), not φ(n): the smaller d FIPS 186-5 asks for).
  return { p, q, nlen, e, lambda, d: modInverse(e, lambda) };
}

const problemsOf = (candidate: Candidate) => RSA_RULES.filter((rule) => !rule.holds(candidate)).map((rule) => rule.name);

/** A pair of primes that breaks a rule of FIPS 186-5: the generator draws new primes. */
export class RsaRuleError extends Error {
  constructor(readonly rules: RsaRuleName[]) {
    super(`the primes break FIPS 186-5: ${rules.map((name) => RSA_RULES.find((rule) => rule.name === name)!.text).join("; ")}`);
    this.name = "RsaRuleError";
  }
}

/**
 * The private key of nlen bits made from primes p and q, or RsaRuleError
 * naming every rule they break. p is the larger, as OpenSSL orders them.
 */
export function rsaKeyFromPrimes(p: bigint, q: bigint, nlen: number, e = RSA_PUBLIC_EXPONENT): RsaKeyValues {
  const candidate = candidateOf(p > q ? p : q, p > q ? q : p, nlen, e);
  const problems = problemsOf(candidate);
  if (problems.length > 0) throw new RsaRuleError(problems);
  ({ p, q } = candidate);
  const d = candidate.d!;
  return { n: p * q, e, d, p, q, dp: d % (p - 1n), dq: d % (q - 1n), qi: modInverse(q, p)! };
}

/** The key as a JWK (RFC 7518 §6.3), the form Node's crypto imports without parsing DER. */
export function rsaJwk(key: RsaKeyValues): { kty: "RSA"; n: string; e: string; d: string; p: string; q: string; dp: string; dq: string; qi: string } {
  const { n, e, d, p, q, dp, dq, qi } = key;
  return { kty: "RSA", n: b64(n), e: b64(e), d: b64(d), p: b64(p), q: b64(q), dp: b64(dp), dq: b64(dq), qi: b64(qi) };
}

export function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

const lcm = (a: bigint, b: bigint) => (a / gcd(a, b)) * b;
const abs = (x: bigint) => (x < 0n ? -x : x);

/** x⁻¹ mod m by the extended Euclidean algorithm; undefined when gcd(x, m) ≠ 1. */
export function modInverse(x: bigint, m: bigint): bigint | undefined {
  let [oldR, r] = [((x % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) return undefined;
  return ((oldS % m) + m) % m;
}

export function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/** Unsigned big-endian, fewest octets, base64url (RFC 7518 §2's Base64urlUInt). */
function b64(x: bigint): string {
  const hex = x.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex").toString("base64url");
}
