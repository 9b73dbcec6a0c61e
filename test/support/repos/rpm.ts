/**
 * Minimal RPM packages (rpmbuild from a generated spec, files copied in by
 * %install, no automatic dependencies, no stripping) signed with rpmsign,
 * and repositories indexed by createrepo_c with a detached
 * repodata/repomd.xml.asc and the key at repodata/repomd.xml.key, as
 * pkgs.k8s.io lays them out.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { PackageSpec } from "./catalogue.js";
import { gpgAs, type SigningKey } from "./gpg.js";

const esc = (text: string) => text.replaceAll("%", "%%");

/** defines: extra rpm macros; by default rpm's database is a scratch one (Debian's default, ~/.rpmdb, is this machine's). */
export async function buildRpm(work: string, out: string, spec: PackageSpec & { provides?: string[] }, defines?: string[]): Promise<string> {
  const top = path.join(work, `rpm-${spec.name}-${spec.version}-${spec.release}`);
  const sources = path.join(top, "SOURCES", "files");
  await fs.mkdir(sources, { recursive: true });
  const install: string[] = [];
  const listed: string[] = [];
  for (const [file, source] of Object.entries(spec.files)) {
    const staged = path.join(sources, file);
    await fs.mkdir(path.dirname(staged), { recursive: true });
    if ("copy" in source) await fs.copyFile(source.copy, staged);
    else await fs.writeFile(staged, source.text);
    const mode = (source.mode ?? 0o644).toString(8);
    install.push(`install -D -m ${mode} '${staged}' "%{buildroot}${file}"`);
    listed.push(source.conffile ? `%config(noreplace) ${file}` : file);
  }
  const lines = [
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
    `Release: ${spec.release}`,
    `Summary: ${esc(spec.summary)}`,
    "License: Apache-2.0",
    "BuildArch: x86_64",
    "AutoReqProv: no",
    ...(spec.depends ?? []).map((name) => `Requires: ${name}`),
    ...(spec.provides ?? []).map((what) => `Provides: ${what}`),
    "%description",
    esc(spec.summary),
    "%install",
    ...install,
    "%files",
    ...listed,
  ];
  const specFile = path.join(top, `${spec.name}.spec`);
  await fs.writeFile(specFile, `${lines.join("\n")}\n`);
  await execa("rpmbuild", [
    "-bb",
    "--quiet",
    ...(defines ?? ["--define", `_dbpath ${path.join(work, "rpmdb")}`]),
    "--define", `_topdir ${top}`,
    "--define", `_rpmdir ${out}`,
    "--define", "_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
    "--define", "_binary_payload w1.gzdio",
    "--define", "debug_package %{nil}",
    "--define", "__os_install_post %{nil}",
    "--define", "_build_id_links none",
    specFile,
  ]);
  await fs.rm(top, { recursive: true, force: true });
  return path.join(out, `${spec.name}-${spec.version}-${spec.release}.x86_64.rpm`);
}

/** Signs the packages (their headers carry the key's signature, what gpgcheck=1 checks). */
export async function signRpms(files: string[], key: SigningKey, work: string): Promise<void> {
  if (files.length === 0) return;
  await execa("rpmsign", [
    "--define", `_dbpath ${path.join(work, "rpmdb")}`,
    "--define", `_gpg_path ${key.home}`,
    "--define", `_gpg_name ${key.fingerprint}`,
    // Debian's macro names gpg2.
    "--define", "__gpg /usr/bin/gpg",
    "--addsign",
    ...files,
  ]);
}

export async function indexRpmRepo(dir: string, key: SigningKey): Promise<void> {
  await execa("createrepo_c", ["--quiet", "--no-database", dir]);
  const repomd = path.join(dir, "repodata", "repomd.xml");
  await gpgAs(key, "--armor", "--detach-sign", "-o", `${repomd}.asc`, repomd);
  await fs.writeFile(`${repomd}.key`, key.armored);
}
