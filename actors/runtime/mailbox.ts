/**
 * A bounded mailbox. Exclusive messages run one at a time in arrival order; concurrent
 * messages (reads) start at once. Both count against the depth while queued or running, so a
 * mailbox never grows without limit: past `depthMax` it refuses with OVERLOADED.
 *
 * Invariants:
 *   1. depth = queued exclusive messages + running messages (exclusive and concurrent).
 *   2. At most one exclusive message runs at a time.
 *   3. depth <= depthMax.
 */
import { NeedleError } from "../../storage/errors.ts";

export const mailboxDepthMaxDefault = 4096;
/** What a refused sender is told to wait. */
const overloadedRetryAfterSeconds = 1;

type Job = () => Promise<unknown>;

interface Queued {
  job: Job;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class Mailbox {
  private readonly queue: Queued[] = [];
  private exclusiveRunning = false;
  private running = 0;
  private drainWaiters: (() => void)[] = [];
  lastActivityMs: number;

  constructor(
    private readonly label: string,
    private readonly depthMax: number,
    now: number,
  ) {
    this.lastActivityMs = now;
  }

  get depth(): number {
    return this.queue.length + this.running;
  }

  /** The next message would be refused OVERLOADED. */
  get full(): boolean {
    return this.depth >= this.depthMax;
  }

  get idle(): boolean {
    return this.depth === 0;
  }

  /** Resolves once nothing is queued or running (used before passivating on shutdown). */
  drained(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** `now`: the time of use, or undefined for a message that is not use (bookkeeping). */
  post(job: Job, exclusive: boolean, now: number | undefined): Promise<unknown> {
    if (this.full) {
      return Promise.reject(
        new NeedleError(
          "OVERLOADED",
          `${this.label} is overloaded: ${this.depth} messages pending, at most ${this.depthMax}`,
          { limit: this.depthMax, retryAfterSeconds: overloadedRetryAfterSeconds },
        ),
      );
    }
    if (now !== undefined) this.lastActivityMs = now;
    if (!exclusive) return this.run(job);
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.pump();
    });
  }

  private async run(job: Job): Promise<unknown> {
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      // Queued exclusive jobs start in pump(), after this; only wake waiters when truly idle.
      queueMicrotask(() => this.wakeIfDrained());
    }
  }

  private wakeIfDrained(): void {
    if (!this.idle) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  private pump(): void {
    if (this.exclusiveRunning) return;
    const next = this.queue.shift();
    if (!next) return;
    this.exclusiveRunning = true;
    this.run(next.job)
      .then(next.resolve, next.reject)
      .finally(() => {
        this.exclusiveRunning = false;
        this.pump();
      });
  }
}
