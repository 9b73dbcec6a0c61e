import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { KEYGENS, type Keygen } from "../../src/pki/keygen.js";
import { takeKeyPair } from "../../src/pki/keypool.js";
import { encodePrivateKeyPem, type KeyType } from "../../src/pki/keys.js";
import { openssl } from "../support/openssl.js";
import { havePeer } from "../support/peers.js";
import { tempDir } from "../support/tmp.js";

const root = tempDir();
const hasOpenssl = await havePeer("openssl", "apt-get install -y openssl");

// How many keys openssl checks, per size and generator. KPKI_LONG_TESTS=1
// checks 200 of every kind; the default keeps CI's time down where keys are
// slow to make (RSA-4096, and OpenSSL's own generator, ~1.5 s a key).
const long = Boolean(process.env.KPKI_LONG_TESTS);
const COUNTS: Record<Keygen, Record<string, number>> = {
  primes: { "rsa-2048": 200, "rsa-3072": long ? 200 : 100, "rsa-4096": long ? 200 : 50 },
  openssl: { "rsa-2048": long ? 200 : 20, "rsa-3072": long ? 200 : 8, "rsa-4096": long ? 200 : 4 },
};

/** Runs `work` over items, `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

describe.skipIf(!hasOpenssl).each(KEYGENS.flatMap((keygen) => (["rsa-2048", "rsa-3072", "rsa-4096"] as KeyType[]).map((type) => [keygen, type] as const)))(
  "openssl checks kpki's keys (--keygen %s, %s)",
  (keygen, type) => {
    const count = COUNTS[keygen][type]!;
    const bits = type.slice(4);
    it(`${count} keys pass openssl rsa -check and are ${bits}-bit two-prime PKCS#1 keys`, { timeout: 900_000 }, async () => {
      const dir = path.join(root, `${keygen}-${type}`);
      await mkdir(dir);
      const keys = await Promise.all(Array.from({ length: count }, () => takeKeyPair(type, keygen)));
      const files = await Promise.all(
        keys.map(async (key, index) => {
          const file = path.join(dir, `${index}.key`);
          const pem = encodePrivateKeyPem(key);
          expect(pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
          await writeFile(file, pem, { mode: 0o600 });
          return file;
        }),
      );
      const failures: string[] = [];
      await eachLimited(files, availableParallelism(), async (file) => {
        const result = await openssl(["rsa", "-check", "-noout", "-text", "-in", file]);
        const ok = result.exitCode === 0 && result.stdout.includes("RSA key ok") && result.stdout.includes(`Private-Key: (${bits} bit, 2 primes)`);
        if (!ok) failures.push(`${path.basename(file)}: ${result.stderr.trim() || result.stdout.split("\n")[0]}`);
      });
      expect(failures).toEqual([]);
      // No two keys share a modulus.
      expect(new Set(keys.map((key) => key.privateKeyObject.export({ format: "jwk" }).n)).size).toBe(count);
    });
  },
);
