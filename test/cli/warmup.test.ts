import { readdirSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { warmUp } from "../../src/cli/snapshot/warmup.js";
import { tempDir } from "../support/tmp.js";

// The startup snapshot's build runs this; should it fail, the build still
// makes a snapshot (a slower one), so the failure would go unseen there.
describe("the startup snapshot's warm-up", () => {
  it("runs kpki init to the end twice and leaves no folder behind", async () => {
    // A temp folder of its own: a snapshot build in another test file warms up in the shared one.
    const dir = tempDir();
    const before = statSync(dir, { bigint: true }).mtimeNs;
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      expect(await warmUp()).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    // It worked in this folder (an entry made and removed changes its mtime), and left nothing there.
    expect(statSync(dir, { bigint: true }).mtimeNs).not.toBe(before);
    expect(readdirSync(dir)).toEqual([]);
  });
});
