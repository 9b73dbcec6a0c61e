import { randomBytes } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { KpkiError } from "../errors.js";

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

function describeFsError(error: unknown, target: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "EACCES":
    case "EPERM":
      return `${target}: permission denied: run as a user who may write there, or choose another --dir`;
    case "EROFS":
      return `${target} is on a read-only file system: choose another --dir`;
    case "ENOTDIR":
      return `${target}: a part of the path is a file, not a folder: choose another --dir`;
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
  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  path(file: string): string {
    return path.join(this.dir, file);
  }

  /** Fails with a clear message when the folder exists but is not a folder. */
  async checkFolder(): Promise<"exists" | "missing"> {
    try {
      const stat = await fs.stat(this.dir);
      if (!stat.isDirectory()) throw ioError(`--dir ${this.dir} is a file, not a folder: choose a folder for the PKI`);
      return "exists";
    } catch (error) {
      if (error instanceof KpkiError) throw error;
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return "missing";
      throw ioError(describeFsError(error, this.dir), error);
    }
  }

  async ensureFolder(): Promise<void> {
    if ((await this.checkFolder()) === "exists") return;
    try {
      await makeFolders(this.dir);
    } catch (error) {
      throw ioError(describeFsError(error, this.dir), error);
    }
  }

  /** The file's bytes, or undefined when it does not exist. */
  async read(file: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.path(file));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      if (code === "EISDIR") throw ioError(`${this.path(file)} is a folder, not a file: move it away`);
      throw ioError(describeFsError(error, this.path(file)), error);
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
   * Writes files atomically: every file's bytes go to a temp name and are
   * synced (all at once), then the temp files are renamed into place in the
   * order given (keys before the certificates that name them). If anything
   * fails before the renames, no file was replaced. The caller decides what
   * may be replaced; this only moves bytes.
   */
  async writeAll(writes: readonly FileWrite[]): Promise<void> {
    const staged: { temp: string; target: string }[] = [];
    const folders = [...new Set(writes.map((write) => path.dirname(this.path(write.file))))];
    for (const folder of folders) {
      await makeFolders(folder).catch((error) => {
        throw ioError(describeFsError(error, folder), error);
      });
    }
    try {
      await Promise.all(
        writes.map(async (write) => {
          const target = this.path(write.file);
          const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
          const handle = await fs.open(temp, "wx", write.mode).catch((error) => {
            throw ioError(describeFsError(error, target), error);
          });
          staged.push({ temp, target });
          try {
            await handle.writeFile(write.data);
            await handle.chmod(write.mode); // the umask may have narrowed the mode given to open
            await handle.sync();
          } catch (error) {
            throw ioError(describeFsError(error, target), error);
          } finally {
            await handle.close();
          }
        }),
      );
      const order = new Map(writes.map((write, index) => [this.path(write.file), index]));
      staged.sort((a, b) => order.get(a.target)! - order.get(b.target)!);
      while (staged.length > 0) {
        const { temp, target } = staged[0]!;
        await fs.rename(temp, target).catch((error) => {
          throw ioError(describeFsError(error, target), error);
        });
        staged.shift();
      }
    } finally {
      await Promise.all(staged.map(({ temp }) => fs.rm(temp, { force: true })));
    }
    for (const folder of folders) {
      const handle = await fs.open(folder, "r");
      await handle.sync().finally(() => handle.close());
    }
  }

  /**
   * Takes the folder's lock, so two runs on one folder never both create a
   * CA. A lock left by a process that is gone is taken over.
   */
  async lock(timeoutMs = 60_000): Promise<() => Promise<void>> {
    const lockPath = this.path(".kpki.lock");
    const owner = `${process.pid}@${hostname()}`;
    const deadline = Date.now() + timeoutMs;
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      try {
        await fs.writeFile(lockPath, owner, { flag: "wx", mode: 0o600 });
        return async () => {
          await fs.rm(lockPath, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(describeFsError(error, this.dir), error);
      }
      const holder = await fs.readFile(lockPath, "utf8").catch(() => "");
      if (isStale(holder)) {
        await fs.rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new KpkiError("conflict", `${this.dir} is locked by another kpki run (${holder || "unknown"}); wait for it, or remove ${lockPath} if no kpki is running`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
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

function isStale(holder: string): boolean {
  const match = holder.match(/^(\d+)@(.*)$/);
  if (!match || match[2] !== hostname()) return false;
  try {
    process.kill(Number(match[1]), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}
