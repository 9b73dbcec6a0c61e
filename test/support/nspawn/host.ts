/**
 * A Debian 12 host with a real systemd: the cached rootfs (rootfs.ts) booted
 * by systemd-nspawn on a test bridge (test/support/testhosts' network),
 * reached over SSH with a per-boot ed25519 host key in known_hosts and
 * key-only root login. Each host boots from an overlay whose upper layer is
 * its own (stateDir), so a host starts fresh and keeps its changes across a
 * reboot (a restart of the container).
 *
 * The process tree, per boot: `unshare --mount` (so the overlay mount lives
 * and dies with the container, never in this machine's mount table) runs a
 * shell that puts itself in a cgroup of its own, mounts the overlay and
 * execs systemd-nspawn; that PID is the one signalled. nspawn (--keep-unit,
 * no systemd as PID 1 here) makes its payload/supervisor cgroups beside its
 * own: in a cgroup of ours they are removed with it, and two containers
 * never share them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, promises as fs, readFileSync, readdirSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createNetwork, deleteNetwork, type Subnet } from "../testhosts/network.js";
import { processGone } from "../testhosts/process.js";
import { clientOptions, ed25519KeyPair, waitForBanner, type KeyPair } from "../testhosts/sshd.js";
import { reapStaleTestHosts, ssh } from "../testhosts/index.js";
import { defaultRecipe } from "./packages.js";
import { debianRootfs, type RootfsRecipe } from "./rootfs.js";

/** nspawn's state folder on this machine: removed again when a run made it. */
const NSPAWN_RUN = "/run/systemd/nspawn";
/** Marks NSPAWN_RUN as made by a kpki run, so whichever run stops last removes it. */
const NSPAWN_RUN_MARK = path.join(NSPAWN_RUN, ".kpki-made");
export const CGROUP_PREFIX = "kpki-nspawn-";

export interface NspawnHostOptions {
  /** Host name (a DNS label); default debian12. */
  name?: string;
  /** What the image holds besides Debian 12 (default: containerd and a kubelet stand-in: packages.ts). */
  recipe?: RootfsRecipe;
  /** How long a boot may take until SSH answers and systemd says the boot is done (default 60 s). */
  bootTimeoutMs?: number;
  /** Told when the cached rootfs has to be built first (minutes). */
  onBuild?: (dir: string) => void;
}

export interface NspawnFootprint {
  dir: string;
  bridge: string;
  machine: string;
  veth: string;
  cgroups: string[];
  pids: number[];
  addresses: string[];
}

/** A process's start time (field 22 of its stat), which tells it from a later process with the same PID. */
function processStart(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19];
  } catch {
    return undefined;
  }
}

/** The hierarchies nspawn places itself in: cgroup v2 (unified) and v1's name=systemd, whichever this machine mounts. */
export function cgroupRoots(): string[] {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return ["/sys/fs/cgroup"];
  return ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"].filter((root) => existsSync(path.join(root, "cgroup.procs")));
}

/** Every cgroup folder under dir, deepest first. */
function cgroupTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const below = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => cgroupTree(path.join(dir, entry.name)));
  return [...below, dir];
}

function cgroupPids(dir: string): number[] {
  return cgroupTree(dir).flatMap((folder) =>
    (existsSync(path.join(folder, "cgroup.procs")) ? readFileSync(path.join(folder, "cgroup.procs"), "utf8") : "")
      .split("\n")
      .filter(Boolean)
      .map(Number),
  );
}

