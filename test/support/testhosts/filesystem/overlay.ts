/**
 * A test host's filesystem view. overlayfs over this machine's /etc, /usr,
 * /var and /opt with three layers, top first:
 *
 *   upper    hosts/NAME/upper/X   = the host's stateDir: empty at start, so
 *                                   it holds exactly what was changed
 *   base     hosts/NAME/base/X    this host: hostname, fstab, SELinux config,
 *                                   sshd config and key, installed units
 *   flavour  layers/FLAVOUR/X     the distribution: release files, shims,
 *                                   whiteouts hiding Debian markers (shared)
 *   this machine's /X
 *
 * plus per-host /root and /tmp, the rest of this machine's root read-only,
 * a private tmpfs /run (with the shim folder
 * at /run/testhost), a private minimal /dev, /proc/sys read-only except
 * /proc/sys/net (per network namespace) and a few global kernel parameters
 * bound to per-host files, and /proc/swaps, /proc/modules, /proc/meminfo
 * bound to the shims' state. init.pl carries the plan out in one process.
 */
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import {
  HIDDEN,
  MACHINE_CONTAINERD,
  OPAQUE_ALWAYS,
  PACKAGE_MANAGER_LAYER,
  SOFTWARE,
  selinuxConfig,
  unitFile,
  type Flavour,
  type KnownUnit,
  type UnitSetup,
} from "../flavours.js";
import { buildRpm, rhelBase } from "../../repos/index.js";
import { REAL_PROGRAMS, runtimeFiles } from "../runtime.js";
import { sshdConfig } from "../sshd.js";
import { SHIM_LIB_DIR, SHIM_MOUNT, SHIM_SOURCES, shimDirs, shimInstalls, sysctlFile, type ShimDirs } from "../shims/index.js";

export const INIT = path.join(path.dirname(fileURLToPath(import.meta.url)), "init.pl");
/** The directories overlaid (those this machine has). */
export const OVERLAID = ["/etc", "/usr", "/var", "/opt"].filter((dir) => existsSync(dir));
/** /proc files bound to the shims' state (this machine's kernel may lack /proc/modules: no loadable modules). */
const PROC_FILES = ["swaps", "modules", "meminfo"].filter((entry) => existsSync(`/proc/${entry}`));
const DEVICES = ["null", "zero", "full", "random", "urandom", "tty"];

/** Global kernel parameters `sysctl --system` may set: each host gets its own copy (when this kernel has it). */
export const PER_HOST_SYSCTLS = [
  "kernel/pid_max",
  "kernel/core_uses_pid",
  "kernel/kptr_restrict",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
  "kernel/sysrq",
  "kernel/yama/ptrace_scope",
  "fs/protected_fifos",
  "fs/protected_hardlinks",
  "fs/protected_regular",
  "fs/protected_symlinks",
  "fs/inotify/max_user_watches",
  "fs/inotify/max_user_instances",
  "fs/file-max",
  "vm/swappiness",
  "vm/overcommit_memory",
  "vm/max_map_count",
  "vm/mmap_min_addr",
]
  .map((key) => `/proc/sys/${key}`)
  .filter((file) => existsSync(file));

/** Per-network-namespace values a fresh host starts from (this kernel would inherit some from this machine). */
export const FRESH_NET_SYSCTLS: Record<string, string> = Object.fromEntries(
  Object.entries({
    "/proc/sys/net/ipv4/ip_forward": "0",
    "/proc/sys/net/ipv6/conf/all/forwarding": "0",
    "/proc/sys/net/ipv6/conf/default/forwarding": "0",
    "/proc/sys/net/bridge/bridge-nf-call-iptables": "0",
    "/proc/sys/net/bridge/bridge-nf-call-ip6tables": "0",
  }).filter(([file]) => existsSync(file)),
);

export interface HostLayout {
  dir: string;
  base: string;
  /** The overlay upper layers: stateDir. */
  upper: string;
  work: string;
  root: string;
  tmp: string;
  devStage: string;
  shim: ShimDirs;
  plan: string;
  log: string;
}

