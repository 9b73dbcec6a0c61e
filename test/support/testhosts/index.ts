/**
 * Real SSH test hosts for kpki's node commands (see
 * ../shared/reference/testhosts.md): each host is sshd as PID 1 of its own
 * network, mount, PID, UTS and IPC namespaces, reached at a link-local
 * address, seeing this machine's /etc, /usr, /var, /opt through overlays
 * whose upper layer (stateDir) holds exactly what was changed on it, with
 * recording shims for what cannot be confined (swap, modules, systemd,
 * SELinux, firewalld, reboot), and the real apt/dpkg or dnf/rpm.
 *
 *   const lab = await startTestHosts({ flavours: ["centos7", "rocky9", "ubuntu2204"] });
 *   try {
 *     const [centos] = lab.hosts;
 *     await ssh(centos, "swapoff -a");                       // or run kpki with centos.sshOptions
 *     await readFile(join(centos.stateDir, "etc/fstab"));    // exists only if changed
 *     await simulateReboot(centos);                          // runtime state rebuilt from /etc
 *   } finally {
 *     await lab.stop();
 *   }
 */
import { mkdtempSync, promises as fs, readFileSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { execa, type Result } from "execa";
import { FLAVOURS, isFlavour, type Family, type FlavourName, type KnownUnit, type UnitSetup } from "./flavours.js";
import {
  OVERLAID,
  hostLayout,
  machineSysctls,
  mountPlan,
  prepareFlavourLayer,
  prepareHostDirs,
  type HostLayout,
} from "./filesystem/overlay.js";
import {
  createNetwork,
  deleteNetwork,
  deleteStale,
  findStale,
  netnsInode,
  processesInNetns,
  recreateHostNetns,
  type HostNet,
  type Subnet,
} from "./network.js";
import type { RunFootprint } from "./isolation.js";
import { releaseInotify, reserveInotify } from "./limits.js";
import { HostProcess, processGone, processStart } from "./process.js";
import {
  clearFaults,
  readCalls,
  readShimState,
  resetRuntime,
  writeFault,
  writeShimConfig,
  type FailureOptions,
  type ShimState,
} from "./shims/index.js";
import { clientOptions, ed25519KeyPair, sshConfigBlock, waitForBanner } from "./sshd.js";

export { FLAVOURS, type Family, type FlavourName, type KnownUnit, type UnitSetup } from "./flavours.js";
export type { FailureOptions, ShimState } from "./shims/index.js";
export { testHostsAvailable } from "./requirements.js";
export { clientOptions, ed25519KeyPair } from "./sshd.js";

/**
 * rpm's sqlite database keeps a shared-memory index (rpmdb.sqlite-shm) and a
 * write-ahead log beside it that every reader, even `rpm -q`, touches, as on a
 * real EL9 host: "nothing changed" checks leave these two out (the database
 * file itself still counts).
 */
export function isRpmScratch(file: string): boolean {
  return /(^|\/)var\/lib\/rpm\/rpmdb\.sqlite-(shm|wal)$/.test(file);
}
export { leftovers, machineChanges, snapshotMachine, type MachineSnapshot, type RunFootprint } from "./isolation.js";

export interface HostSpec {
  flavour: FlavourName;
  /** Host name (a valid DNS label); default: the flavour, or flavour-N when it repeats. */
  name?: string;
  /** Installed software, over the flavour's defaults: { kubelet: "absent" } = kubelet not installed. */
  units?: Partial<Record<KnownUnit, UnitSetup>>;
  /** An active swap line in /etc/fstab (default true). */
  swap?: boolean;
  /** SELINUX= in /etc/selinux/config (RHEL family; default enforcing). */
  selinux?: "enforcing" | "permissive" | "disabled";
  /** kubelet "activating (auto-restart)" until /var/lib/kubelet/config.yaml exists, like a real one before kubeadm (default true). */
  kubeletCrashLoop?: boolean;
  /** Extra files of the host as it starts: absolute path → content ("-> target" for a symlink). Not in stateDir. */
  files?: Record<string, string>;
  /** /etc/containerd/config.toml as the host starts: default the package's (runtime.ts); null: none. */
  containerdConfig?: string | null;
}

export interface StartOptions {
  /** One host per entry, with the flavour's defaults. */
  flavours?: FlavourName[];
  /** Hosts with settings (after those of `flavours`). */
  hosts?: HostSpec[];
  /** How long a host may take to answer SSH (default 20 s). */
  bootTimeoutMs?: number;
}

export interface TestHost {
  name: string;
  flavour: FlavourName;
  family: Family;
  /** 169.254.N.(10+i): link-local, on this run's bridge. */
  address: string;
  port: 22;
  user: "root";
  identityFile: string;
  knownHostsFile: string;
  /** The overlay upper layers (etc/, usr/, var/, opt/): exactly the files changed on the host since it started. */
  stateDir: string;
  /** The shims' folder (conf/, faults/, runtime/, calls.log), /run/testhost inside the host. */
  shimDir: string;
  /** Client options, as `-o` pairs: `ssh -F /dev/null ...sshOptions root@address`. */
  sshOptions: string[];
  /** The host's public key line ("ssh-ed25519 AAAA..."). */
  hostKey: string;
}

export interface TestHosts {
  hosts: TestHost[];
  /** The run's temporary folder (removed by stop()). */
  dir: string;
  subnet: Subnet;
  identityFile: string;
  knownHostsFile: string;
  /** ssh_config with a `Host NAME` block per host (`ssh -F file centos7`). */
  sshConfigFile: string;
  /** Milliseconds from the call to every host answering SSH. */
  bringUpMs: number;
  /** An address on this run's subnet where no host is: "unreachable host" tests (no traffic leaves the bridge). */
  unusedAddress: string;
  byName(name: string): TestHost;
  /** What this run created, for "nothing left behind" checks after stop(). */
  footprint(): RunFootprint;
  simulateReboot(host: TestHost): Promise<void>;
  /** Tears everything down; safe to call twice. Returns the milliseconds it took. */
  stop(): Promise<number>;
}

interface HostRecord {
  host: TestHost;
  spec: Required<Pick<HostSpec, "flavour">> & HostSpec;
  layout: HostLayout;
  net: HostNet;
  process: HostProcess;
  run: Run;
}

const records = new WeakMap<TestHost, HostRecord>();

function record(host: TestHost): HostRecord {
  const found = records.get(host);
  if (!found) throw new Error(`${host.name} is not a running test host`);
  return found;
}

function hostSpecs(options: StartOptions): HostSpec[] {
  const specs: HostSpec[] = [...(options.flavours ?? []).map((flavour) => ({ flavour })), ...(options.hosts ?? [])];
  if (specs.length === 0) throw new Error("startTestHosts: no hosts asked for (flavours or hosts)");
  for (const spec of specs) {
    if (!isFlavour(spec.flavour)) throw new Error(`unknown test host flavour "${spec.flavour}" (known: ${Object.keys(FLAVOURS).join(", ")})`);
  }
  const counts = new Map<string, number>();
  for (const spec of specs) counts.set(spec.flavour, (counts.get(spec.flavour) ?? 0) + 1);
  const seen = new Map<string, number>();
  const names = new Set<string>();
  return specs.map((spec) => {
    const n = (seen.get(spec.flavour) ?? 0) + 1;
    seen.set(spec.flavour, n);
    const name = spec.name ?? (counts.get(spec.flavour)! > 1 ? `${spec.flavour}-${n}` : spec.flavour);
    if (!/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/.test(name)) throw new Error(`test host name "${name}" is not a short DNS label`);
    if (names.has(name)) throw new Error(`two test hosts named "${name}"`);
    names.add(name);
    return { ...spec, name };
  });
}

/** The run folder: under the temp dir, never under a folder the hosts overlay. */
function makeRunDir(): string {
  let base = realpathSync(tmpdir());
  if (OVERLAID.some((dir) => base === dir || base.startsWith(`${dir}/`))) base = "/tmp";
  return mkdtempSync(path.join(base, "kpki-testhosts-"));
}

class Run implements TestHosts {
  hosts: TestHost[] = [];
  subnet!: Subnet;
  bringUpMs = 0;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  readonly sshConfigFile: string;
  private readonly all: HostRecord[] = [];
  private networkUp = false;
  private networkHosts: HostNet[] = [];
  private stopping?: Promise<number>;
  private sysctls: Record<string, string> = {};
  /** PIDs this run started (unshare parents, sshds) → their start times. */
  private readonly seenPids = new Map<number, string | undefined>();
  private readonly inodes = new Set<number>();

  constructor(readonly dir: string) {
    this.identityFile = path.join(dir, "client", "id_ed25519");
    this.knownHostsFile = path.join(dir, "client", "known_hosts");
    this.sshConfigFile = path.join(dir, "client", "ssh_config");
  }

  byName(name: string): TestHost {
    const host = this.hosts.find((candidate) => candidate.name === name);
    if (!host) throw new Error(`no test host named ${name} (have ${this.hosts.map((h) => h.name).join(", ")})`);
    return host;
  }

  async start(options: StartOptions): Promise<void> {
    const started = performance.now();
    const specs = hostSpecs(options);
    const client = ed25519KeyPair("kpki-testhosts-client");
    await fs.mkdir(path.dirname(this.identityFile), { recursive: true, mode: 0o700 });
    await fs.writeFile(this.identityFile, client.privateKey, { mode: 0o600 });
    await fs.writeFile(`${this.identityFile}.pub`, `${client.publicKey}\n`);
    this.sysctls = await machineSysctls();

    const flavours = [...new Set(specs.map((spec) => spec.flavour))];
    const layers = Object.fromEntries(flavours.map((name) => [name, path.join(this.dir, "layers", name)]));
    const prepared = specs.map((spec) => ({ spec, layout: hostLayout(this.dir, spec.name!), key: ed25519KeyPair(`root@${spec.name}`) }));

    // All settle before any error is thrown, so teardown knows everything that was made.
    const settled = await Promise.allSettled([
      createNetwork(this.dir, specs.map((spec) => spec.name!)),
      ...flavours.map((name) => prepareFlavourLayer(this.dir, FLAVOURS[name])),
      ...prepared.map(({ spec, layout, key }) => this.prepareHost(spec, layout, key, client.publicKey, layers[spec.flavour]!)),
    ]);
    const first = settled[0] as PromiseSettledResult<Awaited<ReturnType<typeof createNetwork>>>;
    if (first.status === "fulfilled") {
      this.networkUp = true;
      this.subnet = first.value.subnet;
      this.networkHosts = first.value.hosts;
    }
    const failure = settled.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
    const network = (first as PromiseFulfilledResult<Awaited<ReturnType<typeof createNetwork>>>).value;

    prepared.forEach(({ spec, layout, key }, i) => {
      const net = network.hosts[i]!;
      const host: TestHost = {
        name: spec.name!,
        flavour: spec.flavour,
        family: FLAVOURS[spec.flavour].family,
        address: net.address,
        port: 22,
        user: "root",
        identityFile: this.identityFile,
        knownHostsFile: this.knownHostsFile,
        stateDir: layout.upper,
        shimDir: layout.shim.dir,
        sshOptions: clientOptions(this.identityFile, this.knownHostsFile),
        hostKey: key.publicKey,
      };
      const hostRecord: HostRecord = { host, spec, layout, net, process: new HostProcess(net.netns, layout.plan, layout.log), run: this };
      records.set(host, hostRecord);
      this.all.push(hostRecord);
      this.hosts.push(host);
      const inode = netnsInode(net.netns);
      if (inode !== undefined) this.inodes.add(inode);
    });
    await fs.writeFile(this.knownHostsFile, this.hosts.map((host) => `${host.address} ${host.hostKey}\n`).join(""));
    await fs.writeFile(
      this.sshConfigFile,
      this.hosts.map((host) => sshConfigBlock(host.name, host.address, this.identityFile, this.knownHostsFile)).join("\n"),
    );

    await reserveInotify(this.dir, this.all.length);
    await Promise.all(this.all.map((hostRecord) => this.boot(hostRecord, options.bootTimeoutMs ?? 20_000)));
    this.bringUpMs = performance.now() - started;
  }

  private async prepareHost(spec: HostSpec, layout: HostLayout, key: { privateKey: string; publicKey: string }, authorizedKey: string, flavourLayer: string) {
    const flavour = FLAVOURS[spec.flavour];
    await prepareHostDirs(layout, {
      name: spec.name!,
      flavour,
      swap: spec.swap ?? true,
      selinux: spec.selinux,
      units: { ...flavour.units, ...spec.units },
      hostKey: key,
      authorizedKey,
      files: spec.files ?? {},
      containerdConfig: spec.containerdConfig,
    });
    await writeShimConfig(layout.shim, {
      flavour: spec.flavour,
      crashLoops: spec.kubeletCrashLoop === false ? {} : { "kubelet.service": "/var/lib/kubelet/config.yaml" },
    });
    await resetRuntime(layout.shim, this.sysctls);
    await fs.writeFile(layout.plan, mountPlan(layout, flavourLayer, spec.name!));
  }

  private async boot(hostRecord: HostRecord, timeoutMs: number): Promise<void> {
    const { process: hostProcess, host } = hostRecord;
    hostProcess.start();
    if (hostProcess.parentPid) this.seenPids.set(hostProcess.parentPid, processStart(hostProcess.parentPid));
    try {
      await waitForBanner(host.address, host.port, timeoutMs, () => hostProcess.running);
    } catch (error) {
      throw new Error(`test host ${host.name} did not come up: ${(error as Error).message}\n--- ${hostProcess.log}:\n${hostProcess.logTail()}`);
    }
    const sshd = hostProcess.findSshd();
    if (sshd !== undefined) this.seenPids.set(sshd, processStart(sshd));
  }

  async simulateReboot(host: TestHost): Promise<void> {
    const hostRecord = record(host);
    if (hostRecord.run !== this || this.stopping) throw new Error(`${host.name} is not running`);
    await hostRecord.process.stop();
    await recreateHostNetns(this.subnet, hostRecord.net);
    const inode = netnsInode(hostRecord.net.netns);
    if (inode !== undefined) this.inodes.add(inode);
    await resetRuntime(hostRecord.layout.shim, this.sysctls);
    await this.boot(hostRecord, 20_000);
  }

  get unusedAddress(): string {
    return `169.254.${this.subnet.octet}.250`;
  }

  footprint(): RunFootprint {
    return {
      dir: this.dir,
      bridge: this.subnet?.bridge ?? "",
      netns: this.all.map((hostRecord) => hostRecord.net.netns),
      netnsInodes: [...this.inodes],
      pids: [...this.seenPids.keys()],
      pidStarts: Object.fromEntries(this.seenPids),
      addresses: [...(this.subnet ? [this.subnet.gateway] : []), ...this.hosts.map((host) => host.address)],
    };
  }

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
    await Promise.all(this.all.map((hostRecord) => attempt(() => hostRecord.process.stop())));
    // Nothing may outlive its host's sshd (the kernel kills a PID namespace with its PID 1); check
    // while the namespaces still have their names, and kill stragglers rather than leave them.
    await attempt(() => killStragglers(this.all.map((hostRecord) => hostRecord.net.netns)));
    // The hosts' processes are gone, and their inotify instances with them.
    await attempt(() => releaseInotify(this.dir));
    // (When creating the network failed, createNetwork cleaned up after itself.)
    if (this.networkUp) await attempt(() => deleteNetwork(this.subnet, this.networkHosts));
    await attempt(() => unmountUnder(this.dir));
    await attempt(() => fs.rm(this.dir, { recursive: true, force: true }));
    if (errors.length) throw new AggregateError(errors, `stopping the test hosts left errors: ${errors.map(String).join("; ")}`);
    return performance.now() - started;
  }
}

