import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { warmUp } from "../../src/cli/snapshot/warmup.js";

// The startup snapshot's build runs this; should it fail, the build still
// makes a snapshot (a slower one), so the failure would go unseen there.
describe("the startup snapshot's warm-up", () => {
  it("runs kpki init to the end twice and leaves no folder behind", async () => {
    const leftovers = () => readdirSync(tmpdir()).filter((name) => name.startsWith("kpki-snapshot-warm-up-"));
    const before = leftovers();
    expect(await warmUp()).toBeUndefined();
    expect(leftovers()).toEqual(before);
  });
});