export function hostLayout(runDir: string, name: string): HostLayout {
  const dir = path.join(runDir, "hosts", name);
  return {
    dir,
    base: path.join(dir, "base"),
    upper: path.join(dir, "upper"),
    work: path.join(dir, "work"),
    root: path.join(dir, "root"),
    tmp: path.join(dir, "tmp"),
    devStage: path.join(dir, "dev"),
    shim: shimDirs(path.join(dir, "shim")),
    plan: path.join(dir, "plan"),
    log: path.join(dir, "host.log"),
  };
}

const under = (root: string, absolute: string) => path.join(root, absolute);

async function writeTree(root: string, files: Record<string, string>, mode?: number): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    const target = under(root, file);
    await fs.mkdir(path.dirname(target), { recursive: true });
    if (content.startsWith("-> ")) await fs.symlink(content.slice(3), target);
    else await fs.writeFile(target, content, mode === undefined ? undefined : { mode });
  }
}

/** Runs init.pl on a plan of layer-building operations (whiteouts, opaque dirs) and nothing else. */
async function runLayerPlan(dir: string, lines: string[]): Promise<void> {
  const plan = path.join(dir, "layer.plan");
  await fs.writeFile(plan, [...lines, "exec\t/bin/true"].join("\n") + "\n");
  await execa("/usr/bin/perl", [INIT, plan]);
  await fs.rm(plan);
}

/** The shared flavour layer: release files, shims, the real package manager's own state, whiteouts of Debian markers, opaque unit folders. */
export async function prepareFlavourLayer(runDir: string, flavour: Flavour): Promise<string> {
  const layer = path.join(runDir, "layers", flavour.name);
  const manager = PACKAGE_MANAGER_LAYER[flavour.family];
  await Promise.all(OVERLAID.map((dir) => fs.mkdir(under(layer, dir), { recursive: true })));
  const links: Record<string, string> = {};
  // EL's yum is dnf's link (EL8+); CentOS 7 has yum alone, here Debian's dnf under that name.
  if (flavour.packageManager !== "apt") links["/usr/bin/yum"] = "-> dnf-3";
  await writeTree(layer, { ...flavour.files, ...manager.files, ...links, "/etc/os-release": "-> ../usr/lib/os-release" });
  const dirs = ["/etc/sysctl.d", "/etc/modules-load.d", ...(flavour.family === "rhel" ? ["/etc/firewalld/zones"] : [])];
  await Promise.all(dirs.map((dir) => fs.mkdir(under(layer, dir), { recursive: true })));
  for (const [source, targets] of Object.entries(shimInstalls(flavour))) {
    const text = await fs.readFile(path.join(SHIM_SOURCES, source));
    for (const target of targets) {
      await fs.mkdir(path.dirname(under(layer, target)), { recursive: true });
      await fs.writeFile(under(layer, target), text, { mode: 0o755 });
    }
  }
  const hidden = [...HIDDEN[flavour.family], ...manager.hidden, ...(flavour.packageManager === "yum" ? ["/usr/bin/dnf"] : [])].filter((file) => existsSync(file));
  const opaque = [...OPAQUE_ALWAYS, ...manager.opaque];
  await Promise.all([...hidden, ...opaque].map((file) => fs.mkdir(path.dirname(under(layer, file)), { recursive: true })));
  await runLayerPlan(layer, [...hidden.map((file) => `whiteout\t${under(layer, file)}`), ...opaque.map((dir) => `opaque\t${under(layer, dir)}`)]);
  if (flavour.family === "debian") {
    await Promise.all(["/var/lib/apt/lists/partial", "/var/cache/apt/archives/partial", "/var/lib/dpkg/updates", "/var/lib/dpkg/info"].map((dir) => fs.mkdir(under(layer, dir), { recursive: true })));
  }
  if (flavour.releasever) await seedRpmDatabase(runDir, layer, flavour);
  return layer;
}

/** The host's rpm database holds one file-less package providing $releasever, /bin/sh, bash and glibc. */
async function seedRpmDatabase(runDir: string, layer: string, flavour: Flavour): Promise<void> {
  const work = path.join(runDir, "rpm-base", flavour.name);
  await fs.mkdir(work, { recursive: true });
  const dbpath = under(layer, "/var/lib/rpm");
  const defines = ["--define", `_dbpath ${dbpath}`];
  const rpm = await buildRpm(work, work, rhelBase(flavour.releasever!, flavour.name.replace(/\d+$/, "")), defines);
  await execa("rpm", [...defines, "--initdb"]);
  await execa("rpm", [...defines, "-i", "--justdb", "--nodeps", "--noscripts", "--nosignature", rpm]);
  await fs.rm(work, { recursive: true, force: true });
}

