// Builds kpki's startup snapshot (see src/cli/snapshot/entry.ts): one
// CommonJS bundle of every module under src/ (dist/kpki-snapshot.cjs), from
// which snapshot-blob.js makes dist/kpki.blob and its stamp.
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { makeBlob } from "./snapshot-blob.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const bundle = path.join(dist, "kpki-snapshot.cjs");

// Packages left out of the heap every run deserializes: loaded from
// node_modules when first used, with the modules of src/ that import them
// (not evaluated at build). node-forge is a third of the bundle, for
// PKCS#12 export alone.
const FROM_DISK = { "node-forge": ["pki/p12.ts"] };
// The library's entry: the CLI never loads it, and it imports p12.ts.
const NOT_PRELOADED = new Set(["index.ts", "cli/snapshot", ...Object.values(FROM_DISK).flat()]);

const src = path.join(root, "src");
const modules = (folder) =>
  readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(folder, entry.name);
    if (NOT_PRELOADED.has(path.relative(src, file).split(path.sep).join("/"))) return [];
    if (entry.isDirectory()) return modules(file);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [file] : [];
  });
const importOf = (file) => `import ${JSON.stringify("./" + path.relative(src, file).split(path.sep).join("/"))};`;
const contents = [
  importOf(path.join(src, "cli/snapshot/serializable.ts")),
  ...modules(src).sort().map(importOf),
  importOf(path.join(src, "cli/snapshot/entry.ts")),
].join("\n");

rmSync(path.join(dist, "kpki.blob.node"), { force: true });
const fromDisk = {
  name: "from-disk",
  setup(esbuild) {
    const filter = new RegExp(`^(${Object.keys(FROM_DISK).join("|")})$`);
    esbuild.onResolve({ filter }, (args) => ({ path: args.path, namespace: "from-disk" }));
    // The snapshot's own require knows only node's built-in modules.
    esbuild.onLoad({ filter: /.*/, namespace: "from-disk" }, (args) => ({
      contents: `module.exports = require("node:module").createRequire(process.argv[1])(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

await build({
  plugins: [fromDisk],
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
makeBlob();
