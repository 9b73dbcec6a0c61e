import type { Io } from "./io.js";

/**
 * A progress line on a terminal for key generation, rewritten in place and
 * erased when the work is done. It appears only once a run has taken
 * `delayMs`, so a quick run (RSA-2048, ECDSA) prints nothing extra.
 */
export function keyProgress(io: Io, delayMs = 500) {
  let ready = 0;
  let wanted = 0;
  let shown = false;
  const show = () => {
    shown = true;
    io.stderr(`\r\x1b[Kgenerating keys: ${ready} of ${wanted} ready`);
  };
  const timer = setTimeout(() => wanted > ready && show(), delayMs);
  timer.unref();
  return {
    keyReady: (readyNow: number, wantedNow: number) => {
      ready = readyNow;
      wanted = wantedNow;
      if (shown || delayMs === 0) show();
    },
    done: () => {
      clearTimeout(timer);
      if (shown) io.stderr("\r\x1b[K");
    },
  };
}
