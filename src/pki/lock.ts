/**
 * A folder lock that a killed run cannot wedge and two runs cannot share.
 *
 * - The lock file appears whole: its content (`pid@host nonce`) is written to
 *   a temp file first and hard-linked into place, and link(2) fails when the
 *   name exists. So a lock is never seen empty; one that is (left by an older
 *   kpki, or a damaged disk) is stale, as is one whose process is gone.
 * - Breaking a stale lock is atomic. Deleting it outright is not: two runs
 *   that both judged it stale could each delete it, the second deleting the
 *   lock the first had just taken. So only the run that first creates a
 *   guard named after that very lock (its content and inode) may delete it,
 *   and only while the name still holds that same lock. A guard left by a
 *   run killed while breaking is itself stale and broken the same way.
 *
 * Node has no flock(2) and no well-kept package wraps it without a native
 * build; this needs only link, unlink and kill(pid, 0).
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";

export interface LockHolder {
  content: string;
  ino: number;
}

/** What a lock file says, or undefined when there is none. */
async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const handle = await fs.open(file, "r");
    try {
      const stat = await handle.stat();
      const content = (await handle.readFile({ encoding: "utf8" })).slice(0, 512);
      return { content, ino: stat.ino };
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return { content: "", ino: -1 }; // unreadable: nobody can be shown to hold it
  }
}

/** A lock is stale when it names no process, or a process of this host that is gone. */
export function isStaleHolder(content: string): boolean {
  const match = content.match(/^(\d+)@([^\s]*)(?:\s|$)/);
  if (!match) return true;
  if (match[2] !== hostname()) return false; // another host's run (a shared file system): only it can tell
  try {
    process.kill(Number(match[1]), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Creates `file` holding `content`, atomically and whole; false when it exists. */
async function createWhole(file: string, content: string): Promise<boolean> {
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await fs.writeFile(temp, content, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false; // as below
    throw error;
  }
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOENT: a lock holder swept our temp file as a killed run's leftover while it was still empty; try again.
    if (code === "EEXIST" || code === "ENOENT") return false;
    throw error;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

const guardOf = (file: string, holder: LockHolder) =>
  `${file}.break-${createHash("sha256").update(`${holder.ino}\0${holder.content}`).digest("hex").slice(0, 16)}`;

/**
 * One attempt at `file`: true when this run now holds it. A stale holder is
 * broken first (see the module comment); a live one is left alone.
 */
export async function tryAcquire(file: string, content: string, depth = 0): Promise<boolean> {
  if (await createWhole(file, content)) return true;
  const holder = await readHolder(file);
  if (!holder) return createWhole(file, content);
  if (!isStaleHolder(holder.content) || depth > 8) return false;
  const guard = guardOf(file, holder);
  if (!(await tryAcquire(guard, content, depth + 1))) return false;
  try {
    const now = await readHolder(file);
    if (now && now.ino === holder.ino && now.content === holder.content) await fs.rm(file, { force: true });
  } finally {
    await fs.rm(guard, { force: true });
  }
  return createWhole(file, content);
}

export const lockContent = () => `${process.pid}@${hostname()} ${randomBytes(8).toString("hex")}`;

/** Lock-related leftovers of killed runs (their temp files and guards), removed by the next lock holder. */
export async function removeStaleLockLeftovers(file: string): Promise<void> {
  const base = path.basename(file);
  const entries = await fs.readdir(path.dirname(file)).catch(() => [] as string[]);
  for (const name of entries) {
    if (!name.startsWith(`${base}.`)) continue;
    const leftover = path.join(path.dirname(file), name);
    const holder = await readHolder(leftover);
    if (holder && isStaleHolder(holder.content)) await fs.rm(leftover, { force: true });
  }
}
