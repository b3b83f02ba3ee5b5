/**
 * Flushing a namespace: memtable -> L0 slab -> new manifest version -> log may be trimmed.
 *
 * Steps:
 *   1. Freeze (synchronous): the active memtable becomes frozen, a new one takes writes. Take a
 *      snapshot of what the manifest will say: flushedLsn = appliedLsn, and a copy of every
 *      slab's live bitset. Writes after this point have larger LSNs and are replayed from the
 *      log after a crash, so the snapshot must not include their effects.
 *   2. Build the L0 slab from the frozen memtable's rows that were live at the freeze (on the
 *      slab-builder thread, so writes and reads go on meanwhile), write it to the blob store
 *      (durable before step 3).
 *   3. Commit the manifest (atomic rename). A crash before this leaves the previous manifest
 *      valid and the new slab an orphan, removed at the next start.
 *   4. Swap (synchronous, under the state's swap lock so no live write is between its lookups
 *      and its apply): the frozen memtable leaves, the new slab joins with the rows killed since
 *      the freeze already dead; slabs that had no live rows at the freeze leave the list.
 *   5. Delete slab files no manifest refers to any more.
 * Queries and writes never wait for a flush; a flush never runs twice at once.
 *
 * A flush that fails in steps 2-3 for storage (a full or failing volume) changed nothing
 * durable: the previous manifest is valid, the log still holds every write, and the frozen
 * memtable stays queryable. Its `PendingFlush` is kept and `completeFlush` retried from step 2
 * (same slab id, same snapshot) until it succeeds; no new freeze happens meanwhile.
 */
import type { BlobStore } from "../../storage/blob/mod.ts";
import { assert } from "../../storage/errors.ts";
import type { ManifestStore } from "../../storage/manifest/mod.ts";
import type { Memtable } from "../../storage/memtable/mod.ts";
import { namespaceKey, slabKey } from "../layout.ts";
import { address } from "../runtime/mod.ts";
import { countLive, deletedBytes } from "./deletions.ts";
import type { NamespaceManifest, SlabEntry, SlabManifestEntry } from "./manifest.ts";
import { jobFromMemtable } from "./slab-build-job.ts";
import { buildSlab } from "./slab-builder.ts";
import type { NamespaceState } from "./state.ts";

type SlabSnapshot = { slab: SlabEntry; live: Uint8Array }[];

export interface FlushDeps {
  blobs: BlobStore;
  manifests: ManifestStore<NamespaceManifest>;
  /** Unique per namespace within the index, so slab ids never collide. */
  slabIdPrefix: string;
  /** Deletes slab files that left the list once no read can still use them; absent: at once. */
  retire?: (slabIds: string[]) => void;
}

/** What step 1 froze, kept until the flush completes (retried after a storage failure). */
export interface PendingFlush {
  frozen: Memtable;
  liveRows: number[];
  flushedLsn: bigint;
  explicit: boolean;
  slabSnapshot: SlabSnapshot;
  /** The new slab's id (absent when no row was live at the freeze). */
  newSlabId: string | undefined;
}

/** Steps 1 to 5; does nothing when the namespace is clean. */
export async function flushNamespace(state: NamespaceState, deps: FlushDeps): Promise<void> {
  const pending = freeze(state, deps);
  if (pending !== undefined) await completeFlush(state, pending, deps);
}

/** Step 1: freeze and snapshot (synchronous). Undefined when there is nothing to flush. */
export function freeze(state: NamespaceState, deps: FlushDeps): PendingFlush | undefined {
  // Only one flush is ever pending: a failed one is retried, never frozen over.
  assert(state.frozen.length === 0, "no frozen memtable is left from an earlier flush");
  if (!state.dirty) return undefined;
  const frozen = state.memtable;
  const liveRows = frozen.liveRows();
  frozen.freeze();
  state.frozen.unshift(frozen);
  state.memtable = state.newMemtable();
  return {
    frozen,
    liveRows,
    flushedLsn: state.appliedLsn,
    explicit: state.explicit,
    slabSnapshot: state.slabs.map((slab) => ({ slab, live: slab.live.slice() })),
    newSlabId:
      liveRows.length > 0
        ? `${deps.slabIdPrefix}-${String(state.nextSlabSeq++).padStart(8, "0")}`
        : undefined,
  };
}

