import { generateKeyPair, type KeyPair, type KeyType } from "./keys.js";

/**
 * Keys generated ahead of need, handed out in the order they finish. RSA
 * generation time varies several-fold from key to key, so whoever asks first
 * (init asks for its CAs first) gets the first key done, not a key that
 * happens to be slow: signing can start as soon as any CA key exists.
 * Generation runs on the thread pool, so starting it before the CLI and
 * X.509 code load lets the two overlap.
 */
class KeyFeed {
  private readonly ready: KeyPair[] = [];
  private readonly waiting: { resolve: (key: KeyPair) => void; reject: (error: unknown) => void }[] = [];
  private pending = 0;

  constructor(private readonly type: KeyType) {}

  start(count: number): void {
    for (let i = 0; i < count; i++) {
      this.pending++;
      generateKeyPair(this.type).then(
        (key) => {
          this.pending--;
          const waiter = this.waiting.shift();
          if (waiter) waiter.resolve(key);
          else this.ready.push(key);
        },
        (error) => {
          this.pending--;
          this.waiting.shift()?.reject(error);
        },
      );
    }
  }

  take(): Promise<KeyPair> {
    const key = this.ready.shift();
    if (key) return Promise.resolve(key);
    // Every key under way is promised to someone already: start one for this caller.
    if (this.pending <= this.waiting.length) this.start(1);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
}

const feeds = new Map<KeyType, KeyFeed>();
const feedFor = (type: KeyType) => feeds.get(type) ?? feeds.set(type, new KeyFeed(type)).get(type)!;

export function prestartKeys(type: KeyType, count: number): void {
  feedFor(type).start(count);
}

/** The next key of this type to finish: one started ahead if any, else a new one. */
export function takeKeyPair(type: KeyType): Promise<KeyPair> {
  return feedFor(type).take();
}
