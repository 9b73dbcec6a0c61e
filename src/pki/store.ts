import { randomBytes } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";
import { KpkiError } from "../errors.js";
import { readBounded } from "../inputbounds.js";
import { lockContent, removeStaleLockLeftovers, tryAcquire } from "./lock.js";

/** Modes as kubeadm writes them: keys and CSRs private, certificates world-readable. */
// sa.pub is 0600 too: kubeadm writes it with its key writer.
export const MODES = { key: 0o600, cert: 0o644, csr: 0o600, publicKey: 0o600, config: 0o644, kubeconfig: 0o600 } as const;

export interface FileWrite {
  /** Path relative to the PKI folder, e.g. "apiserver.key" or "etcd/ca.crt". */
  file: string;
  data: string | Uint8Array;
  mode: number;
}

const ioError = (message: string, cause?: unknown) => new KpkiError("io", message, { cause });

/** What went wrong at `target`, and what to do: choose another folder through `flag`, the option that named it. */
function describeFsError(error: unknown, target: string, flag: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "EACCES":
    case "EPERM":
      return `${target}: permission denied: run as a user who may write there, or choose another ${flag}`;
    case "EROFS":
      return `${target} is on a read-only file system: choose another ${flag}`;
    case "ENOTDIR":
      return `${target}: a part of the path is a file, not a folder: choose another ${flag}`;
    case "ENOSPC":
      return `${target}: no space left on the device`;
    default:
      return `${target}: ${(error as Error).message}`;
  }
}

/**
 * The PKI folder on disk. Every write goes to a temp name, is synced and is
 * renamed into place, so a crash leaves either the old file or the new one.
 */
export class PkiStore {
  readonly dir: string;
  /** The option that named this folder (--dir, --cert-dir, --out…), for messages. */
  readonly flag: string;
  constructor(dir: string, flag = "--dir") {
    this.dir = path.resolve(dir);
    this.flag = flag;
  }

  path(file: string): string {
    return path.join(this.dir, file);
  }

  /** Fails with a clear message when the folder exists but is not a folder. */
  async checkFolder(): Promise<"exists" | "missing"> {
    try {
      const stat = await fs.stat(this.dir);
      if (!stat.isDirectory()) throw ioError(`${this.flag} ${this.dir} is a file, not a folder: choose a folder`);
      return "exists";
    } catch (error) {
      if (error instanceof KpkiError) throw error;
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return "missing";
      throw ioError(describeFsError(error, this.dir, this.flag), error);
    }
  }

  async ensureFolder(): Promise<void> {
    if ((await this.checkFolder()) === "exists") return;
    try {
      await makeFolders(this.dir);
    } catch (error) {
      throw ioError(describeFsError(error, this.dir, this.flag), error);
    }
  }