export interface HostFiles {
  name: string;
  flavour: Flavour;
  swap: boolean;
  selinux?: "enforcing" | "permissive" | "disabled";
  units: Record<KnownUnit, UnitSetup>;
  hostKey: { privateKey: string; publicKey: string };
  authorizedKey: string;
  /** Extra files for the base layer: absolute path → content ("-> target" for a symlink). */
  files: Record<string, string>;
  /** /etc/containerd/config.toml over the packaged one (runtime.ts); null: none. */
  containerdConfig?: string | null;
}

/** This host's base layer, /root and /tmp. */
export async function prepareHostDirs(layout: HostLayout, host: HostFiles): Promise<void> {
  const { flavour } = host;
  await Promise.all(
    [...OVERLAID.flatMap((dir) => [under(layout.base, dir), under(layout.upper, dir), under(layout.work, dir)]), layout.devStage].map((dir) =>
      fs.mkdir(dir, { recursive: true }),
    ),
  );
  await fs.mkdir(path.join(layout.root, ".ssh"), { recursive: true, mode: 0o700 });
  await fs.chmod(layout.root, 0o700);
  await fs.writeFile(path.join(layout.root, ".ssh", "authorized_keys"), `${host.authorizedKey}\n`, { mode: 0o600 });
  await fs.mkdir(layout.tmp, { recursive: true });
  await fs.chmod(layout.tmp, 0o1777);

  const swapLine = host.swap ? flavour.swapLine : `# no swap: ${flavour.swapLine}`;
  const files: Record<string, string> = {
    "/etc/hostname": `${host.name}\n`,
    "/etc/hosts": `127.0.0.1   localhost localhost.localdomain\n::1         localhost localhost.localdomain\n127.0.1.1   ${host.name}\n`,
    "/etc/resolv.conf": "nameserver 127.0.0.1\n",
    "/etc/machine-id": `${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex")}\n`,
    "/etc/fstab": flavour.fstab(swapLine),
    "/etc/ssh/sshd_config": sshdConfig("/etc/ssh/ssh_host_ed25519_key"),
    "/etc/ssh/ssh_host_ed25519_key.pub": `${host.hostKey.publicKey}\n`,
  };
  const selinux = host.selinux ?? flavour.selinux;
  if (flavour.family === "rhel" && selinux) files["/etc/selinux/config"] = selinuxConfig(selinux);

  // Installed software: unit files and programs; enabled ones linked from multi-user.target.wants.
  const units: Array<{ unit: string; description: string; setup: UnitSetup; program?: { path: string; version: string } }> = [
    { unit: flavour.sshUnit, description: "OpenSSH server daemon", setup: "enabled" },
    ...Object.entries(host.units).map(([name, setup]) => ({ ...SOFTWARE[name as KnownUnit], setup })),
  ];
  const programs: Record<string, string> = {};
  for (const unit of units) {
    if (unit.setup === "absent") continue;
    files[`/usr/lib/systemd/system/${unit.unit}`] = unitFile(unit);
    if (unit.setup === "enabled") files[`/etc/systemd/system/multi-user.target.wants/${unit.unit}`] = `-> ${flavour.unitDir}/${unit.unit}`;
    if (unit.program && !REAL_PROGRAMS.has(unit.program.path)) programs[unit.program.path] = `#!/bin/sh\necho "${unit.program.version}"\n`;
  }
  const runtime = runtimeFiles(flavour.family, host.units, host.containerdConfig);
  await writeTree(layout.base, { ...files, ...runtime.files, ...host.files });
  // A host without containerd must not see this machine's (Debian's package): its package manager installs one.
  if (host.units.containerd === "absent") {
    const hidden = MACHINE_CONTAINERD.filter((file) => existsSync(file));
    await Promise.all(hidden.map((file) => fs.mkdir(path.dirname(under(layout.base, file)), { recursive: true })));
    if (hidden.length) await runLayerPlan(layout.dir, hidden.map((file) => `whiteout\t${under(layout.base, file)}`));
  }
  await writeTree(layout.base, { ...programs, ...runtime.programs }, 0o755);
  await fs.writeFile(under(layout.base, "/etc/ssh/ssh_host_ed25519_key"), host.hostKey.privateKey, { mode: 0o600 });
}

