/**
 * The recording shims: what cannot be confined to a host (swap, kernel
 * modules, systemd units, SELinux, firewalld, reboot) is
 * replaced by small bash scripts at the real paths, keeping per-host state in
 * the host's shim folder (bound at /run/testhost inside the host).
 *
 * This module says which script goes where, writes a host's shim
 * configuration, injects failures and reads the state back for tests.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FLAVOURS, SOFTWARE, unitFile, type Flavour, type FlavourName } from "../flavours.js";
import { DAEMONS } from "../runtime.js";

export const SHIM_SOURCES = path.dirname(fileURLToPath(import.meta.url));
/** Where lib.sh and boot.sh live inside a host. */
export const SHIM_LIB_DIR = "/usr/lib/kpki-testhost";
/** Where a host sees its shim folder. */
export const SHIM_MOUNT = "/run/testhost";

/** Source script → absolute paths it is installed at, for one flavour. */
export function shimInstalls(flavour: Flavour): Record<string, string[]> {
  const installs: Record<string, string[]> = {
    "lib.sh": [`${SHIM_LIB_DIR}/lib.sh`],
    "boot.sh": [`${SHIM_LIB_DIR}/boot.sh`],
    systemctl: ["/usr/bin/systemctl"],
    swap: ["/usr/sbin/swapon", "/usr/sbin/swapoff"],
    modules: ["/usr/sbin/modprobe", "/usr/sbin/lsmod"],
    reboot: ["/usr/sbin/reboot", "/usr/sbin/shutdown", "/usr/sbin/poweroff"],
  };
  if (flavour.family === "rhel") {
    installs.selinux = ["/usr/sbin/setenforce", "/usr/sbin/getenforce", "/usr/sbin/selinuxenabled"];
    installs["firewall-cmd"] = ["/usr/bin/firewall-cmd"];
  }
  return installs;
}

/** The shim folder's pieces, on this machine. */
export interface ShimDirs {
  dir: string;
  conf: string;
  faults: string;
  runtime: string;
  calls: string;
}

export function shimDirs(dir: string): ShimDirs {
  return {
    dir,
    conf: path.join(dir, "conf"),
    faults: path.join(dir, "faults"),
    runtime: path.join(dir, "runtime"),
    calls: path.join(dir, "calls.log"),
  };
}

export interface ShimConfig {
  flavour: FlavourName;
  /** Units that crash-loop ("activating (auto-restart)") until a file exists: kubelet until kubeadm wrote its config. */
  crashLoops: Record<string, string>;
}

/** Writes conf/ (env, crash loops, known packages and their unit files) and empty faults/. */
export async function writeShimConfig(dirs: ShimDirs, config: ShimConfig): Promise<void> {
  const flavour = FLAVOURS[config.flavour];
  await Promise.all(["crashloop", "daemons", "units"].map((sub) => fs.mkdir(path.join(dirs.conf, sub), { recursive: true })));
  await fs.mkdir(dirs.faults, { recursive: true });
  const env = {
    FLAVOUR: flavour.name,
    FAMILY: flavour.family,
    SYSTEMD_VERSION: String(flavour.systemdVersion),
    UNIT_DIR: flavour.unitDir,
    SWAP_KIB: "2097148",
    ZRAM_KIB: "8388604",
    SWAP_DISK: "/dev/vda5",
  };
  const writes: Promise<void>[] = [
    fs.writeFile(path.join(dirs.conf, "env"), Object.entries(env).map(([key, value]) => `${key}=${value}\n`).join("")),
    fs.writeFile(dirs.calls, ""),
  ];
  for (const [unit, { ready, command }] of Object.entries(DAEMONS)) {
    writes.push(fs.writeFile(path.join(dirs.conf, "daemons", unit), `${ready}\n${command}\n`));
  }
  for (const [unit, condition] of Object.entries(config.crashLoops)) {
    writes.push(fs.writeFile(path.join(dirs.conf, "crashloop", unit), `${condition}\n`));
  }
  for (const template of Object.values(SOFTWARE)) {
    writes.push(fs.writeFile(path.join(dirs.conf, "units", template.unit), unitFile(template)));
  }
  await Promise.all(writes);
}

/**
 * Empties runtime/ (what a boot resets) and makes the files the host's /proc
 * entries are bound to. sysctls: /proc/sys path → value, for the global
 * kernel parameters each host gets its own copy of.
 */