/** Kills every process in a cgroup tree, then removes it, deepest first; returns the PIDs that were still there. */
async function clearCgroup(dir: string): Promise<number[]> {
  const pids = cgroupPids(dir).filter((pid) => !processGone(pid));
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  const deadline = Date.now() + 5000;
  while (pids.some((pid) => !processGone(pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  for (const folder of cgroupTree(dir)) await fs.rmdir(folder).catch(() => undefined);
  return pids;
}

/** The shell between unshare and nspawn: its own cgroup, the overlay, then exec. Paths come in the environment. */
const LAUNCH = `set -e
for root in $KPKI_CGROUP_ROOTS; do mkdir -p "$root/$KPKI_CGROUP"; echo $$ > "$root/$KPKI_CGROUP/cgroup.procs"; done
mount -t overlay overlay -o "lowerdir=$KPKI_LOWER,upperdir=$KPKI_UPPER,workdir=$KPKI_WORK" "$KPKI_MERGED"
exec systemd-nspawn --quiet --directory="$KPKI_MERGED" --machine="$KPKI_MACHINE" --boot --register=no --keep-unit \\
  --network-bridge="$KPKI_BRIDGE" --console=pipe --link-journal=no --resolv-conf=off --timezone=off \\
  --bind-ro="$KPKI_NODE:/usr/local/bin/node"
`;

export class NspawnHost {
  readonly user = "root" as const;
  readonly port = 22 as const;
  address = "";
  /** The overlay's upper layer: exactly the files changed on the host since its first boot. */
  readonly stateDir: string;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  sshOptions: string[] = [];
  /** The container's name for nspawn (its veth on the bridge is vb-NAME). */
  machine = "";
  /** Per boot, milliseconds from starting nspawn to systemd saying the boot is done. */
  readonly bootMs: number[] = [];
  private subnet?: Subnet;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private readonly seenPids = new Set<number>();
  private cgroup = "";
  private stopping?: Promise<number>;

  private constructor(
    readonly dir: string,
    readonly name: string,
    private readonly lower: string,
    private readonly bootTimeoutMs: number,
  ) {
    this.stateDir = path.join(dir, "upper");
    this.identityFile = path.join(dir, "client", "id_ed25519");
    this.knownHostsFile = path.join(dir, "client", "known_hosts");
  }

  /** Builds (or reuses) the rootfs, claims a bridge, writes the host's own files and boots it. Call stop() in afterAll. */
  static async start(options: NspawnHostOptions = {}): Promise<NspawnHost> {
    const name = options.name ?? "debian12";
    // A killed run's containers first (they hold its bridge), then its bridge and folder.
    await reapStaleNspawnHosts();
    await reapStaleTestHosts();
    const lower = await debianRootfs(options.recipe ?? defaultRecipe(), options.onBuild);
    let base = realpathSync(tmpdir());
    if (["/etc", "/usr", "/var", "/opt"].some((dir) => base === dir || base.startsWith(`${dir}/`))) base = "/tmp";
    const host = new NspawnHost(mkdtempSync(path.join(base, "kpki-testhosts-nspawn-")), name, lower, options.bootTimeoutMs ?? 60_000);
    try {
      await host.prepare();
      await host.boot();
    } catch (error) {
      await host.stop().catch((stopError: unknown) => {
        if (error instanceof Error) error.message += `\n(and cleaning up failed too: ${String(stopError)})`;
      });
      throw error;
    }
    return host;
  }

  private async prepare(): Promise<void> {
    const { subnet } = await createNetwork(this.dir, []);
    this.subnet = subnet;
    this.address = `169.254.${subnet.octet}.11`;
    this.machine = `kpki${subnet.octet}-${this.name}`.slice(0, 12);
    this.cgroup = `${CGROUP_PREFIX}${process.pid}-${processStart(process.pid)}-${subnet.octet}`;
    for (const dir of ["work", "merged", "client"]) await fs.mkdir(path.join(this.dir, dir), { mode: 0o700 });
    const client = ed25519KeyPair("kpki-nspawn-client");
    const hostKey = ed25519KeyPair(`root@${this.name}`);
    await fs.writeFile(this.identityFile, client.privateKey, { mode: 0o600 });
    await fs.writeFile(`${this.identityFile}.pub`, `${client.publicKey}\n`);
    await fs.writeFile(this.knownHostsFile, `${this.address} ${hostKey.publicKey}\n`);
    this.sshOptions = clientOptions(this.identityFile, this.knownHostsFile);
    await this.writeHostFiles(hostKey, client.publicKey);
  }

  /** The host's own files, in the upper layer (folders with the modes of the image's). */
  private async writeHostFiles(hostKey: KeyPair, authorizedKey: string): Promise<void> {
    const upper = this.stateDir;
    const dirs: [string, number][] = [["", 0o755], ["etc", 0o755], ["etc/ssh", 0o755], ["etc/systemd", 0o755], ["etc/systemd/network", 0o755], ["root", 0o700], ["root/.ssh", 0o700]];
    for (const [dir, mode] of dirs) {
      await fs.mkdir(path.join(upper, dir), { mode });
      await fs.chmod(path.join(upper, dir), mode);
    }
    const files: [string, string, number][] = [
      ["etc/hostname", `${this.name}\n`, 0o644],
      ["etc/machine-id", `${randomBytes(16).toString("hex")}\n`, 0o444],
      ["etc/ssh/ssh_host_ed25519_key", hostKey.privateKey, 0o600],
      ["etc/ssh/ssh_host_ed25519_key.pub", `${hostKey.publicKey}\n`, 0o644],
      ["root/.ssh/authorized_keys", `${authorizedKey}\n`, 0o600],
      // Not host0.network: systemd's own 80-container-host0.network would win over it. A 169.254/16
      // address is link-local to networkd, which would probe for conflicts (RFC 5227) for ~6 s first.
      [
        "etc/systemd/network/10-host0.network",
        `[Match]\nName=host0\n\n[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n\n[Address]\nAddress=${this.address}/24\nDuplicateAddressDetection=none\n`,
        0o644,
      ],
    ];
    for (const [file, content, mode] of files) await fs.writeFile(path.join(upper, file), content, { mode });
  }

  /** This machine's address on the host's bridge: where a test serves what the host should reach (package repositories). */
  get gateway(): string {
    return this.subnet?.gateway ?? "";
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** PID of systemd-nspawn (the exec'd launcher), while it runs. */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  private async boot(): Promise<void> {
    const started = performance.now();
    if (!existsSync(NSPAWN_RUN)) {
      await fs.mkdir(NSPAWN_RUN, { recursive: true, mode: 0o755 });
      await fs.writeFile(NSPAWN_RUN_MARK, "");
    }
    const log = openSync(path.join(this.dir, "console.log"), "a");
    try {
      this.child = spawn("unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", LAUNCH], {
        stdio: ["ignore", log, log],
        env: {
          PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
          LANG: "C.UTF-8",
          KPKI_CGROUP_ROOTS: cgroupRoots().join(" "),
          KPKI_CGROUP: this.cgroup,
          KPKI_LOWER: this.lower,
          KPKI_UPPER: this.stateDir,
          KPKI_WORK: path.join(this.dir, "work"),
          KPKI_MERGED: path.join(this.dir, "merged"),
          KPKI_MACHINE: this.machine,
          KPKI_BRIDGE: this.subnet!.bridge,
          // The crictl stand-in (cri-tools in the test repositories) is a Node program; the real crictl is a static binary.
          KPKI_NODE: process.execPath,
        },
      });
    } finally {
      closeSync(log);
    }
    const child = this.child;
    this.exited = new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    if (child.pid) this.seenPids.add(child.pid);
    try {
      await waitForBanner(this.address, 22, this.bootTimeoutMs, () => this.running);
      // The banner comes early in the boot; wait for systemd to finish it (units wanted at boot started or failed).
      const state = await ssh(this, "systemctl is-system-running --wait", { timeoutMs: this.bootTimeoutMs });
      if (!["running", "degraded"].includes(state.stdout.trim())) throw new Error(`systemd says ${state.stdout.trim() || state.stderr.trim()}`);
    } catch (error) {
      throw new Error(`nspawn host ${this.name} did not boot: ${(error as Error).message}\n--- console:\n${this.consoleTail()}`);
    }
    this.bootMs.push(performance.now() - started);
  }

  consoleTail(lines = 20): string {
    try {
      return readFileSync(path.join(this.dir, "console.log"), "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** Halts the container (SIGTERM to nspawn: a clean systemd shutdown), then removes its cgroups. */
  private async halt(graceMs = 30_000): Promise<void> {
    const child = this.child;
    if (child?.pid !== undefined && this.running) {
      const comm = readFileSync(`/proc/${child.pid}/comm`, "utf8").trim();
      if (comm !== "systemd-nspawn" && comm !== "unshare" && comm !== "sh") throw new Error(`process ${child.pid} is ${comm}, not our nspawn`);
      child.kill("SIGTERM");
      const halted = await Promise.race([this.exited!.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs).unref())]);
      if (!halted && this.running) {
        child.kill("SIGKILL");
        await this.exited;
      }
    }
    await this.removeCgroups();
  }

  /** Kills what is left in our cgroups (nothing after a clean halt), then removes them. */
  private async removeCgroups(): Promise<void> {
    if (!this.cgroup) return;
    const left: number[] = [];
    for (const root of cgroupRoots()) left.push(...(await clearCgroup(path.join(root, this.cgroup))));
    for (const pid of left) this.seenPids.add(pid);
    if (left.length) throw new Error(`processes outlived the nspawn host ${this.name} and were killed: ${[...new Set(left)].join(", ")}`);
  }

  /** A real reboot: the container halts (systemd shuts down) and boots again from the same filesystem. */
  async reboot(): Promise<void> {
    if (this.stopping || !this.running) throw new Error(`${this.name} is not running`);
    await this.halt();
    await this.boot();
  }

  footprint(): NspawnFootprint {
    return {
      dir: this.dir,
      bridge: this.subnet?.bridge ?? "",
      machine: this.machine,
      veth: `vb-${this.machine}`.slice(0, 15),
      cgroups: cgroupRoots().map((root) => path.join(root, this.cgroup)),
      pids: [...this.seenPids],
      addresses: this.subnet ? [this.subnet.gateway, this.address] : [],
    };
  }

  /** Halts the host and removes everything it made; safe to call twice. Returns the milliseconds it took. */
  stop(): Promise<number> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<number> {
    const started = performance.now();
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    await attempt(() => this.halt());
    if (this.subnet) await attempt(() => deleteNetwork(this.subnet!, []));
    await attempt(() => removeNspawnRunIfOurs());
    await attempt(() => fs.rm(this.dir, { recursive: true, force: true }));
    if (errors.length) throw new AggregateError(errors, `stopping the nspawn host left errors: ${errors.map(String).join("; ")}`);
    return performance.now() - started;
  }
}

/**
 * Cleans up after runs that died without stop() (a killed test runner): a
 * container outlives its runner, so every process in a kpki-nspawn cgroup
 * whose owner (PID and start time in its name) is gone is killed, and the
 * cgroups removed. Its bridge and run folder are the test hosts' own
 * reaping's (reapStaleTestHosts). Returns the cgroups reaped.
 */
export async function reapStaleNspawnHosts(): Promise<string[]> {
  const reaped: string[] = [];
  for (const root of cgroupRoots()) {
    for (const entry of readdirSync(root, { withFileTypes: true })) {
      const owner = new RegExp(`^${CGROUP_PREFIX}(\\d+)-(\\d+)-\\d+$`).exec(entry.name);
      if (!entry.isDirectory() || !owner) continue;
      if (processStart(Number(owner[1])) === owner[2]) continue; // its run is alive
      const dir = path.join(root, entry.name);
      await clearCgroup(dir);
      reaped.push(dir);
    }
  }
  return reaped;
}

/** /run/systemd/nspawn, when a kpki run made it and no container uses it any more (its folders are empty). */
async function removeNspawnRunIfOurs(): Promise<void> {
  if (!existsSync(NSPAWN_RUN_MARK)) return;
  const entries = readdirSync(NSPAWN_RUN, { withFileTypes: true });
  if (entries.some((entry) => entry.name !== ".kpki-made" && (!entry.isDirectory() || readdirSync(path.join(NSPAWN_RUN, entry.name)).length > 0))) return;
  for (const entry of entries) if (entry.isDirectory()) await fs.rmdir(path.join(NSPAWN_RUN, entry.name)).catch(() => undefined);
  await fs.rm(NSPAWN_RUN_MARK, { force: true });
  await fs.rmdir(NSPAWN_RUN).catch(() => undefined);
}