  /** The file's bytes, or undefined when it does not exist. */
  async read(file: string): Promise<Buffer | undefined> {
    try {
      return await readBounded(this.path(file));
    } catch (error) {
      if (error instanceof KpkiError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      if (code === "EISDIR") throw ioError(`${this.path(file)} is a folder, not a file: move it away`);
      throw ioError(describeFsError(error, this.path(file), this.flag), error);
    }
  }

  async exists(file: string): Promise<boolean> {
    try {
      await fs.access(this.path(file), constants.F_OK);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes files as one unit, crash-only: every file's bytes go to a temp
   * name and are synced; then a journal listing the renames is written
   * (atomically: the commit point); then the temp files are renamed into
   * place in the order given (keys before the certificates that name them)
   * and the journal is removed. A run killed before the journal leaves the
   * old files (and temp files the next run removes); one killed after it
   * leaves a journal the next run completes (`recover`). So a folder holds
   * the whole old set or the whole new one, never a CA key without its
   * certificate. `also` adds writes to other folders (the kubeconfigs beside
   * the PKI folder) to the same unit. The caller decides what may be
   * replaced; this only moves bytes.
   *
   * One file alone needs no journal (its rename is the commit), and takes
   * none: the commands that write one file (cert sign --out, kubeconfig
   * create) may write into a folder whose journal belongs to a locked run.
   */
  async writeAll(writes: readonly FileWrite[], also: readonly { store: PkiStore; writes: readonly FileWrite[] }[] = []): Promise<void> {
    const targets = [
      ...writes.map((write) => ({ ...write, target: this.path(write.file), flag: this.flag })),
      ...also.flatMap((group) => group.writes.map((write) => ({ ...write, target: group.store.path(write.file), flag: group.store.flag }))),
    ];
    if (targets.length === 1) return writeOne(targets[0]!, targets[0]!.flag);
    const folders = [...new Set([this.dir, ...targets.map((write) => path.dirname(write.target))])];
    for (const folder of folders) {
      // The flag that named the folder, for the message if the file system refuses it.
      const flag = targets.find((write) => path.dirname(write.target) === folder)?.flag ?? this.flag;
      await makeFolders(folder).catch((error) => {
        throw ioError(describeFsError(error, folder, flag), error);
      });
    }
    const staged: { temp: string; target: string }[] = targets.map(({ target }) => ({ target, temp: tempNameFor(target) }));
    const journal = this.path(JOURNAL);
    const journalTemp = tempNameFor(journal);
    const entries = staged.map(({ temp, target }) => [path.relative(this.dir, temp), path.relative(this.dir, target)]);
    let committed = false;
    // Each fsync costs ~10 ms here, and they come one after another: four
    // rounds in all (files and the journal's temp, their folders, the
    // journal's rename, the renames), each round's syncs at once.
    try {
      await Promise.all([
        ...targets.map((write, index) => writeSynced(staged[index]!.temp, write.data, write.mode, write.target, write.flag)),
        writeSynced(journalTemp, JSON.stringify({ version: 1, renames: entries }), 0o600, journal, this.flag),
      ]);
      await syncFolders(folders);
      // The commit: from here the journal names files whose bytes and names are on disk.
      await fs.rename(journalTemp, journal).catch((error) => {
        throw ioError(describeFsError(error, journal, this.flag), error);
      });
      await syncFolders([this.dir]);
      committed = true;
      await this.completeJournal();
    } finally {
      if (!committed) await Promise.all([...staged.map(({ temp }) => temp), journalTemp].map((temp) => fs.rm(temp, { force: true })));
    }
  }

  /** Carries out a committed journal's renames (those not done yet), then removes it. */
  private async completeJournal(): Promise<void> {
    const journal = this.path(JOURNAL);
    const text = await readBounded(journal).then((data) => data.toString("utf8"), () => undefined);
    if (text === undefined) return;
    let renames: [string, string][] = [];
    try {
      const parsed = JSON.parse(text) as { renames?: unknown };
      if (Array.isArray(parsed.renames)) renames = parsed.renames.filter((entry): entry is [string, string] => Array.isArray(entry) && entry.length === 2);
    } catch {
      // Written whole by rename, so only a damaged disk makes it unreadable: nothing can be completed from it.
    }
    const folders = new Set<string>([this.dir]);
    for (const [tempRel, targetRel] of renames) {
      const temp = path.resolve(this.dir, String(tempRel));
      const target = path.resolve(this.dir, String(targetRel));
      // Only ever a temp file of writeAll onto the file it was staged for, beside it: a journal cannot move anything else.
      if (path.dirname(temp) !== path.dirname(target) || !TEMP_NAME.test(path.basename(temp)) || !path.basename(temp).startsWith(`.${path.basename(target)}.`)) continue;
      folders.add(path.dirname(target));
      await fs.rename(temp, target).catch((error) => {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(describeFsError(error, target, this.flag), error); // ENOENT: renamed before the kill
      });
    }
    await syncFolders([...folders]);
    // Not synced: a journal that comes back after a crash names temp files
    // already renamed, and completing it again renames nothing.
    await fs.rm(journal, { force: true });
  }

  /**
   * What a killed run left, put right (call it holding the lock): a committed
   * journal is completed, and temp files of uncommitted writes are removed
   * from this folder, its etcd/ and `otherDirs` (the kubeconfig folder).
   */
  async recover(otherDirs: readonly string[] = []): Promise<void> {
    try {
      await this.completeJournal();
      for (const folder of new Set([this.dir, this.path("etcd"), ...otherDirs.map((dir) => path.resolve(dir))])) {
        const names = await fs.readdir(folder).catch(() => [] as string[]);
        // The lock's own temp files and guards are removeStaleLockLeftovers' to judge.
        await Promise.all(names.filter((name) => TEMP_NAME.test(name) && !name.startsWith(".kpki.lock.")).map((name) => fs.rm(path.join(folder, name), { force: true })));
      }
    } catch (error) {
      if (error instanceof KpkiError) throw error;
      throw ioError(describeFsError(error, this.dir, this.flag), error);
    }
  }

  /**
   * Takes the folder's lock, so two runs on one folder never both create a
   * CA. A lock left by a process that is gone is taken over.
   */
  async lock(timeoutMs = 60_000): Promise<() => Promise<void>> {
    const lockPath = this.path(".kpki.lock");
    const content = lockContent();
    const deadline = Date.now() + timeoutMs;
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      let acquired: boolean;
      try {
        acquired = await tryAcquire(lockPath, content);
      } catch (error) {
        throw ioError(describeFsError(error, this.dir, this.flag), error);
      }
      if (acquired) {
        await removeStaleLockLeftovers(lockPath);
        return async () => {
          await fs.rm(lockPath, { force: true });
        };
      }
      if (Date.now() > deadline) {
        const holder = (await fs.readFile(lockPath, "utf8").catch(() => "")).split(" ")[0];
        throw new KpkiError("conflict", `${this.dir} is locked by another kpki run (${holder || "unknown"}); wait for it, or remove ${lockPath} if no kpki is running`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * One file, crash-only: staged under a temp name, synced, renamed into place.
 * The temp files of an earlier run killed while writing this very file are
 * removed first, so none is left behind for good.
 */
async function writeOne(write: FileWrite & { target: string }, flag: string): Promise<void> {
  const folder = path.dirname(write.target);
  await makeFolders(folder).catch((error) => {
    throw ioError(describeFsError(error, folder, flag), error);
  });
  const mine = `.${path.basename(write.target)}.`;
  const names = await fs.readdir(folder).catch(() => [] as string[]);
  await Promise.all(names.filter((name) => name.startsWith(mine) && TEMP_NAME.test(name) && /^[0-9a-f]{12}\.tmp$/.test(name.slice(mine.length))).map((name) => fs.rm(path.join(folder, name), { force: true })));
  const temp = tempNameFor(write.target);
  let renamed = false;
  try {
    await writeSynced(temp, write.data, write.mode, write.target, flag);
    await fs.rename(temp, write.target).catch((error) => {
      throw ioError(describeFsError(error, write.target, flag), error);
    });
    renamed = true;
    await syncFolders([folder]);
  } finally {
    if (!renamed) await fs.rm(temp, { force: true });
  }
}

const JOURNAL = ".kpki.journal";
/** Temp files of writeAll (`.<name>.<12 hex>.tmp`); nothing else kpki or kubeadm writes looks like this. */
const TEMP_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;
const tempNameFor = (target: string) => path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`);

async function writeSynced(temp: string, data: string | Uint8Array, mode: number, target: string, flag: string): Promise<void> {
  const handle = await fs.open(temp, "wx", mode).catch((error) => {
    throw ioError(describeFsError(error, target, flag), error);
  });
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed the mode given to open
    await handle.sync();
  } catch (error) {
    throw ioError(describeFsError(error, target, flag), error);
  } finally {
    await handle.close();
  }
}

async function syncFolders(folders: readonly string[]): Promise<void> {
  await Promise.all(
    folders.map(async (folder) => {
      const handle = await fs.open(folder, "r");
      await handle.sync().finally(() => handle.close());
    }),
  );
}

/**
 * The folders from `folder` up that do not exist yet, deepest first: what a
 * run would create, so a failed run can remove exactly those again.
 */
export async function missingFolders(folder: string): Promise<string[]> {
  const missing: string[] = [];
  for (let current = path.resolve(folder); ; current = path.dirname(current)) {
    try {
      await fs.stat(current);
      return missing;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return missing;
      missing.push(current);
      if (path.dirname(current) === current) return missing;
    }
  }
}

/** Removes the given folders, deepest first, where they are empty (a failed run leaves no empty folder behind). */
export async function removeEmptyFolders(folders: readonly string[]): Promise<void> {
  const deepestFirst = [...new Set(folders)].sort((a, b) => b.length - a.length);
  for (const folder of deepestFirst) await fs.rmdir(folder).catch(() => {});
}

/**
 * mkdir -p that fails with the real reason. fs.mkdir({ recursive: true })
 * reports ENOENT when the file system is read-only (Node 20), so this finds
 * the deepest existing folder and makes each missing level itself.
 */
async function makeFolders(folder: string): Promise<void> {
  const missing: string[] = [];
  for (let current = folder; ; ) {
    try {
      const stat = await fs.stat(current);
      if (!stat.isDirectory()) throw Object.assign(new Error(`${current} is not a folder`), { code: "ENOTDIR" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      missing.unshift(current);
      const parent = path.dirname(current);
      if (parent === current) break;
      current = parent;
    }
  }
  for (const level of missing) {
    try {
      await fs.mkdir(level, { mode: 0o755 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