export async function resetRuntime(dirs: ShimDirs, sysctls: Record<string, string>): Promise<void> {
  await fs.rm(dirs.runtime, { recursive: true, force: true });
  await Promise.all(["units", "firewalld", "sysctl"].map((sub) => fs.mkdir(path.join(dirs.runtime, sub), { recursive: true })));
  const meminfo = await fs.readFile("/proc/meminfo", "utf8");
  await Promise.all([
    fs.writeFile(path.join(dirs.runtime, "swaps"), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"),
    fs.writeFile(path.join(dirs.runtime, "modules"), ""),
    fs.writeFile(path.join(dirs.runtime, "meminfo.base"), meminfo),
    fs.writeFile(path.join(dirs.runtime, "meminfo"), meminfo),
    ...Object.entries(sysctls).map(([procPath, value]) => fs.writeFile(sysctlFile(dirs, procPath), value)),
  ]);
}

/** The file a host's /proc/sys/... entry is bound to. */
export function sysctlFile(dirs: ShimDirs, procPath: string): string {
  return path.join(dirs.runtime, "sysctl", procPath.replace(/^\/proc\/sys\//, "").replaceAll("/", "."));
}

/**
 * The fault file name for a command line, as the shims look it up:
 * "systemctl start kubelet" → systemctl.start.kubelet.service,
 * "modprobe br-netfilter" → modprobe.br_netfilter, "swapoff" → swapoff,
 * "dnf install" → dnf.install.
 */
export function faultKey(command: string): string {
  const words = command.trim().split(/\s+/);
  const [program, verb, target] = words;
  if (!program) throw new Error("injectFailure needs a command, e.g. \"systemctl start kubelet\"");
  if (program === "systemctl") {
    if (!verb || !target) throw new Error(`a systemctl failure needs a verb and a unit: ${command}`);
    const unit = /\.(service|socket|target|swap|mount|timer|path|slice|scope|device)$/.test(target) ? target : `${target}.service`;
    return `systemctl.${verb}.${unit}`;
  }
  if (program === "modprobe") return target === undefined && verb ? `modprobe.${verb.replaceAll("-", "_")}` : "modprobe";
  return words.join(".");
}

export interface FailureOptions {
  /** Exit status (default 1; systemctl start of a unit that fails: 1). */
  exitCode?: number;
  /** What goes to stderr (default: what the real tool prints). */
  message?: string;
}

export async function writeFault(dirs: ShimDirs, command: string, options: FailureOptions = {}): Promise<void> {
  const message = options.message === undefined ? "" : options.message.endsWith("\n") ? options.message : `${options.message}\n`;
  await fs.writeFile(path.join(dirs.faults, faultKey(command)), `${options.exitCode ?? 1}\n${message}`);
}

export async function clearFaults(dirs: ShimDirs): Promise<void> {
  for (const name of await fs.readdir(dirs.faults)) await fs.rm(path.join(dirs.faults, name), { force: true });
}

/** What the shims hold for a host right now. */
export interface ShimState {
  /** Active swaps as the host's /proc/swaps lists them (names). */
  swaps: string[];
  modules: string[];
  /** Unit → runtime state (active, failed, inactive) for units that ever ran. */
  units: Record<string, string>;
  /** Enforcing, Permissive, Disabled; undefined on hosts without SELinux. */
  selinux?: string;
  /** firewalld's runtime ports per zone (when it ran at boot or since). */
  firewalldPorts: Record<string, string[]>;
  /** A reboot was asked for (reboot, shutdown -r, systemctl reboot). */
  rebootRequested: boolean;
}

async function readOptional(file: string): Promise<string | undefined> {
  return fs.readFile(file, "utf8").catch(() => undefined);
}

export async function readShimState(dirs: ShimDirs): Promise<ShimState> {
  const runtime = dirs.runtime;
  const [swaps, modules, selinux, reboot] = await Promise.all([
    readOptional(path.join(runtime, "swaps")),
    readOptional(path.join(runtime, "modules")),
    readOptional(path.join(runtime, "selinux")),
    readOptional(path.join(runtime, "reboot-requested")),
  ]);
  const units: Record<string, string> = {};
  for (const unit of await fs.readdir(path.join(runtime, "units")).catch(() => [] as string[])) {
    units[unit] = ((await readOptional(path.join(runtime, "units", unit))) ?? "").trim();
  }
  const firewalldPorts: Record<string, string[]> = {};
  for (const zone of await fs.readdir(path.join(runtime, "firewalld")).catch(() => [] as string[])) {
    firewalldPorts[zone] = ((await readOptional(path.join(runtime, "firewalld", zone))) ?? "").split(/\s+/).filter(Boolean);
  }
  return {
    swaps: (swaps ?? "").split("\n").slice(1).map((line) => line.split(/\s+/)[0]!).filter(Boolean),
    modules: (modules ?? "").split("\n").map((line) => line.split(" ")[0]!).filter(Boolean),
    units,
    selinux: selinux?.trim() || undefined,
    firewalldPorts,
    rebootRequested: reboot !== undefined,
  };
}

/** Every shim call so far, one command line each ("systemctl enable --now kubelet"). */
export async function readCalls(dirs: ShimDirs): Promise<string[]> {
  return ((await readOptional(dirs.calls)) ?? "").split("\n").filter(Boolean);
}
