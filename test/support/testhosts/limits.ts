/**
 * Kernel limits that this machine's test hosts share, where a fleet of real
 * machines has one each. fs.inotify.max_user_instances caps the inotify
 * instances of all of root's processes here together: the count is charged up
 * the user-namespace tree, so no namespace gives a host a limit of its own.
 * Each host's containerd takes one for its CRI plugin's CNI config watcher;
 * at the default 128, the 129th containerd comes up without its CRI plugin
 * ("failed to create fsnotify watcher: too many open files", then crictl gets
 * "unknown service runtime.v1.RuntimeService") — a failure no host of a real
 * 200-node fleet has.
 *
 * So a run whose hosts need more than the headroom left raises the limit by
 * that shortfall, notes it in its folder, and gives it back when it stops (or
 * the reaper of stale runs does). Small runs, the usual ones, change nothing.
 * Runs at once each add and later subtract their own shortfall.
 */
import { promises as fs, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";

export const INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances";
/** A host's share: its containerd's watcher, and one spare. */
export const INOTIFY_PER_HOST = 2;
const RECORD = "inotify-raise";

/** How far the limit must rise for `hosts` more hosts (0: it need not). */
export function inotifyShortfall(limit: number, inUse: number, hosts: number): number {
  return Math.max(0, inUse + hosts * INOTIFY_PER_HOST - limit);
}

/** Inotify instances open on this machine now (every process's, a slight overcount of root's). */
function inotifyInUse(): number {
  let count = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone meanwhile
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === "anon_inode:inotify") count++;
      } catch {
        // closed meanwhile
      }
    }
  }
  return count;
}

const readLimit = async () => Number((await fs.readFile(INOTIFY_INSTANCES, "utf8")).trim());

/** Raises the limit for a run of `hosts` hosts if it must, noting by how much in runDir. */
export async function reserveInotify(runDir: string, hosts: number): Promise<number> {
  const limit = await readLimit();
  // Counting open instances costs a walk of /proc: only when the run could come near the limit.
  if (hosts * INOTIFY_PER_HOST <= limit / 2) return 0;
  const raise = inotifyShortfall(limit, inotifyInUse(), hosts);
  if (raise === 0) return 0;
  try {
    await fs.writeFile(INOTIFY_INSTANCES, `${limit + raise}\n`);
  } catch (error) {
    throw new Error(
      `${hosts} test hosts need ${hosts * INOTIFY_PER_HOST} inotify instances (one per containerd, and a spare) and ${INOTIFY_INSTANCES} is ${limit}: ` +
        `could not raise it (${(error as Error).message}); run fewer hosts at once`,
    );
  }
  // Noted after the write: a run killed in between leaves the limit raised (harmless), never lowered.
  await fs.writeFile(path.join(runDir, RECORD), `${raise}\n`);
  return raise;
}

/** Gives back what reserveInotify took for the run in runDir (nothing if it took nothing). */
export async function releaseInotify(runDir: string): Promise<void> {
  const record = path.join(runDir, RECORD);
  const raise = Number((await fs.readFile(record, "utf8").catch(() => "0")).trim());
  if (raise > 0) await fs.writeFile(INOTIFY_INSTANCES, `${Math.max(1, (await readLimit()) - raise)}\n`);
  await fs.rm(record, { force: true });
}
