// Builds kpki's startup snapshot (see src/cli/snapshot/entry.ts): one
// CommonJS bundle of every module under src/, which `node --build-snapshot`
// evaluates and saves as dist/kpki.blob, and the identity of the node binary
// that built it (dist/kpki.blob.node). bin/kpki uses the blob only when the
// node it is about to run has that identity: node cannot read a blob another
// build of node made, and may crash trying.
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const bundle = path.join(dist, "kpki-snapshot.cjs");
const blob = path.join(dist, "kpki.blob");
const stamp = path.join(dist, "kpki.blob.node");

const modules = (folder) =>
  readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(folder, entry.name);
    if (entry.isDirectory()) return entry.name === "snapshot" ? [] : modules(file);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [file] : [];
  });
const src = path.join(root, "src");
const importOf = (file) => `import ${JSON.stringify("./" + path.relative(src, file).split(path.sep).join("/"))};`;
const contents = [
  importOf(path.join(src, "cli/snapshot/serializable.ts")),
  ...modules(src).sort().map(importOf),
  importOf(path.join(src, "cli/snapshot/entry.ts")),
].join("\n");

rmSync(stamp, { force: true });
await build({
  stdin: { contents, resolveDir: src, sourcefile: "snapshot-modules.ts", loader: "ts" },
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: process.env.KPKI_SNAPSHOT_MINIFY !== "0",
  legalComments: "none",
  logLevel: "warning",
  outfile: bundle,
  // A snapshot has no loader for import(): import("node:crypto") becomes a require.
  supported: { "dynamic-import": false },
  // import.meta.url is read when used, from the path bin/kpki passes as the script (this bundle's).
  define: { "import.meta.url": "__kpkiModuleUrl" },
  banner: { js: "Object.defineProperty(globalThis,'__kpkiModuleUrl',{get:()=>require('node:url').pathToFileURL(process.argv[1]).href});" },
});
const built = spawnSync(process.execPath, ["--snapshot-blob", blob, "--build-snapshot", bundle], { cwd: root, encoding: "utf8" });
if (built.status !== 0) {
  rmSync(blob, { force: true });
  process.stderr.write(built.stderr);
  throw new Error(`node --build-snapshot failed (exit ${built.status ?? built.signal}); kpki still runs, without the snapshot`);
}
const node = statSync(process.execPath);
// The same fields, in the same form, as bin/kpki's `stat -L -c '%d %i %s %Y'`.
writeFileSync(stamp, `${node.dev} ${node.ino} ${node.size} ${Math.floor(node.mtimeMs / 1000)}\n`);
