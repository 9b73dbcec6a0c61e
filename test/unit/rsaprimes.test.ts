import { checkPrimeSync, generatePrime, KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateKeyPair, generateRsaPrime, rsaKeyPairFromPrimes } from "../../src/pki/keygen.js";
import { bitLength, gcd, modInverse, RSA_PUBLIC_EXPONENT as e, RSA_RULES, rsaKeyFromPrimes, rsaPairProblems, RsaRuleError, type RsaRuleName } from "../../src/pki/rsaprimes.js";

const SIZES = [2048, 3072, 4096] as const;
/** Keys per size for the property tests; test/interop/rsakeys.test.ts checks hundreds more with openssl. */
const PROPERTY_KEYS: Record<number, number> = { 2048: 16, 3072: 4, 4096: 2 };

const prime = (bits: number, options: { add?: bigint; rem?: bigint } = {}) =>
  new Promise<bigint>((resolve, reject) => generatePrime(bits, { ...options, bigint: true }, (error, p) => (error ? reject(error) : resolve(p))));

/** The first prime at or above x. */
function nextPrime(x: bigint): bigint {
  let candidate = x % 2n ? x : x + 1n;
  while (!checkPrimeSync(candidate)) candidate += 2n;
  return candidate;
}

/** The rules rsaKeyFromPrimes names when it refuses a pair (fails the test when it accepts it). */
function refused(p: bigint, q: bigint, nlen: number): RsaRuleName[] {
  try {
    rsaKeyFromPrimes(p, q, nlen);
  } catch (error) {
    expect(error).toBeInstanceOf(RsaRuleError);
    expect((error as RsaRuleError).message).toMatch(/^the primes break FIPS 186-5: /);
    return (error as RsaRuleError).rules;
  }
  throw new Error("the pair was accepted");
}

const lambda = (p: bigint, q: bigint) => ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
const sqrt2Bound = (nlen: number) => (x: bigint) => x * x >= 1n << BigInt(nlen - 1);

describe.each(SIZES)("RSA-%i keys from primes hold every FIPS 186-5 rule", (nlen) => {
  it(`${PROPERTY_KEYS[nlen]} generated keys: primes, coprimality, distance, sizes, key values`, async () => {
    const keys = await Promise.all(Array.from({ length: PROPERTY_KEYS[nlen]! }, () => generateKeyPair(`rsa-${nlen}` as const)));
    const half = nlen / 2;
    for (const key of keys) {
      const jwk = key.privateKeyObject.export({ format: "jwk" });
      const [n, d, p, q, dp, dq, qi, pubE] = [jwk.n, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi, jwk.e].map((value) => BigInt(`0x${Buffer.from(value!, "base64url").toString("hex")}`)) as bigint[] as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
      // Primes: the top two bits set, so each is at least √2·2^(nlen/2−1) (openssl rsa -check tests primality).
      for (const x of [p, q]) {
        expect(bitLength(x)).toBe(half);
        expect(x >> BigInt(half - 2)).toBe(3n);
        expect(sqrt2Bound(nlen)(x)).toBe(true);
      }
      expect(pubE).toBe(65537n);
      // Coprimality.
      expect(gcd(e, p - 1n)).toBe(1n);
      expect(gcd(e, q - 1n)).toBe(1n);
      // Distance.
      expect(p > q ? p - q : q - p).toBeGreaterThan(1n << BigInt(half - 100));
      // Sizes.
      expect(n).toBe(p * q);
      expect(bitLength(n)).toBe(nlen);
      expect(key.privateKeyObject.asymmetricKeyDetails?.modulusLength).toBe(nlen);
      expect(d > 1n << BigInt(half)).toBe(true);
      // Key values: d = e⁻¹ mod λ(n) (less than λ, so not the φ(n) inverse), and the CRT values.
      expect(d < lambda(p, q)).toBe(true);
      expect((e * d) % lambda(p, q)).toBe(1n);
      expect(dp).toBe(d % (p - 1n));
      expect(dq).toBe(d % (q - 1n));
      expect((qi * q) % p).toBe(1n);
      expect(p > q).toBe(true);
    }
    // Every key is different: no prime is ever used twice.
    expect(new Set(keys.map((key) => key.privateKeyObject.export({ format: "jwk" }).p)).size).toBe(keys.length);
  });

  it("makes the same key from the same primes, and signs with it through WebCrypto", async () => {
    const [p, q] = await Promise.all([generateRsaPrime(nlen), generateRsaPrime(nlen)]);
    const key = await rsaKeyPairFromPrimes(`rsa-${nlen}` as const, p, q);
    const again = rsaKeyFromPrimes(q, p, nlen);
    expect(BigInt(`0x${Buffer.from(key.privateKeyObject.export({ format: "jwk" }).n!, "base64url").toString("hex")}`)).toBe(again.n);
    const { subtle } = globalThis.crypto;
    const data = Buffer.from("kpki");
    const signature = await subtle.sign("RSASSA-PKCS1-v1_5", key.privateKey, data);
    expect(await subtle.verify("RSASSA-PKCS1-v1_5", key.publicKey, signature, data)).toBe(true);
    expect(KeyObject.from(key.publicKey).asymmetricKeyDetails?.modulusLength).toBe(nlen);
  });
});

