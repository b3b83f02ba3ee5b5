/**
 * The executor hosts this process's slab actors under a memory budget: slab actors report the
 * bytes they hold when they open, change (demoted or mapped again) and close. When the total
 * passes the budget the executor gives memory back in two steps, least recently active first
 * (actors/DESIGN.md decision 27):
 *   1. Demote: a slab keeps its index portion (ids, int8 codes, the IVF and metadata
 *      indexes) and gives back its float32 rows, sparse values and metadata, which its
 *      searches then read from the file (the answer says `cold`).
 *   2. Passivate: only when the index portions alone do not fit are whole slabs closed (they
 *      reopen on their next message).
 * Slabs of Dedicated indexes are neither demoted nor passivated.
 */
import type { SlabMemoryObservation } from "../api.ts";
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

/** What the executor knows of one open slab. */
interface OpenSlab {
  /** Bytes held now: the mapped file, or the index portion once demoted. */
  bytes: number;
  /** The index portion, for slabs that can be demoted (not runs of packed files). */
  indexBytes: number | undefined;
  /** A demotion was asked and not yet reported done. */
  demoting: boolean;
  /** A passivation was asked; its "closed" report has not come yet. */
  closing: boolean;
}

class ExecutorActor implements Actor {
  private readonly open = new Map<string, OpenSlab>();
  private totalBytes = 0;
  private demotions = 0;
  private evictions = 0;

  constructor(
    private readonly system: ActorSystem,
    private readonly budgetBytes: number,
    /** Slabs of Dedicated indexes are never evicted (they count against the budget all the same). */
    private readonly isResident: (index: string) => boolean,
  ) {}

  async receive(verb: string, payload: unknown): Promise<unknown> {
    const { slab, bytes, indexBytes } = payload as { slab: string; bytes?: number; indexBytes?: number };
    if (verb === "opened") {
      this.setBytes(slab, bytes ?? 0, indexBytes);
      this.evictDownTo(this.budgetBytes, slab);
    } else if (verb === "resized") {
      // A demotion done, or a demoted slab mapped again for a search that needed all of it.
      const known = this.open.get(slab);
      if (known === undefined) return undefined;
      known.demoting = false;
      this.setBytes(slab, bytes ?? 0, known.indexBytes);
      this.evictDownTo(this.budgetBytes, slab);
    } else if (verb === "closed") {
      this.totalBytes -= this.open.get(slab)?.bytes ?? 0;
      this.open.delete(slab);
    } else if (verb === "retire") {
      // A compaction or flush replaced the slab and no read uses it any more. Not awaited: the
      // slab's passivation reports "closed" to this actor, which would wait behind this message.
      void this.system.passivate({ kind: "slab", key: slab });
    } else if (verb === "shrink") {
      // Memory pressure: evict down to half the budget now.
      this.evictDownTo(this.budgetBytes / 2, undefined);
    } else if (verb === "stats") {
      let demotedSlabs = 0;
      for (const known of this.open.values())
        if (known.indexBytes !== undefined && known.bytes <= known.indexBytes) demotedSlabs++;
      return {
        openSlabs: this.open.size,
        demotedSlabs,
        openBytes: this.totalBytes,
        budgetBytes: this.budgetBytes,
        demotions: this.demotions,
        evictions: this.evictions,
      } satisfies SlabMemoryObservation;
    }
    return undefined;
  }

  private setBytes(slab: string, bytes: number, indexBytes: number | undefined): void {
    const known = this.open.get(slab);
    this.totalBytes += bytes - (known?.bytes ?? 0);
    this.open.set(slab, {
      bytes,
      indexBytes,
      demoting: known?.demoting ?? false,
      closing: known?.closing ?? false,
    });
  }

  /**
   * Brings the total to `targetBytes`: first decides which slabs must close because the index
   * portions alone exceed the target (least recently active first), then demotes the least
   * recently active of the rest until the total fits. A slab is told one thing, never both.
   * Slabs that fit nowhere (the index portions of one slab above the budget) stay over it:
   * the slab a message is for is needed to answer it.
   */
  private evictDownTo(targetBytes: number, keep: string | undefined): void {
    if (this.totalBytes <= targetBytes) return;
    const evictable = [...this.open.keys()]
      .filter((slab) => !this.isResident(splitKey(slab)[0]))
      .sort((a, b) => this.lastActivity(a) - this.lastActivity(b));
    // The slab that just opened or changed is closed last of all (never, here: it is about to
    // serve the message that opened it) but may be demoted, last, when nothing else fits.
    const byAge = evictable.filter((slab) => slab !== keep);
    if (keep !== undefined && evictable.includes(keep)) byAge.push(keep);
    const kept = (known: OpenSlab) =>
      known.indexBytes === undefined ? known.bytes : Math.min(known.bytes, known.indexBytes);
    // Slabs already closing count as gone: their "closed" report settles totalBytes.
    let projected = 0;
    let projectedIfDemoted = 0;
    for (const known of this.open.values()) {
      if (known.closing) continue;
      projected += known.bytes;
      projectedIfDemoted += kept(known);
    }
    for (const slab of byAge) {
      if (projectedIfDemoted <= targetBytes || slab === keep) break;
      const known = this.open.get(slab)!;
      // One still activating (its "opened" report runs this) cannot be passivated yet: the
      // runtime would do nothing, and no "closed" would ever come.
      if (known.closing || !this.system.isActive({ kind: "slab", key: slab })) continue;
      known.closing = true;
      projectedIfDemoted -= kept(known);
      projected -= known.bytes;
      this.evictions++;
      // Passivation reports "closed" back to us, which settles totalBytes.
      void this.system.passivate({ kind: "slab", key: slab });
    }
    for (const slab of byAge) {
      if (projected <= targetBytes) break;
      const known = this.open.get(slab)!;
      if (known.closing || known.demoting || known.indexBytes === undefined) continue;
      if (known.bytes <= known.indexBytes) continue;
      // Not one that went meanwhile (a message would activate it again), except `keep`, which
      // may be activating now (its "opened" report is what runs this).
      if (slab !== keep && !this.system.isActive({ kind: "slab", key: slab })) continue;
      known.demoting = true;
      projected -= known.bytes - known.indexBytes;
      this.demotions++;
      // Not awaited, for the reason "retire" gives; the slab reports "resized" when done.
      void this.system.deliver({ kind: "slab", key: slab }, "demote", {}).catch(() => {
        known.demoting = false;
      });
    }
  }

  private lastActivity(slab: string): number {
    return this.system.lastActivityMs({ kind: "slab", key: slab }) ?? 0;
  }
}
