/**
 * Minimal Debian packages (dpkg-deb) and flat, signed apt repositories
 * (apt-ftparchive packages/release; InRelease by gpg --clearsign,
 * Release.gpg by gpg -abs), laid out like pkgs.k8s.io's: `deb URL /`.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { PackageSpec } from "./catalogue.js";
import { gpgAs, type SigningKey } from "./gpg.js";

async function layOut(root: string, spec: PackageSpec): Promise<string[]> {
  const conffiles: string[] = [];
  for (const [file, source] of Object.entries(spec.files)) {
    const target = path.join(root, file);
    await fs.mkdir(path.dirname(target), { recursive: true });
    if ("copy" in source) await fs.copyFile(source.copy, target);
    else await fs.writeFile(target, source.text);
    await fs.chmod(target, source.mode ?? 0o644);
    if (source.conffile) conffiles.push(file);
  }
  return conffiles;
}

export async function buildDeb(work: string, out: string, spec: PackageSpec): Promise<string> {
  const root = path.join(work, `${spec.name}_${spec.version}-${spec.release}`);
  await fs.mkdir(path.join(root, "DEBIAN"), { recursive: true });
  const conffiles = await layOut(root, spec);
  const control = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}-${spec.release}`,
    "Architecture: amd64",
    "Maintainer: kpki tests <tests@kpki.test>",
    "Section: admin",
    "Priority: optional",
    ...(spec.depends?.length ? [`Depends: ${spec.depends.join(", ")}`] : []),
    `Description: ${spec.summary}`,
  ];
  await fs.writeFile(path.join(root, "DEBIAN", "control"), `${control.join("\n")}\n`);
  if (conffiles.length) await fs.writeFile(path.join(root, "DEBIAN", "conffiles"), `${conffiles.join("\n")}\n`);
  const file = path.join(out, `${spec.name}_${spec.version}-${spec.release}_amd64.deb`);
  // gzip -1: containerd's binaries are large and the packages are built per test file.
  await execa("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z1", "--build", root, file]);
  await fs.rm(root, { recursive: true, force: true });
  return file;
}

/** A flat repository in `dir` (the .debs already there): Packages, Release, InRelease, Release.gpg, Release.key. */
export async function indexDebRepo(dir: string, key: SigningKey): Promise<void> {
  const packages = await execa("apt-ftparchive", ["packages", "."], { cwd: dir });
  await fs.writeFile(path.join(dir, "Packages"), `${packages.stdout}\n`);
  const release = await execa("apt-ftparchive", ["-o", "APT::FTPArchive::Release::Origin=kpki-test", "-o", "APT::FTPArchive::Release::Label=kpki-test", "release", "."], { cwd: dir });
  await fs.writeFile(path.join(dir, "Release"), `${release.stdout}\n`);
  await gpgAs(key, "--clearsign", "-o", path.join(dir, "InRelease"), path.join(dir, "Release"));
  await gpgAs(key, "-abs", "-o", path.join(dir, "Release.gpg"), path.join(dir, "Release"));
  await fs.writeFile(path.join(dir, "Release.key"), key.armored);
}
