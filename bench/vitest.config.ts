import { defineConfig } from "vitest/config";

// The node-prep benchmark needs the real SSH test hosts, which are test
// support code in TypeScript: vitest runs it, but it asserts no time.
export default defineConfig({
  test: {
    include: ["bench/**/*.bench-run.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
