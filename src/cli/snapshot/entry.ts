// The last module of kpki's startup snapshot. scripts/snapshot.js bundles
// serializable.ts first, then every module under src/, then this one, and
// builds dist/kpki.blob from that bundle; bin/kpki starts node from the blob
// when that same node binary built it. Building evaluates every module once
// and saves the heap, so a run pays neither for compiling nor for evaluating
// ~1 MB of JavaScript: most of what `kpki init` cost besides its primes.
// What a module computes as it loads is therefore fixed at build time:
// modules read the environment, the clock and the working folder when they
// are called, not when they load.
import { availableParallelism } from "node:os";
import { startupSnapshot } from "node:v8";
import { prestart } from "../prestart.js";
import { runAndExit } from "../main.js";
import { restoreIntl } from "./serializable.js";
import { warmUp } from "./warmup.js";

// The event loop runs the warm-up to its end before node takes the snapshot.
void warmUp()
  .catch((error: unknown) => String(error))
  .then((problem) => {
    if (problem) process.stderr.write(`kpki: the startup snapshot is made without warming init up: ${problem}\n`);
    restoreIntl();
  });

startupSnapshot.setDeserializeMainFunction(async () => {
  // Nothing has used libuv's thread pool yet, so its size can still be set:
  // one thread per core and one more (5 at least, Node's 4 + 1), so that
  // init's primes take every core with a thread to spare for file reads
  // (keypool.ts keeps one free). The plain bundle cannot do this: node's
  // module loader has started the pool before kpki's first line runs.
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()) + 1);
  const argv = process.argv.slice(2);
  prestart(argv);
  await runAndExit(argv);
});