async function killStragglers(namespaces: string[]): Promise<void> {
  const stragglers = namespaces.flatMap((netns) => processesInNetns(netns).filter((pid) => !processGone(pid)).map((pid) => ({ netns, pid })));
  if (stragglers.length === 0) return;
  for (const { pid } of stragglers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  const deadline = Date.now() + 3000;
  while (stragglers.some(({ pid }) => !processGone(pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  throw new Error(`processes outlived their test host and were killed: ${stragglers.map(({ netns, pid }) => `${pid} in ${netns}`).join(", ")}`);
}

/** Mounts in this namespace under the run folder (there should be none: every mount lives in a host's namespace). */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .reverse();
  for (const mountPoint of mounts) await execa("umount", ["-l", mountPoint], { reject: false });
}

/**
 * Starts test hosts in parallel and waits until each answers SSH. On failure
 * everything already made is torn down before the error is thrown. Call
 * stop() (in afterAll) to leave the machine as found.
 */
export async function startTestHosts(options: StartOptions): Promise<TestHosts> {
  await reapStaleTestHosts();
  const run = new Run(makeRunDir());
  try {
    await run.start(options);
  } catch (error) {
    const cleanup = await run.stop().then(
      () => "",
      (stopError: unknown) => `\n(and cleaning up failed too: ${String(stopError)})`,
    );
    if (cleanup && error instanceof Error) error.message += cleanup;
    throw error;
  }
  return run;
}

/** Stops the host and starts it again from its persisted files: swap from fstab, modules, sysctl.d, enabled units, SELinux config. */
export async function simulateReboot(host: TestHost): Promise<void> {
  await record(host).run.simulateReboot(host);
}

/**
 * Makes a shim fail: "systemctl start kubelet" (also at boot and for enable --now),
 * "systemctl enable containerd", "modprobe br_netfilter", "swapoff", "setenforce",
 * "firewall-cmd", "dnf install". Lasts until clearFailures (survives reboots).
 */
export async function injectFailure(host: TestHost, command: string, options?: FailureOptions): Promise<void> {
  await writeFault(record(host).layout.shim, command, options);
}

/** The host's sshd (its PID 1), as seen from here: for fault tests that stop it (SIGSTOP) and resume it. */
export function hostSshdPid(host: TestHost): number | undefined {
  return record(host).process.findSshd();
}

export async function clearFailures(host: TestHost): Promise<void> {
  await clearFaults(record(host).layout.shim);
}

/** The shims' view of a host right now: active swaps, modules, unit states, SELinux mode, firewalld ports. */
export async function shimState(host: TestHost): Promise<ShimState> {
  return readShimState(record(host).layout.shim);
}

/** Every shim call made on the host, in order ("systemctl enable --now kubelet"). */
export async function shimCalls(host: TestHost): Promise<string[]> {
  return readCalls(record(host).layout.shim);
}

/** What ssh needs of a host: a test host here, or another kind reached the same way (test/support/nspawn). */
export type SshTarget = Pick<TestHost, "sshOptions" | "user" | "address">;

/** ssh's arguments for a host: `ssh ...sshArgs(host, "uptime")`; ignores the user's ~/.ssh/config. */
export function sshArgs(host: SshTarget, command?: string): string[] {
  return ["-F", "/dev/null", ...host.sshOptions, `${host.user}@${host.address}`, ...(command === undefined ? [] : [command])];
}

/** Runs one command on a host with the system ssh client; never rejects (check exitCode). */
export async function ssh(host: SshTarget, command: string, options: { timeoutMs?: number } = {}): Promise<Result<{ reject: false }>> {
  return execa("ssh", sshArgs(host, command), { reject: false, stdin: "ignore", timeout: options.timeoutMs ?? 30_000 }) as Promise<
    Result<{ reject: false }>
  >;
}

/**
 * Cleans up after runs whose process died without stop() (a killed test
 * runner): their sshd and unshare processes (checked by name and network
 * namespace), namespaces, bridge and temp folder. Runs of live processes
 * are left alone. Returns how many runs were cleaned.
 */
export async function reapStaleTestHosts(): Promise<number> {
  const stale = await findStale();
  for (const run of stale) {
    const inodes = new Set(run.netns.map((name) => netnsInode(name)).filter((inode) => inode !== undefined).map((inode) => `net:[${inode}]`));
    const victims: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      try {
        const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        if (!["sshd", "unshare", "perl", "bash"].includes(comm)) continue;
        if (inodes.has(readlinkSync(`/proc/${pid}/ns/net`))) victims.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    for (const pid of victims) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    const deadline = Date.now() + 3000;
    while (victims.some((pid) => !processGone(pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await deleteStale(run);
    if (run.runDir && /\/kpki-testhosts-[^/]+$/.test(run.runDir)) {
      await releaseInotify(run.runDir);
      await fs.rm(run.runDir, { recursive: true, force: true });
    }
  }
  return stale.length;
}
