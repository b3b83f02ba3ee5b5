/**
 * What Dedicated read capacity means in Needle: the index is kept resident. Its slabs are
 * mapped and warmed (every page read once, metadata indexes decoded) at start and when an
 * index switches to Dedicated; the executor never evicts them; its namespaces are never
 * passivated (an idle one flushes its memtable instead). While a warm-up runs, the index's
 * read capacity reports Migrating; a failed warm-up reports Error with the reason.
 *
 * Invariant: `isResident(index)` is read by the actors on every decision (passivation,
 * eviction), so a switch takes effect at once; the warm-up only makes the first queries fast.
 */
import type { ReadCapacityStatus } from "./api.ts";
import { namespaceKey } from "./layout.ts";
import { address, type Transport } from "./runtime/mod.ts";

/** Namespaces warmed at once during a warm-up. */
const warmNamespacesConcurrentMax = 8;

export class Residency {
  private readonly warming = new Map<string, Promise<void>>();
  private readonly failed = new Map<string, string>();
  private stopped = false;

  constructor(
    private readonly transport: Transport,
    /** Whether the index is Dedicated now (the engine's catalog decides). */
    readonly isResident: (index: string) => boolean,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts (or restarts) warming `index`; resolves when done. Never rejects. */
  warm(index: string): Promise<void> {
    const previous = this.warming.get(index) ?? Promise.resolve();
    const run = previous.then(() => this.warmNow(index));
    this.warming.set(index, run);
    void run.finally(() => {
      if (this.warming.get(index) === run) this.warming.delete(index);
    });
    return run;
  }

  private async warmNow(index: string): Promise<void> {
    this.failed.delete(index);
    if (!this.isResident(index)) return;
    try {
      const namespaces = await this.transport.request<string[]>(address("index", index), "namespaces", {});
      let next = 0;
      const worker = async () => {
        while (next < namespaces.length && this.isResident(index) && !this.stopped) {
          const namespace = namespaces[next++]!;
          await this.transport.request(address("namespace", namespaceKey(index, namespace)), "warm", {});
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(warmNamespacesConcurrentMax, namespaces.length) }, worker),
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      // Clients see that it failed; the details (files, errno) stay in the server's log.
      this.failed.set(index, "warming the index's slabs failed; the server log has the details");
      this.log(`needle: warming index ${index} for Dedicated read capacity failed: ${reason}`);
    }
  }

  /** Stops warm-ups where they are and waits for them (shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.warming.values());
  }

  forget(index: string): void {
    this.failed.delete(index);
  }

  /** The read capacity status of a Dedicated index (the embedded mode has one executor). */
  status(index: string): ReadCapacityStatus {
    if (this.warming.has(index)) return { state: "Migrating", currentReplicas: 1, currentShards: 1 };
    const reason = this.failed.get(index);
    if (reason !== undefined)
      return { state: "Error", errorMessage: reason, currentReplicas: 1, currentShards: 1 };
    return { state: "Ready", currentReplicas: 1, currentShards: 1 };
  }
}
