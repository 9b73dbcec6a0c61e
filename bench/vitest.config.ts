import { defineConfig } from "vitest/config";

// The node-prep benchmark needs the real SSH test hosts, which are test
// support code in TypeScript: vitest runs it, but it asserts no time.
export default defineConfig({
  test: {
    include: ["bench/**/*.bench-run.ts"],
    // 50, 100 and 200 hosts, three runs each, and Ansible once at 200: about an hour.
    testTimeout: 5_400_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
