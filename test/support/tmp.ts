import { createHash } from "node:crypto";
import { mkdtempSync, promises as fs, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, onTestFinished } from "vitest";

/** A temp folder removed after the file's tests, or after the test that made it (an afterAll inside a test never runs). */
export function tempDir(prefix = "kpki-test-"): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    onTestFinished(remove);
  } catch {
    afterAll(remove);
  }
  return dir;
}

/** Every file under a folder with its mode and a hash of its bytes (a symlink: its target; a device: its number), for "nothing changed" checks. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  async function walk(folder: string) {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      const stat = await fs.lstat(full);
      const key = path.relative(dir, full);
      if (stat.isSymbolicLink()) {
        result[key] = `-> ${await fs.readlink(full)}`;
      } else if (entry.isDirectory()) {
        result[`${key}/`] = stat.mode.toString(8);
        await walk(full);
      } else if (!stat.isFile()) {
        // A device, socket or FIFO (an overlay's whiteout is a 0/0 character device): what it is, not its bytes.
        result[key] = `${stat.mode.toString(8)} special ${stat.rdev}`;
      } else {
        const bytes = await fs.readFile(full);
        result[key] = `${stat.mode.toString(8)} ${createHash("sha256").update(bytes).digest("hex")}`;
      }
    }
  }
  await walk(dir);
  return result;
}
