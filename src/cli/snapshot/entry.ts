// The last module of kpki's startup snapshot. scripts/snapshot.js bundles
// serializable.ts first, then every module under src/, then this one, and
// builds dist/kpki.blob from that bundle; bin/kpki starts node from the blob
// when that same node binary built it. Building evaluates every module once
// and saves the heap, so a run pays neither for compiling nor for evaluating
// ~1.3 MB of JavaScript: most of what `kpki init` cost besides its primes.
// What a module computes as it loads is therefore fixed at build time:
// modules read the environment, the clock and the working folder when they
// are called, not when they load.
import { startupSnapshot } from "node:v8";
import { prestart } from "../prestart.js";
import { main } from "../main.js";
import { restoreIntl } from "./serializable.js";

restoreIntl();

startupSnapshot.setDeserializeMainFunction(async () => {
  const argv = process.argv.slice(2);
  prestart(argv);
  process.exitCode = await main(argv);
});
