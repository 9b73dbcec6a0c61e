/** The test hosts' share of this machine's inotify limit (test/support/testhosts/limits.ts). */
import { describe, expect, it } from "vitest";
import { INOTIFY_PER_HOST, inotifyShortfall } from "../support/testhosts/limits.js";

describe("inotifyShortfall", () => {
  it("asks nothing while the headroom holds every host's share", () => {
    expect(inotifyShortfall(128, 10, 20)).toBe(0);
    expect(inotifyShortfall(128, 128 - 20 * INOTIFY_PER_HOST, 20)).toBe(0);
  });
  it("asks for exactly what is missing: 200 hosts over the default 128", () => {
    expect(inotifyShortfall(128, 8, 200)).toBe(8 + 200 * INOTIFY_PER_HOST - 128);
    expect(inotifyShortfall(128, 128, 1)).toBe(INOTIFY_PER_HOST);
  });
});
