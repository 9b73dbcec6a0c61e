/**
 * A folder lock that a killed run cannot wedge and two runs cannot share.
 *
 * - The lock file appears whole: its content (`pid@host nonce start=T
 *   boot=B`) is written to a temp file first and hard-linked into place, and
 *   link(2) fails when the name exists. So a lock is never seen empty; one
 *   that is (left by an older kpki, or a damaged disk) is stale, as is one
 *   whose process is gone.
 * - A PID alone does not name a process for long: after a kill -9 the PID is
 *   soon another process's, and after a reboot any PID may be. So the lock
 *   also records the holder's start time (field 22 of /proc/PID/stat, in
 *   clock ticks since boot) and the boot id; a lock whose PID now belongs to
 *   a process started at another time, or written before this boot, is
 *   stale. Where /proc is not there (not Linux), the PID is all there is.
 * - Breaking a stale lock is atomic. Deleting it outright is not: two runs
 *   that both judged it stale could each delete it, the second deleting the
 *   lock the first had just taken. So only the run that first creates a
 *   guard named after that very lock (its content and inode) may delete it,
 *   and only while the name still holds that same lock. A guard left by a
 *   run killed while breaking is itself stale and broken the same way.
 *
 * Node has no flock(2) and no well-kept package wraps it without a native
 * build; this needs only link, unlink, kill(pid, 0) and /proc.
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs, readFileSync } from "node:fs";
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

/** This boot's id, or undefined where the kernel does not say. */
function bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * When process `pid` started (clock ticks after boot), or undefined when it
 * cannot be read. Field 22 of /proc/PID/stat; the command name (field 2) is in
 * parentheses and may hold spaces and parentheses itself, so fields are
 * counted after its last ")".
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const field = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[22 - 3];
    return field && /^\d+$/.test(field) ? field : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A lock is stale when it names no process, or names this host and a process
 * that is gone, one started at another time than the holder (its PID reused),
 * or was written before this boot.
 */
export function isStaleHolder(content: string): boolean {
  const match = content.match(/^(\d+)@([^\s]*)(?:\s|$)/);
  if (!match) return true;
  if (match[2] !== hostname()) return false; // another host's run (a shared file system): only it can tell
  const pid = Number(match[1]);
  const recordedBoot = / boot=([0-9a-f-]+)(?:\s|$)/.exec(content)?.[1];
  const currentBoot = bootId();
  if (recordedBoot && currentBoot && recordedBoot !== currentBoot) return true;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return true; // EPERM: alive, another user's
  }
  const recordedStart = / start=(\d+)(?:\s|$)/.exec(content)?.[1];
  const currentStart = recordedStart ? processStartTime(pid) : undefined;
  return recordedStart !== undefined && currentStart !== undefined && recordedStart !== currentStart;
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

/** What this run writes into a lock: who it is (see isStaleHolder), and a nonce that makes its content its own. */
export function lockContent(): string {
  const start = processStartTime(process.pid);
  const boot = bootId();
  return [`${process.pid}@${hostname()}`, randomBytes(8).toString("hex"), ...(start ? [`start=${start}`] : []), ...(boot ? [`boot=${boot}`] : [])].join(" ");
}

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
