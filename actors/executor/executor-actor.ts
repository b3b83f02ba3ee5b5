/**
 * The executor hosts this process's slab actors under a memory budget: slab actors report the
 * bytes they map when they open and close; when the total passes the budget the executor
 * passivates the least recently active slabs until it fits (they reopen on their next message).
 */
import { splitKey } from "../layout.ts";
import type { Actor, ActorSystem } from "../runtime/mod.ts";

export const slabMemoryBudgetBytesDefault = 8 * 1024 ** 3;

export function executorFactory(
  system: ActorSystem,
  budgetBytes: number,
  isResident: (index: string) => boolean,
) {
  return async (): Promise<Actor> => new ExecutorActor(system, budgetBytes, isResident);
}

class ExecutorActor implements Actor {
  private readonly openBytes = new Map<string, number>();
  private totalBytes = 0;

  constructor(
    private readonly system: ActorSystem,
    private readonly budgetBytes: number,
    /** Slabs of Dedicated indexes are never evicted (they count against the budget all the same). */
    private readonly isResident: (index: string) => boolean,
  ) {}

  async receive(verb: string, payload: unknown): Promise<unknown> {
    const { slab, bytes } = payload as { slab: string; bytes?: number };
    if (verb === "opened") {
      this.openBytes.set(slab, bytes ?? 0);
      this.totalBytes += bytes ?? 0;
      this.evictOverBudget(slab);
    } else if (verb === "closed") {
      this.totalBytes -= this.openBytes.get(slab) ?? 0;
      this.openBytes.delete(slab);
    } else if (verb === "retire") {
      // A compaction or flush replaced the slab and no read uses it any more. Not awaited: the
      // slab's passivation reports "closed" to this actor, which would wait behind this message.
      void this.system.passivate({ kind: "slab", key: slab });
    } else if (verb === "shrink") {
      // Memory pressure: evict down to half the budget now.
      this.evictDownTo(this.budgetBytes / 2, undefined);
    } else if (verb === "stats") {
      return { openSlabs: this.openBytes.size, openBytes: this.totalBytes, budgetBytes: this.budgetBytes };
    }
    return undefined;
  }

  private evictOverBudget(keep: string): void {
    this.evictDownTo(this.budgetBytes, keep);
  }

  private evictDownTo(targetBytes: number, keep: string | undefined): void {
    if (this.totalBytes <= targetBytes) return;
    const byAge = [...this.openBytes.keys()]
      .filter((slab) => slab !== keep && !this.isResident(splitKey(slab)[0]))
      .sort((a, b) => this.lastActivity(a) - this.lastActivity(b));
    let projected = this.totalBytes;
    for (const slab of byAge) {
      if (projected <= targetBytes) break;
      projected -= this.openBytes.get(slab) ?? 0;
      // Passivation reports "closed" back to us, which settles totalBytes.
      void this.system.passivate({ kind: "slab", key: slab });
    }
  }

  private lastActivity(slab: string): number {
    return this.system.lastActivityMs({ kind: "slab", key: slab }) ?? 0;
  }
}