const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 4096, MOVE: 8192, REC: 16384 };

/** The mount plan init.pl carries out as the host's PID 1, ending in the boot script. */
export function mountPlan(layout: HostLayout, flavourLayer: string, hostname: string): string {
  const lines: string[] = [];
  const mount = (source: string, target: string, type: string, flags: number, data = "-") =>
    lines.push(["mount", source, target, type, String(flags), data].join("\t"));

  for (const dir of OVERLAID) {
    const lower = [under(layout.base, dir), under(flavourLayer, dir), dir].join(":");
    mount("overlay", dir, "overlay", 0, `lowerdir=${lower},upperdir=${under(layout.upper, dir)},workdir=${under(layout.work, dir)}`);
  }
  mount(layout.root, "/root", "-", MS.BIND);

  // What this namespace inherited below /run goes first: among it, every test host's
  // /run/netns/NAME, so that a host's mount table does not grow with the number of hosts.
  lines.push("detach\t/run");
  mount("tmpfs", "/run", "tmpfs", MS.NOSUID | MS.NODEV, "mode=755,size=64m");
  lines.push("mkdir\t/run/sshd\t0755", "mkdir\t/run/lock\t1777", `mkdir\t${SHIM_MOUNT}\t0755`);
  mount(layout.shim.dir, SHIM_MOUNT, "-", MS.BIND);

  // /dev: built aside, then moved over this machine's.
  const stage = layout.devStage;
  mount("tmpfs", stage, "tmpfs", MS.NOSUID | MS.NOEXEC, "mode=755,size=64k");
  for (const device of DEVICES) {
    lines.push(`file\t${stage}/${device}\t0666`);
    mount(`/dev/${device}`, `${stage}/${device}`, "-", MS.BIND);
  }
  lines.push(`mkdir\t${stage}/pts\t0755`, `mkdir\t${stage}/shm\t1777`);
  mount("devpts", `${stage}/pts`, "devpts", MS.NOSUID | MS.NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  mount("tmpfs", `${stage}/shm`, "tmpfs", MS.NOSUID | MS.NODEV, "mode=1777,size=16m");
  lines.push(
    `symlink\tpts/ptmx\t${stage}/ptmx`,
    `symlink\t/proc/self/fd\t${stage}/fd`,
    `symlink\t/proc/self/fd/0\t${stage}/stdin`,
    `symlink\t/proc/self/fd/1\t${stage}/stdout`,
    `symlink\t/proc/self/fd/2\t${stage}/stderr`,
  );
  mount(stage, "/dev", "-", MS.MOVE);

  // /proc/sys: read-only except net (per network namespace) and the per-host copies.
  lines.push(`write\t/proc/sys/kernel/hostname\t${hostname}`);
  mount("/proc/sys", "/proc/sys", "-", MS.BIND | MS.REC);
  mount("/proc/sys/net", "/proc/sys/net", "-", MS.BIND);
  for (const file of PER_HOST_SYSCTLS) mount(sysctlFile(layout.shim, file), file, "-", MS.BIND);
  mount("-", "/proc/sys", "-", MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
  for (const [file, value] of Object.entries(FRESH_NET_SYSCTLS)) lines.push(`write\t${file}\t${value}`);
  for (const entry of PROC_FILES) mount(path.join(layout.shim.runtime, entry), `/proc/${entry}`, "-", MS.BIND);
  mount("-", "/sys", "-", MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);

  // Last: after this, paths under this machine's /tmp (where the run lives) are out of sight,
  // and the rest of this machine's root (/home, /srv, /work, ...) is read-only to the host.
  mount(layout.tmp, "/tmp", "-", MS.BIND);
  mount("-", "/", "-", MS.BIND | MS.REMOUNT | MS.RDONLY);
  lines.push(`exec\t/bin/bash\t${SHIM_LIB_DIR}/boot.sh`);
  return lines.join("\n") + "\n";
}

/** Current values of the per-host kernel parameters, to seed each host's copies. */
export async function machineSysctls(): Promise<Record<string, string>> {
  const entries = await Promise.all(PER_HOST_SYSCTLS.map(async (file) => [file, await fs.readFile(file, "utf8")] as const));
  return Object.fromEntries(entries);
}
