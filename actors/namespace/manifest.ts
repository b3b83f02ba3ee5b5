/** The namespace manifest body: what is durable about a namespace besides the log. */
import type { Address } from "../runtime/mod.ts";

export interface SlabManifestEntry {
  id: string;
  level: number;
  rowCount: number;
  minLsn: bigint;
  maxLsn: bigint;
  /** Rows deleted or overwritten after the slab was written, roaring portable format. */
  deleted: Uint8Array;
  /** The slab file's size (compaction planning); absent in manifests written before it was kept. */
  bytes?: number;
}

export interface NamespaceManifest {
  namespace: string;
  /** Created through the namespaces API: it exists even with no records. */
  explicit: boolean;
  /** Every write with an LSN at or below this is reflected by the slabs and deletion bitmaps. */
  flushedLsn: bigint;
  nextSlabSeq: number;
  slabs: SlabManifestEntry[];
}

/** A live slab as the namespace holds it in memory. */
export interface SlabEntry {
  id: string;
  level: number;
  rowCount: number;
  minLsn: bigint;
  maxLsn: bigint;
  /** Bit r set while row r is live. Mutated in place by deletes and overwrites. */
  live: Uint8Array;
  liveCount: number;
  /** The slab file's size, or an estimate for slabs listed before sizes were kept. */
  bytes: number;
  address: Address;
  /**
   * A run of a packed slab (storage/namespaces/): the namespace's rows of a shared file, read
   * through a run view; never in a manifest, never compacted, its file never deleted by the
   * namespace (the index does, once no catalog entry names it).
   */
  packed?: true;
}

/**
 * A slab's size when the manifest does not say (written before sizes were kept): float32 rows
 * plus their int8 codes, and a rough allowance for the id, norms and metadata of each row.
 * Only compaction planning uses it, to decide how many outputs a merge needs.
 */
export function estimatedSlabBytes(rowCount: number, dim: number): number {
  return rowCount * (dim * 5 + 64);
}
