/**
 * What a compaction commit changes, as pure functions (storage/compaction/DESIGN.md,
 * invariants 1 and 3): the new manifest is the last committed one with the sources taken out
 * and the outputs put in; an output row is deleted exactly when its source row is deleted in
 * that manifest. A source no longer in it was dropped by a flush because every row of it was
 * dead, so its rows are deleted too. The in-memory swap maps the current live bitsets the
 * same way.
 *
 * Why the committed manifest and not memory: a manifest's deletion bitmaps must match its
 * flushedLsn. Memory also holds deletions made after it (an update's old row), and replaying
 * that update after a crash must find the old row again.
 */
import { assert } from "../../storage/errors.ts";
import { deletedBytes, liveFromDeleted } from "./deletions.ts";
import type { NamespaceManifest, SlabManifestEntry } from "./manifest.ts";

/** Where each row of an output slab came from. */
export interface RowMap {
  /** Per output row: the position of its source in the compaction's source list. */
  source: Uint32Array;
  /** Per output row: its row number in that source. */
  row: Uint32Array;
}

/** An output slab as built: its manifest identity and its rows' origins. */
export interface CompactionOutput {
  id: string;
  level: number;
  minLsn: bigint;
  maxLsn: bigint;
  rows: RowMap;
}

/** Live bitsets by source position; undefined for a source that is gone (all rows dead). */
export type SourceLive = (Uint8Array | undefined)[];

/** An output's live bitset and count, given each source's live bitset. */
export function mapLive(rows: RowMap, sources: SourceLive): { live: Uint8Array; liveCount: number } {
  const rowCount = rows.source.length;
  const live = new Uint8Array((rowCount + 7) >> 3);
  let liveCount = 0;
  for (let out = 0; out < rowCount; out++) {
    const bits = sources[rows.source[out]!];
    const row = rows.row[out]!;
    if (bits !== undefined && (bits[row >> 3]! >> (row & 7)) & 1) {
      live[out >> 3]! |= 1 << (out & 7);
      liveCount++;
    }
  }
  return { live, liveCount };
}

/**
 * The manifest after the commit: `committed` with `sources` replaced by `outputs` (in the
 * place of the newest source still listed, or first when none is), everything else as it was.
 */
export function editManifest(
  committed: NamespaceManifest,
  sources: readonly string[],
  outputs: readonly CompactionOutput[],
  file: string,
): NamespaceManifest {
  const bySource: SourceLive = sources.map((id) => {
    const entry = committed.slabs.find((slab) => slab.id === id);
    return entry === undefined ? undefined : liveFromDeleted(entry.deleted, entry.rowCount, file);
  });
  const outputEntries: SlabManifestEntry[] = outputs.map((output) => {
    assert(
      output.rows.source.length === output.rows.row.length,
      "a row map has one source and row per output row",
    );
    const rowCount = output.rows.source.length;
    const { live } = mapLive(output.rows, bySource);
    return {
      id: output.id,
      level: output.level,
      rowCount,
      minLsn: output.minLsn,
      maxLsn: output.maxLsn,
      deleted: deletedBytes(live, rowCount),
    };
  });
  return { ...committed, slabs: replaceSources(committed.slabs, sources, outputEntries) };
}

/**
 * `slabs` with the sources taken out and the outputs put in the place of the newest source
 * still listed (first when none is): the manifest edit and the in-memory swap agree on it.
 */
export function replaceSources<T extends { id: string }>(
  slabs: readonly T[],
  sources: readonly string[],
  outputs: readonly T[],
): T[] {
  const taken = new Set(sources);
  const result: T[] = [];
  let placed = false;
  for (const slab of slabs) {
    if (!taken.has(slab.id)) result.push(slab);
    else if (!placed) {
      result.push(...outputs);
      placed = true;
    }
  }
  if (!placed) result.unshift(...outputs);
  return result;
}
