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
  address: Address;
}
