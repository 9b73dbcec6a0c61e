import { availableParallelism } from "node:os";
import { generateKeyPair, type KeyPair, type KeyType } from "./keys.js";

// Keys generate on libuv's thread pool. Twice the cores keeps the cores busy
// while the main thread loads code and signs (measured: no faster with more,
// a little slower with fewer), and starts the keys asked for first (the
// CAs') first.
const MAX_IN_FLIGHT = 2 * Math.max(1, availableParallelism());

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
  /** Keys asked for but not started yet. */
  private queued = 0;
  private inFlight = 0;

  constructor(private readonly type: KeyType) {}

  start(count: number): void {
    this.queued += count;
    this.pump();
  }

  private pump(): void {
    while (this.queued > 0 && this.inFlight < MAX_IN_FLIGHT) {
      this.queued--;
      this.inFlight++;
      generateKeyPair(this.type).then(
        (key) => {
          this.inFlight--;
          const waiter = this.waiting.shift();
          if (waiter) waiter.resolve(key);
          else this.ready.push(key);
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

  take(): Promise<KeyPair> {
    const key = this.ready.shift();
    if (key) return Promise.resolve(key);
    // Every key under way is promised to someone already: start one for this caller.
    if (this.queued + this.inFlight <= this.waiting.length) this.start(1);
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
