import { createPrivateKey, X509Certificate } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { binPath, repoRoot } from "../support/cli.js";
import { tempDir } from "../support/tmp.js";

// bin/kpki starts node from the startup snapshot only when the node on PATH
// built it; any other node runs the plain bundle, and kpki works the same.
const root = tempDir("kpki-bin-");

const run = (bin: string, args: string[], env: Record<string, string> = {}) => execa(bin, args, { reject: false, env: { KPKI_DEBUG: "1", NODE_OPTIONS: "", ...env } });

describe("bin/kpki", () => {
  it("starts from the startup snapshot the build made with this node", async () => {
    const result = await run(binPath, ["init", "--master-ip", "192.0.2.10", "--only", "ca", "--key-type", "ecdsa-p256", "--dir", path.join(root, "a"), "-o", "json"]);
    expect(result.stderr).toBe(`kpki: starting from the startup snapshot ${repoRoot}/bin/../dist/kpki.blob`);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).entries[0].files.map((file: { file: string }) => file.file)).toEqual(["ca.key", "ca.crt"]);
    // yargs lays out help with Intl.Segmenter, which the snapshot makes lazily (src/cli/snapshot/serializable.ts).
    const help = await run(binPath, ["init", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--master-ip");
  });

  it("loads the plain bundle when the snapshot was built by another node, through a symlink as npm links bins", async () => {
    // A copy of the package whose snapshot stamp names another node binary.
    const copy = path.join(root, "package");
    mkdirSync(path.join(copy, "bin"), { recursive: true });
    mkdirSync(path.join(copy, "dist"));
    copyFileSync(binPath, path.join(copy, "bin/kpki"));
    symlinkSync(path.join(repoRoot, "bin/kpki.js"), path.join(copy, "bin/kpki.js"));
    symlinkSync(path.join(repoRoot, "dist/kpki.blob"), path.join(copy, "dist/kpki.blob"));
    writeFileSync(path.join(copy, "dist/kpki.blob.node"), "1 2 3 4\n");
    mkdirSync(path.join(root, "node_modules/.bin"), { recursive: true });
    const link = path.join(root, "node_modules/.bin/kpki");
    symlinkSync(path.join(copy, "bin/kpki"), link);
    const result = await run(link, ["--version"]);
    expect(result.stderr).toMatch(/^kpki: no startup snapshot for \S+node: loading \S+\/package\/bin\/\.\.\/bin\/kpki\.js$/);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+$/);
    // A blob without its stamp (a build stopped between the two): the bundle, and no shell error beside the line.
    rmSync(path.join(copy, "dist/kpki.blob.node"));
    const unstamped = await run(link, ["--version"]);
    expect(unstamped.stderr).toMatch(/^kpki: no startup snapshot for \S+node: loading \S+\/package\/bin\/\.\.\/bin\/kpki\.js$/);
    expect(unstamped.exitCode).toBe(0);
  });

  it("loads the plain bundle when NODE_OPTIONS is set, since V8 flags there make node refuse any snapshot", async () => {
    const result = await run(binPath, ["--version"], { NODE_OPTIONS: "--max-old-space-size=2048" });
    expect(result.stderr).toBe(`kpki: no startup snapshot for ${process.execPath} with NODE_OPTIONS: loading ${repoRoot}/bin/../bin/kpki.js`);
    expect(result.exitCode).toBe(0);
    // What node itself does with that snapshot and those flags: refuses it, exit 14.
    const refused = await execa(process.execPath, ["--max-old-space-size=2048", "--snapshot-blob", path.join(repoRoot, "dist/kpki.blob"), path.join(repoRoot, "dist/kpki-snapshot.cjs"), "--version"], { reject: false });
    expect(refused.exitCode).toBe(14);
  });

  it("does init's work from the plain bundle too (its prestart entry first): certificates that verify, a one-line error for bad input", async () => {
    const env = { NODE_OPTIONS: "--max-old-space-size=2048" };
    const loading = `kpki: no startup snapshot for ${process.execPath} with NODE_OPTIONS: loading ${repoRoot}/bin/../bin/kpki.js`;
    const dir = path.join(root, "plain");
    const result = await run(binPath, ["init", "--master-ip", "192.0.2.10", "--only", "apiserver", "--dir", dir, "-o", "json"], env);
    expect(result.stderr).toBe(loading);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).changed).toBe(true);
    const ca = new X509Certificate(readFileSync(path.join(dir, "pki/ca.crt")));
    const apiserver = new X509Certificate(readFileSync(path.join(dir, "pki/apiserver.crt")));
    expect(apiserver.verify(ca.publicKey)).toBe(true);
    expect(apiserver.checkIP("192.0.2.10")).toBe("192.0.2.10");
    const key = createPrivateKey(readFileSync(path.join(dir, "pki/apiserver.key")));
    expect(apiserver.checkPrivateKey(key)).toBe(true);
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    // Without KPKI_DEBUG, which adds the stack.
    const bad = await run(binPath, ["init", "--master-ip", "192.0.2.300", "--dir", path.join(root, "plain-bad")], { ...env, KPKI_DEBUG: "" });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^kpki: --master-ip "192\.0\.2\.300" is not a valid IPv4 or IPv6 address[^\n]*$/);
    expect(existsSync(path.join(root, "plain-bad"))).toBe(false);
  });
});
