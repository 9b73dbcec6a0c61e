// The floor for the full set on this machine: 16 RSA-2048 keys generated
// concurrently in one Node process (start-up included), nothing else.
import { webcrypto } from "node:crypto";

const algorithm = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
await Promise.all(Array.from({ length: Number(process.argv[2] ?? 16) }, () => webcrypto.subtle.generateKey(algorithm, true, ["sign"])));
