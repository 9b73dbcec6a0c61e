import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function newestMtime(target: string): number {
  const stat = statSync(target, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(target).map((name) => newestMtime(path.join(target, name))));
}

/**
 * Some tests run the built bin and dist/ as a user would. `npm test` builds
 * first; when vitest is run directly on a tree edited since, build once here,
 * before any test file starts, so no test rebuilds dist/ under another's feet.
 */
export default async function setup(): Promise<void> {
  const binImports = [...readFileSync(path.join(root, "bin/kpki.js"), "utf8").matchAll(/from\s+["']\.\.\/(dist\/[^"']+)["']/g)].map((match) => match[1]!);
  const outputs = ["dist/index.js", "dist/kpki.blob", ...binImports].map((file) => statSync(path.join(root, file), { throwIfNoEntry: false })?.mtimeMs ?? 0);
  const sources = ["src", "templates", "bin", "package.json", "tsconfig.json"].map((file) => newestMtime(path.join(root, file)));
  if (Math.min(...outputs) > Math.max(...sources)) return;
  const build = await execa("npm", ["run", "build"], { cwd: root, reject: false, all: true });
  if (build.exitCode !== 0) throw new Error(`npm run build failed:\n${build.all}`);
}
