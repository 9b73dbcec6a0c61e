// The floor for kpki init's keys on this machine: two primes per RSA-2048
// key from Node's generatePrime, all started at once in one Node process
// (start-up included), nothing else. `keys` instead makes whole keys with
// OpenSSL's own generator (what --keygen openssl does).
import { generatePrime, webcrypto } from "node:crypto";

const count = Number(process.argv[2] ?? 16);
const mode = process.argv[3] ?? "primes";
const prime = () => new Promise((resolve, reject) => generatePrime(1024, { bigint: true }, (error, p) => (error ? reject(error) : resolve(p))));
const algorithm = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
const key = () => webcrypto.subtle.generateKey(algorithm, true, ["sign"]);
if (mode === "primes") await Promise.all(Array.from({ length: 2 * count }, prime));
else await Promise.all(Array.from({ length: count }, key));
