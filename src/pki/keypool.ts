import { generateKeyPair, generateRsaPrime, rsaKeyPairFromPrimes, rsaModulusLength, usesPrimes, DEFAULT_KEYGEN, type Keygen } from "./keygen.js";
import type { KeyPair, KeyType } from "./keys.js";
import { RsaRuleError } from "./rsaprimes.js";

// Work runs on libuv's thread pool (UV_THREADPOOL_SIZE threads, 4 by
// default), which also serves every file read, module load and WebCrypto
// call, first come first served. Keeping one thread out of prime work means
// none of those waits for a prime (tens of milliseconds each) to finish;
// three primes at once still keep two cores busy beside the main thread. The
// work not started yet waits in this queue, where the keys asked for first
// (the CAs') start first.
// Read when the pool first fills, not as the module loads (the startup
// snapshot would fix the build's environment).
const maxInFlight = () => Math.max(1, Math.min(1024, Math.max(1, Math.floor(Number(process.env.UV_THREADPOOL_SIZE)) || 4)) - 1);

/**
 * How a key is made from units of thread-pool work: two primes for RSA from
 * primes, one whole key otherwise.
 */
interface Recipe {
  unitsPerKey: number;
  unit: () => Promise<unknown>;
  assemble: (units: unknown[]) => Promise<KeyPair>;
}

function recipeFor(type: KeyType, keygen: Keygen): Recipe {
  const nlen = rsaModulusLength(type);
  if (usesPrimes(type, keygen) && nlen !== undefined) {
    return { unitsPerKey: 2, unit: () => generateRsaPrime(nlen), assemble: ([p, q]) => rsaKeyPairFromPrimes(type, p as bigint, q as bigint) };
  }
  return { unitsPerKey: 1, unit: () => generateKeyPair(type, keygen), assemble: ([key]) => Promise.resolve(key as KeyPair) };
}

/**
 * Keys generated ahead of need, handed out in the order they finish. Prime
 * (and key) generation time varies several-fold, so whoever asks first (init
 * asks for its CAs first) gets the first key done, made from whichever two
 * primes finished first, not one that waits on a slow prime: signing can
 * start as soon as any CA key exists. Generation runs on the thread pool, so
 * starting it before the CLI and X.509 code load lets the two overlap.
 */
class KeyFeed {
  private readonly units: unknown[] = [];
  private readonly waiting: { resolve: (key: KeyPair) => void; reject: (error: unknown) => void }[] = [];
  /** Units asked for but not started yet. */
  private queued = 0;
  private inFlight = 0;
  private readonly recipe: Recipe;
  private readonly maxInFlight = maxInFlight();

  constructor(type: KeyType, keygen: Keygen) {
    this.recipe = recipeFor(type, keygen);
  }

  /** Starts the work for `count` keys. */
  start(count: number): void {
    this.queued += count * this.recipe.unitsPerKey;
    this.pump();
  }

  private pump(): void {
    while (this.queued > 0 && this.inFlight < this.maxInFlight) {
      this.queued--;
      this.inFlight++;
      this.recipe.unit().then(
        (unit) => {
          this.inFlight--;
          this.units.push(unit);
          this.handOut();
          this.pump();
        },
        (error) => {
          this.inFlight--;
          this.waiting.shift()?.reject(error);
          this.pump();
        },
      );
    }
  }

  /** Makes a key for the first waiter from the first units done. */
  private handOut(): void {
    const { unitsPerKey } = this.recipe;
    while (this.waiting.length > 0 && this.units.length >= unitsPerKey) {
      const waiter = this.waiting.shift()!;
      const units = this.units.splice(0, unitsPerKey);
      this.recipe.assemble(units).then(waiter.resolve, (error) => {
        if (!(error instanceof RsaRuleError)) return waiter.reject(error);
        // A pair that breaks a rule (below 2^−90 a pair) is dropped, never reused: draw two more.
        this.waiting.unshift(waiter);
        this.start(1);
        this.handOut();
      });
    }
  }

  take(): Promise<KeyPair> {
    const key = new Promise<KeyPair>((resolve, reject) => this.waiting.push({ resolve, reject }));
    // Every unit under way is promised to someone already: start this caller's.
    const short = this.waiting.length * this.recipe.unitsPerKey - (this.units.length + this.queued + this.inFlight);
    if (short > 0) {
      this.queued += short;
      this.pump();
    }
    this.handOut();
    return key;
  }
}

const feeds = new Map<string, KeyFeed>();
function feedFor(type: KeyType, keygen: Keygen): KeyFeed {
  const name = `${type}/${usesPrimes(type, keygen) ? "primes" : "openssl"}`;
  return feeds.get(name) ?? feeds.set(name, new KeyFeed(type, keygen)).get(name)!;
}

/** Forgets every key started and every feed (the startup snapshot's warm-up: no key is carried into a snapshot). */
export function clearKeyPool(): void {
  feeds.clear();
}

/** Starts generating `count` keys of this type before anyone asks for them. */
export function prestartKeys(type: KeyType, count: number, keygen: Keygen = DEFAULT_KEYGEN): void {
  feedFor(type, keygen).start(count);
}

/** The next key of this type to finish: one started ahead if any, else a new one. */
export function takeKeyPair(type: KeyType, keygen: Keygen = DEFAULT_KEYGEN): Promise<KeyPair> {
  return feedFor(type, keygen).take();
}