describe("each rule refuses the pair that breaks it", () => {
  const nlen = 2048;

  it("p = q", async () => {
    const p = await generateRsaPrime(nlen);
    expect(refused(p, p, nlen)).toContain("distance");
  });

  it("p and q too close: |p − q| ≤ 2^(nlen/2 − 100)", async () => {
    const p = await generateRsaPrime(nlen);
    let q = nextPrime(p + 2n);
    // One prime in 65536 also breaks gcd(e, q − 1) = 1: step past it, so that only the distance is wrong.
    while ((q - 1n) % 65537n === 0n) q = nextPrime(q + 2n);
    expect(refused(p, q, nlen)).toEqual(["distance"]);
    // The bound itself, exactly (the rule is arithmetic, so plain odd numbers show it).
    const bound = 1n << BigInt(nlen / 2 - 100);
    expect(rsaPairProblems(p, p + bound, nlen)).toContain("distance");
    expect(rsaPairProblems(p, p - bound, nlen)).toContain("distance");
    expect(rsaPairProblems(p, p + bound + 2n, nlen)).not.toContain("distance");
  });

  it("gcd(e, p − 1) ≠ 1", async () => {
    // A prime with p ≡ 1 (mod 2·65537), so 65537 divides p − 1; drawn until it has the right size.
    let p: bigint;
    do p = await prime(nlen / 2, { add: 2n * e, rem: 1n });
    while (!sqrt2Bound(nlen)(p));
    const q = await generateRsaPrime(nlen);
    expect((p - 1n) % e).toBe(0n);
    expect(refused(p, q, nlen)).toContain("coprime");
    expect(refused(q, p, nlen)).toContain("coprime");
    expect(refused(p, q, nlen)).not.toContain("prime-size");
  });

  it("a short modulus: primes of nlen/2 − 1 bits", async () => {
    const [p, q] = await Promise.all([prime(nlen / 2 - 1), prime(nlen / 2 - 1)]);
    const rules = refused(p, q, nlen);
    expect(rules).toContain("modulus-size");
    expect(rules).toContain("prime-size");
    expect(bitLength(p * q)).toBeLessThan(nlen);
  });

  it("a prime of nlen/2 bits below √2·2^(nlen/2−1)", async () => {
    const small = nextPrime((1n << BigInt(nlen / 2 - 1)) + 1n);
    const q = await generateRsaPrime(nlen);
    expect(refused(small, q, nlen)).toContain("prime-size");
    // One above the bound is fine: √2·2^1023 < 1.5·2^1023.
    expect(rsaPairProblems(nextPrime(3n << BigInt(nlen / 2 - 2)), q, nlen)).not.toContain("prime-size");
  });

  it("a prime of nlen/2 + 1 bits", async () => {
    const [big, q] = await Promise.all([prime(nlen / 2 + 1), generateRsaPrime(nlen)]);
    expect(refused(big, q, nlen)).toContain("prime-size");
  });

  it("d ≤ 2^(nlen/2)", () => {
    // With p − 1 = 4g and q − 1 = 5g, λ(n) = 20g is small enough that d is often
    // below 2^(nlen/2). Such pairs are too rare to find at 2048 bits, and the
    // rules do not depend on the size, so this one is shown at nlen = 256.
    const small = 256;
    // g in [3·2^124, 3.2·2^124): p = 4g+1 keeps its top two bits, q = 5g+1 its 128 bits.
    const start = 3n << BigInt(small / 2 - 4);
    let found = undefined as [bigint, bigint] | undefined;
    for (let g = start; !found && g < start + 1_000_000n; g++) {
      const [p, q] = [4n * g + 1n, 5n * g + 1n];
      if (q >= 1n << BigInt(small / 2) || !checkPrimeSync(p) || !checkPrimeSync(q)) continue;
      const problems = rsaPairProblems(p, q, small);
      if (problems.includes("private-exponent")) found = [p, q];
    }
    if (!found) throw new Error("no such pair in a million g");
    const [p, q] = found;
    expect(refused(p, q, small)).toEqual(["private-exponent"]);
    expect(modInverse(e, lambda(p, q))! <= 1n << BigInt(small / 2)).toBe(true);
  });

  it("names each rule as FIPS 186-5 states it", () => {
    expect(RSA_RULES.map((rule) => rule.name)).toEqual(["prime-size", "coprime", "distance", "modulus-size", "private-exponent"]);
    expect(new RsaRuleError(["distance"]).message).toBe("the primes break FIPS 186-5: |p − q| > 2^(nlen/2 − 100)");
  });
});

describe("modInverse and gcd", () => {
  it("agree with the definitions", () => {
    for (const [x, m] of [[3n, 7n], [65537n, 1n << 64n], [10n, 17n]] as const) {
      const inverse = modInverse(x, m)!;
      expect((x * inverse) % m).toBe(1n);
    }
    expect(modInverse(6n, 9n)).toBeUndefined();
    expect(gcd(12n, 18n)).toBe(6n);
    expect(gcd(-12n, 18n)).toBe(6n);
  });
});
