// Makes kpki's startup snapshot, dist/kpki.blob, from the bundle
// scripts/snapshot.js writes (dist/kpki-snapshot.cjs), and the identity of
// the node binary that made it (dist/kpki.blob.node). bin/kpki uses the blob
// only when the node it is about to run has that identity: node cannot read
// a blob another build of node made, and may crash trying. So the blob is
// never shipped: `npm run build` makes it, and so does an installed
// package's postinstall (`--postinstall`), from the bundle it ships.
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bundle = path.join(root, "dist/kpki-snapshot.cjs");
const blob = path.join(root, "dist/kpki.blob");
const stamp = path.join(root, "dist/kpki.blob.node");

/** Makes the blob and its stamp; on failure leaves neither, so kpki runs its plain bundle. */
export function makeBlob() {
  rmSync(stamp, { force: true });
  const built = spawnSync(process.execPath, ["--snapshot-blob", blob, "--build-snapshot", bundle], { cwd: root, encoding: "utf8" });
  if (built.status !== 0) {
    // Not the build's failure, nor the install's: bin/kpki runs the plain bundle without a blob (test/cli/bin.test.ts fails, though).
    rmSync(blob, { force: true });
    process.stderr.write(`${built.stderr}\nkpki: node --build-snapshot failed (exit ${built.status ?? built.signal}): kpki will run without its startup snapshot\n`);
    return;
  }
  const node = statSync(process.execPath);
  // The same fields, in the same form, as bin/kpki's `stat -L -c '%d %i %s %Y'`.
  writeFileSync(stamp, `${node.dev} ${node.ino} ${node.size} ${Math.floor(node.mtimeMs / 1000)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes("--postinstall")) {
  // In a checkout (src/ is there) `npm ci` runs prepare next, which builds everything: nothing to do yet.
  if (existsSync(bundle) && !existsSync(path.join(root, "src"))) makeBlob();
}
