import { generateKeyPair, type KeyPair, type KeyType } from "./keys.js";

/**
 * Keys whose generation was started ahead of need. Key generation is nearly
 * all of `init`'s work and runs on the thread pool, so starting it before the
 * CLI and X.509 code load lets the two overlap.
 */
const pool = new Map<KeyType, Promise<KeyPair>[]>();

export function prestartKeys(type: KeyType, count: number): void {
  const list = pool.get(type) ?? [];
  for (let i = 0; i < count; i++) {
    const pending = generateKeyPair(type);
    pending.catch(() => {}); // an unused key's failure is nobody's concern
    list.push(pending);
  }
  pool.set(type, list);
}

/** A started key of this type if one is waiting, else a new one. */
export function takeKeyPair(type: KeyType): Promise<KeyPair> {
  return pool.get(type)?.shift() ?? generateKeyPair(type);
}
