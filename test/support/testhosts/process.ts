/**
 * A test host's processes: `ip netns exec NS unshare ... init.pl PLAN`, where
 * init.pl (then boot.sh, then sshd) is PID 1 of fresh mount, PID, UTS and IPC
 * namespaces. Stopping signals that sshd by PID, after checking its name and
 * network namespace; SIGKILL of the unshare parent is the fallback
 * (`--kill-child` then takes the child with it). `unshare --fork` ignores
 * SIGTERM itself, so signalling the parent alone would not work.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { INIT } from "./filesystem/overlay.js";
import { netnsInode } from "./network.js";

const UNSHARE = ["unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private"];

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function readOr(file: string, fallback = ""): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

/** Children of a process (this kernel has no /proc/PID/task/TID/children: scan). */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((candidate) => parentOf(candidate) === pid);
}

/** "net:[INODE]" of a process, or undefined when it is gone. */
function netnsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** Whether a process is gone (a zombie counts as gone: it is only waiting to be reaped). */
/** The process's start time (clock ticks since boot, /proc/PID/stat field 22): tells a reused PID from the process seen. */
export function processStart(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat ? stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] : undefined;
}

export function processGone(pid: number): boolean {
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return true;
  return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}

export class HostProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private done = false;
  /** The sshd (PID 1 of the host's PID namespace), as seen from here, once found. */
  sshdPid?: number;

  constructor(
    readonly netns: string,
    readonly plan: string,
    readonly log: string,
  ) {}

  start(): void {
    const logFd = openSync(this.log, "a");
    try {
      this.done = false;
      this.sshdPid = undefined;
      this.child = spawn("ip", ["netns", "exec", this.netns, ...UNSHARE, "/usr/bin/perl", INIT, this.plan], {
        stdio: ["ignore", logFd, logFd],
        env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: "/root" },
      });
    } finally {
      closeSync(logFd);
    }
    this.exited = new Promise((resolve) => {
      this.child!.once("exit", () => {
        this.done = true;
        resolve();
      });
      this.child!.once("error", () => {
        this.done = true;
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.child !== undefined && !this.done;
  }

  /** PID of the unshare parent (this process's child). */
  get parentPid(): number | undefined {
    return this.child?.pid;
  }

  /** The host's PID 1 if it is sshd in the host's network namespace; undefined otherwise. */
  findSshd(): number | undefined {
    const parent = this.child?.pid;
    if (parent === undefined || !this.running) return undefined;
    const inode = netnsInode(this.netns);
    for (const pid of childrenOf(parent)) {
      if (readOr(`/proc/${pid}/comm`).trim() !== "sshd") continue;
      if (inode === undefined || netnsOf(pid) !== `net:[${inode}]`) continue;
      this.sshdPid = pid;
      return pid;
    }
    return undefined;
  }

  /** Stops the host: SIGTERM to its sshd, then SIGKILL to the unshare parent after graceMs. */
  async stop(graceMs = 2000): Promise<void> {
    if (!this.running) return;
    const sshd = this.findSshd();
    if (sshd !== undefined) {
      try {
        process.kill(sshd, "SIGTERM");
      } catch {
        // already gone
      }
    }
    const timedOut = await Promise.race([
      this.exited!.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), sshd === undefined ? 0 : graceMs).unref()),
    ]);
    if (timedOut && this.running) {
      this.child!.kill("SIGKILL");
      await this.exited;
    }
  }

  /** Waits for the process to exit (for hosts that failed to start). */
  async wait(): Promise<void> {
    await this.exited;
  }

  /** The log's last lines (init, boot and sshd write there). */
  logTail(lines = 20): string {
    return readOr(this.log).trimEnd().split("\n").slice(-lines).join("\n");
  }
}
