/**
 * The memory budget (`memoryMaxBytes`, the CLI's --memory-max). Needle keeps memtables,
 * activated namespaces and mapped slabs in memory; under pressure it gives back what it can
 * before it refuses anything:
 *   1. Every `memorySampleIntervalMs` the process's resident set is sampled.
 *   2. Above `shrinkAtFraction` of the budget: idle namespaces are passivated, least recently
 *      used first (each flushes its memtable and leaves memory), and the executor evicts
 *      mapped slabs down to half its own budget. Dedicated indexes are not shrunk.
 *   3. Above the budget: writes that add data are refused (UNAVAILABLE, retryable with
 *      Retry-After: HTTP 503), reads go on, and shrinking continues. Writes resume by
 *      themselves once memory is back under the budget.
 * An allocation the runtime cannot serve at all (a RangeError) refuses its request the same
 * way (storage/errors.ts asNeedleError) instead of crashing the process.
 */
import { NeedleError } from "../storage/errors.ts";
import { address, type ActorSystem } from "./runtime/mod.ts";

export const memorySampleIntervalMs = 1_000;
export const shrinkAtFraction = 0.85;
/** Namespaces passivated per shrinking round. */
const namespacesPerShrinkMax = 256;
const memoryRetryAfterSeconds = 2;

export interface MemoryOptions {
  /** The budget; absent: no budget (nothing is refused, nothing shrunk for memory). */
  memoryMaxBytes?: number;
  /** How the resident set is measured; tests pass their own. Default: process.memoryUsage.rss(). */
  sampleRssBytes?: () => number;
}

export class MemoryGovernor {
  private readonly budgetBytes: number | undefined;
  private readonly sample: () => number;
  private rssBytes = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private shrinking: Promise<void> | undefined;

  constructor(
    private readonly system: ActorSystem,
    options: MemoryOptions,
    private readonly log: (line: string) => void,
  ) {
    this.budgetBytes = options.memoryMaxBytes;
    this.sample = options.sampleRssBytes ?? (() => process.memoryUsage.rss());
    if (this.budgetBytes === undefined) return;
    this.timer = setInterval(() => this.tick(), memorySampleIntervalMs);
    this.timer.unref?.();
    this.tick();
  }

  /** Step 3: throws UNAVAILABLE naming the budget while the process is over it. */
  ensureRoomForWrite(what: string): void {
    if (this.budgetBytes === undefined) return;
    this.rssBytes = this.sample();
    if (this.rssBytes <= this.budgetBytes) return;
    this.tick();
    throw new NeedleError(
      "UNAVAILABLE",
      `${what}: the server is over its memory budget (${Math.round(this.rssBytes / 2 ** 20)} MiB resident, budget ${Math.round(this.budgetBytes / 2 ** 20)} MiB); writes are refused while it gives memory back`,
      {
        limit: `${this.budgetBytes} bytes`,
        received: `${this.rssBytes} bytes`,
        retryAfterSeconds: memoryRetryAfterSeconds,
      },
    );
  }

  /** Steps 1 and 2. */
  private tick(): void {
    if (this.budgetBytes === undefined || this.shrinking) return;
    this.rssBytes = this.sample();
    if (this.rssBytes < this.budgetBytes * shrinkAtFraction) return;
    this.shrinking = this.shrink().finally(() => {
      this.shrinking = undefined;
    });
  }

  private async shrink(): Promise<void> {
    try {
      const passivated = await this.system.passivateLeastRecent("namespace", namespacesPerShrinkMax);
      await this.system.transport.request(address("executor", "local"), "shrink", {});
      if (passivated > 0) this.log(`needle: memory pressure: passivated ${passivated} idle namespaces`);
    } catch {
      // Shrinking is best effort; the next tick tries again.
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