/** Steps 2 to 5 for a frozen memtable; safe to call again after it failed in step 2 or 3. */
export async function completeFlush(
  state: NamespaceState,
  pending: PendingFlush,
  deps: FlushDeps,
): Promise<void> {
  const { frozen, liveRows, flushedLsn, explicit, slabSnapshot, newSlabId } = pending;
  // Step 2: build and store the slab.
  let newSlab: SlabManifestEntry | undefined;
  if (newSlabId !== undefined) {
    // One compact copy of the live rows goes to the builder thread; encoding happens there.
    const bytes = await buildSlab(
      jobFromMemtable(frozen, liveRows, {
        slabId: newSlabId,
        namespace: state.namespace,
        level: 0,
        dim: state.dim,
        metric: state.index.metric,
        minLsn: frozen.minLsn,
        maxLsn: frozen.maxLsn,
        sourceSlabs: [],
      }),
    );
    await deps.blobs.put(slabKey(state.index.name, newSlabId), bytes);
    newSlab = {
      id: newSlabId,
      level: 0,
      rowCount: liveRows.length,
      minLsn: frozen.minLsn,
      maxLsn: frozen.maxLsn,
      deleted: deletedBytes(new Uint8Array(0), 0),
      bytes: bytes.byteLength,
    };
  }

  // Step 3: commit the manifest.
  const kept = slabSnapshot.filter(({ slab, live }) => countLive(live, slab.rowCount) > 0);
  const manifest: NamespaceManifest = {
    namespace: state.namespace,
    explicit,
    flushedLsn,
    nextSlabSeq: state.nextSlabSeq,
    slabs: [
      ...(newSlab ? [newSlab] : []),
      ...kept.map(({ slab, live }) => ({
        id: slab.id,
        level: slab.level,
        rowCount: slab.rowCount,
        minLsn: slab.minLsn,
        maxLsn: slab.maxLsn,
        deleted: deletedBytes(live, slab.rowCount),
        bytes: slab.bytes,
      })),
    ],
  };
  state.committedVersion = await deps.manifests.commit(manifest);
  state.committed = manifest;
  state.flushedLsn = flushedLsn;

  // Step 4: swap.
  const dropped = await state.withSwapLock(async () => {
    const left = swap(state, frozen, liveRows, slabSnapshot, kept, newSlab);
    // Writes applied after the freeze (rows or deletes alike), or logged and still applying,
    // need a later flush.
    const stillDirty = state.appliedLsn > flushedLsn || state.writesInFlight > 0;
    state.oldestUnflushedLsn = stillDirty ? flushedLsn + 1n : 0n;
    return left;
  });

  // Step 5: delete files no manifest names any more.
  if (deps.retire) deps.retire([...dropped]);
  else
    for (const slabId of dropped) await deps.blobs.delete(slabKey(state.index.name, slabId)).catch(() => {});
}

/** Step 4; returns the ids of the slabs that left. */
function swap(
  state: NamespaceState,
  frozen: Memtable,
  liveRows: number[],
  slabSnapshot: SlabSnapshot,
  kept: SlabSnapshot,
  newSlab: SlabManifestEntry | undefined,
): Set<string> {
  state.frozen = state.frozen.filter((memtable) => memtable !== frozen);
  const dropped = new Set(slabSnapshot.filter((s) => !kept.includes(s)).map((s) => s.slab.id));
  const slabs: SlabEntry[] = state.slabs.filter((slab) => !dropped.has(slab.id));
  if (newSlab) {
    const live = new Uint8Array((liveRows.length + 7) >> 3);
    let liveCount = 0;
    liveRows.forEach((row, slabRow) => {
      if (frozen.isLive(row)) {
        live[slabRow >> 3]! |= 1 << (slabRow & 7);
        liveCount++;
      }
    });
    slabs.unshift({
      id: newSlab.id,
      level: 0,
      rowCount: newSlab.rowCount,
      minLsn: newSlab.minLsn,
      maxLsn: newSlab.maxLsn,
      live,
      liveCount,
      bytes: newSlab.bytes ?? 0,
      address: address("slab", namespaceKey(state.index.name, newSlab.id)),
    });
  }
  state.slabs = slabs;
  state.slabGeneration++;
  return dropped;
}
