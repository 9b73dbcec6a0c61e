// Runs `kpki init` twice (create, then check) in a temporary folder while
// the startup snapshot is built. V8 compiles a function when it is first
// called, and the snapshot keeps what was compiled: without this, every run
// compiled yargs' parser, init's planning, the DER builders and the report
// afresh, on the main thread, beside its primes. Nothing of the run stays in
// the heap: its folder is removed, its output dropped, its key pool emptied
// (no key is ever carried into a snapshot) and its templates forgotten
// (serializable.ts drops its ICU objects).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { clearKeyPool } from "../../pki/keypool.js";
import { forgetTemplates } from "../../templates.js";
import type { Io } from "../io.js";
import { main } from "../main.js";
import { prestart } from "../prestart.js";

/** Warms init's code; resolves to why it could not, if it could not (the snapshot is still made). */
export async function warmUp(): Promise<string | undefined> {
  const dir = mkdtempSync(path.join(tmpdir(), "kpki-snapshot-warm-up-"));
  const errors: string[] = [];
  const io: Io = { stdout: () => {}, stderr: (text) => void errors.push(text), readStdin: () => Promise.resolve(Buffer.alloc(0)), isTTY: false };
  try {
    for (let run = 0; run < 2; run++) {
      const argv = ["init", "--master-ip", "192.0.2.10", "--node-name", "warm-up", "--dir", path.join(dir, "kubernetes")];
      prestart(argv);
      const code = await main(argv, io);
      if (code !== 0) return `kpki init exited ${code}: ${errors.join("").trim()}`;
    }
    return undefined;
  } finally {
    clearKeyPool();
    forgetTemplates();
    rmSync(dir, { recursive: true, force: true });
  }
}
