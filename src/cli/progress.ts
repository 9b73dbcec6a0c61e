import type { Io } from "./io.js";

/**
 * Progress of a fleet run as a terminal shows it at 200 hosts: one summary
 * line redrawn in place, and a line of its own only for a host that failed.
 * Off (nothing at all) when output is not a terminal or is JSON.
 */
export class FleetProgress {
  private done = 0;
  private failed = 0;
  private readonly started = Date.now();

  constructor(
    private readonly io: Io,
    private readonly total: number,
    private readonly parallel: number,
    private readonly enabled: boolean,
  ) {
    this.draw();
  }

  /** A host is finished; `failure` is its one line when it failed. */
  hostDone(failure?: string): void {
    this.done++;
    if (failure !== undefined) {
      this.failed++;
      if (this.enabled) this.io.stderr(`\r\x1b[K${failure}\n`);
    }
    this.draw();
  }

  /** Leaves the last summary on its own line. */
  finish(): void {
    if (this.enabled) this.io.stderr("\n");
  }

  private draw(): void {
    if (!this.enabled) return;
    const running = Math.min(this.parallel, this.total - this.done);
    const seconds = ((Date.now() - this.started) / 1000).toFixed(0);
    this.io.stderr(`\r\x1b[K[${this.done}/${this.total}] ${this.done - this.failed} done, ${this.failed} failed, ${running} running, ${seconds} s`);
  }
}
