import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/cli.js";
import { tempDir } from "../support/tmp.js";

// A startup snapshot is bound to the node binary that made it, so none is
// shipped: an installed package makes its own in its postinstall
// (scripts/snapshot-blob.js). This lays the package out as npm installs it,
// from the tarball npm packs, with the checkout's dependencies beside it (an
// install would fetch them), runs its postinstall as npm does, and then the
// bin as a user would. npm's cache and logs go to the temp folder.
describe("the package as installed from its tarball", () => {
  it("makes its own startup snapshot in its postinstall, and bin/kpki starts from it", async () => {
    const dir = tempDir("kpki-package-");
    const npm = (args: string[], cwd: string) =>
      execa("npm", [...args, "--cache", path.join(dir, "npm-cache"), "--logs-dir", path.join(dir, "npm-logs"), "--no-update-notifier"], { cwd, reject: false });
    const packed = await npm(["pack", "--ignore-scripts", "--pack-destination", dir, "--json"], repoRoot);
    expect(packed.exitCode, packed.stderr).toBe(0);
    const { filename, files } = (JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
    const shipped = files.map((file) => file.path);
    expect(shipped).toContain("dist/kpki-snapshot.cjs");
    expect(shipped).toContain("scripts/snapshot-blob.js");
    expect(shipped.filter((file) => file.startsWith("dist/kpki.blob") || file.startsWith("src/"))).toEqual([]);

    const modules = path.join(dir, "project/node_modules");
    const installed = path.join(modules, "kpki");
    mkdirSync(installed, { recursive: true });
    await execa("tar", ["-xzf", path.join(dir, filename), "--strip-components=1", "-C", installed]);
    symlinkSync(path.join(repoRoot, "node_modules"), path.join(installed, "node_modules"));
    mkdirSync(path.join(modules, ".bin"));
    symlinkSync("../kpki/bin/kpki", path.join(modules, ".bin/kpki"));

    const postinstall = await npm(["run", "postinstall"], installed);
    expect(postinstall.exitCode, postinstall.stderr).toBe(0);
    expect(existsSync(path.join(installed, "dist/kpki.blob"))).toBe(true);
    const run = await execa(path.join(modules, ".bin/kpki"), ["init", "--master-ip", "192.0.2.10", "--only", "ca", "--key-type", "ecdsa-p256", "--dir", path.join(dir, "cluster"), "-o", "json"], {
      reject: false,
      env: { KPKI_DEBUG: "1", NODE_OPTIONS: "" },
    });
    expect(run.stderr).toBe(`kpki: starting from the startup snapshot ${modules}/.bin/../kpki/bin/../dist/kpki.blob`);
    expect(run.exitCode).toBe(0);
    expect((JSON.parse(run.stdout) as { entries: { name: string }[] }).entries.map((entry) => entry.name)).toEqual(["ca"]);
  }, 120_000);
});
