/**
 * The in-memory state of one namespace: the active memtable, memtables being flushed, and the
 * live slabs with their live-row bitsets. The namespace actor is its single writer.
 *
 * Invariants:
 *   1. An id is live in at most one place: the active memtable, a frozen memtable, or one slab.
 *   2. Sources are ordered newest first: active memtable, frozen memtables (newest first), slabs
 *      (newest first). A newer source never holds an older version of an id than an older one.
 *   3. `appliedLsn` is the LSN of the last applied write; writes apply in LSN order.
 *   4. Every mutation of a write happens in one synchronous step after all lookups resolved,
 *      so a concurrent read sees a batch entirely or not at all.
 *   5. The slab list does not change (no flush swap) between a live write's lookups and its
 *      apply: both run under `withSwapLock`, and so does the swap. So lookups made before the
 *      write was logged are still right when it is applied, and nothing after the append can
 *      fail for a stale lookup.
 */
import { componentMagnitudeMax, isWithinComponentMagnitude } from "../../ffi/mod.ts";
import { assert, invalidArgument } from "../../storage/errors.ts";
import { metadataBytesMax, metadataByteLength } from "../../storage/metadata.ts";
import { Memtable } from "../../storage/memtable/mod.ts";
import { restrictFilterToFields } from "../../storage/filter/mod.ts";
import type { Filter, Metadata, SparseValues, VectorRecord, WriteOp } from "../../storage/types.ts";
import type { IndexConfig } from "../api.ts";
import type { Transport } from "../runtime/mod.ts";
import type { NamespaceManifest, SlabEntry } from "./manifest.ts";

/** Where a live id was found. */
export type Location = { memtable: Memtable; row: number } | { slab: SlabEntry; row: number };

export class NamespaceState {
  memtable: Memtable;
  /** Memtables being flushed, newest first. */
  frozen: Memtable[] = [];
  /** Live slabs, newest first. */
  slabs: SlabEntry[] = [];
  /** Bumped whenever the slab list changes, so lookups made before a change are redone. */
  slabGeneration = 0;
  appliedLsn = 0n;
  flushedLsn = 0n;
  /** Writes appended to the log and not yet applied: a flush must not call the namespace clean. */
  writesInFlight = 0;
  /** LSN of the oldest applied write not yet in a manifest; 0n when clean. */
  oldestUnflushedLsn = 0n;
  explicit = false;
  nextSlabSeq = 1;
  /**
   * The body of the newest committed manifest (undefined before the first). A compaction
   * commit edits this, not memory: its deletion bitmaps are the ones consistent with
   * `flushedLsn` (storage/compaction/DESIGN.md, invariant 1).
   */
  committed: NamespaceManifest | undefined;
  /** The version of `committed` (0 before the first). */
  committedVersion = 0;
  /** Tail of the chain of work holding the swap lock (invariant 5). */
  private swapLockTail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly index: IndexConfig,
    readonly namespace: string,
    private readonly transport: Transport,
    /** Rows a memtable likely holds before its flush (see Memtable's constructor). */
    readonly memtableRowsHint: number,
  ) {
    this.memtable = this.newMemtable();
  }

  newMemtable(): Memtable {
    return new Memtable(this.dim, this.memtableRowsHint);
  }

  get dim(): number {
    return this.index.dimension ?? 0;
  }

  /** The filter as this index can evaluate it: unindexed fields (pod metadataConfig) read as absent. */
  visibleFilter(filter: Filter | undefined): Filter | undefined {
    if (filter === undefined || this.index.metadataIndexed === undefined) return filter;
    this.indexedFields ??= new Set(this.index.metadataIndexed);
    return restrictFilterToFields(filter, this.indexedFields);
  }
  private indexedFields: ReadonlySet<string> | undefined;

  get recordCount(): number {
    let count = this.memtable.liveCount;
    for (const memtable of this.frozen) count += memtable.liveCount;
    for (const slab of this.slabs) count += slab.liveCount;
    return count;
  }

  get exists(): boolean {
    return this.explicit || this.recordCount > 0;
  }

  get dirty(): boolean {
    return this.oldestUnflushedLsn !== 0n;
  }

  memtables(): Memtable[] {
    return [this.memtable, ...this.frozen];
  }

  /** Finds the live location of each id (newest source first). */
  async locate(ids: Iterable<string>): Promise<Map<string, Location>> {
    for (;;) {
      const generation = this.slabGeneration;
      const found = new Map<string, Location>();
      let pending: string[] = [];
      for (const id of ids) {
        const inMemory = this.locateInMemory(id);
        if (inMemory) found.set(id, inMemory);
        else pending.push(id);
      }
      for (const slab of this.slabs) {
        if (pending.length === 0) break;
        if (slab.liveCount === 0) continue;
        const rows = await this.transport.request<number[]>(slab.address, "rowsOf", { ids: pending });
        const still: string[] = [];
        pending.forEach((id, i) => {
          const row = rows[i]!;
          if (row >= 0 && isSet(slab.live, row)) found.set(id, { slab, row });
          else still.push(id);
        });
        pending = still;
      }
      if (generation === this.slabGeneration) return found;
    }
  }

  private locateInMemory(id: string): Location | undefined {
    for (const memtable of this.memtables()) {
      const row = memtable.rowOf(id);
      if (row >= 0) return { memtable, row };
    }
    return undefined;
  }

  /** Reads whole records at their locations (values, sparse values and metadata). */
  async readRecords(locations: Map<string, Location>): Promise<Map<string, VectorRecord>> {
    const records = new Map<string, VectorRecord>();
    const bySlab = new Map<SlabEntry, { id: string; row: number }[]>();
    for (const [id, location] of locations) {
      if ("memtable" in location) records.set(id, location.memtable.record(location.row));
      else {
        const list = bySlab.get(location.slab) ?? [];
        list.push({ id, row: location.row });
        bySlab.set(location.slab, list);
      }
    }
    for (const [slab, list] of bySlab) {
      const read = await this.transport.request<VectorRecord[]>(slab.address, "records", {
        rows: list.map((item) => item.row),
        values: true,
        metadata: true,
      });
      list.forEach((item, i) => {
        records.set(item.id, read[i]!);
      });
    }
    return records;
  }

  /** Runs `work` when no other holder of the swap lock runs (invariant 5): live writes, the flush swap. */
  withSwapLock<T>(work: () => Promise<T>): Promise<T> {
    const result = this.swapLockTail.then(work);
    this.swapLockTail = result.catch(() => undefined);
    return result;
  }

  /**
   * Prepares a write for applying: checks it and resolves the lookups it needs. The returned
   * function applies it in one synchronous step (invariant 4). A live write (not a replay)
   * prepares before it is logged, under the swap lock, and is checked against the limits that
   * depend on stored records (merged metadata of an update): a replayed write was checked
   * when it was acknowledged, and refusing it now would drop an acknowledged write.
   */
  async prepare(
    write: WriteOp,
    options: { live: boolean } = { live: false },
  ): Promise<(lsn: bigint) => void> {
    this.checkWrite(write, options.live);
    // Lookups await slab actors; a flush swap in that gap moves rows from a frozen memtable
    // into a new slab, so locations found before it are stale. Prepare again until none ran.
    for (;;) {
      const generation = this.slabGeneration;
      const apply = await this.prepareOnce(write, options.live);
      if (generation === this.slabGeneration) return apply;
    }
  }

  private async prepareOnce(write: WriteOp, live: boolean): Promise<(lsn: bigint) => void> {
    switch (write.op) {
      case "upsert": {
        const ids = write.records.map((record) => record.id);
        const locations = await this.locate(ids);
        return (lsn) => {
          this.killLocations(locations);
          // A batch may name an id twice: the last one wins, like applying them in order.
          for (const record of write.records) {
            this.memtable.kill(record.id);
            this.memtable.append(record, lsn);
          }
          this.afterApply(lsn);
        };
      }
      case "update": {
        const locations = await this.locate(write.ids);
        const current = await this.readRecords(locations);
        const merged = new Map<string, VectorRecord>();
        for (const id of write.ids) {
          const record = current.get(id);
          if (record) merged.set(id, mergeUpdate(record, write));
        }
        if (live && write.setMetadata) checkMergedMetadata(merged);
        return (lsn) => {
          this.killLocations(locations);
          for (const [id, record] of merged) {
            this.memtable.kill(id);
            this.memtable.append(record, lsn);
          }
          this.afterApply(lsn);
        };
      }
      case "delete": {
        const locations = await this.locate(write.ids);
        return (lsn) => {
          this.killLocations(locations);
          this.afterApply(lsn);
        };
      }
      case "deleteAll":
      case "deleteNamespace":
        return (lsn) => {
          for (const memtable of this.memtables()) memtable.killAll();
          for (const slab of this.slabs) {
            slab.live.fill(0);
            slab.liveCount = 0;
          }
          if (write.op === "deleteNamespace") this.explicit = false;
          this.afterApply(lsn);
        };
      case "createNamespace":
        return (lsn) => {
          this.explicit = true;
          this.afterApply(lsn);
        };
    }
  }

  private killLocations(locations: Map<string, Location>): void {
    for (const [id, location] of locations) {
      if ("memtable" in location) {
        location.memtable.kill(id);
      } else if (isSet(location.slab.live, location.row)) {
        location.slab.live[location.row >> 3]! &= ~(1 << (location.row & 7));
        location.slab.liveCount--;
      }
    }
  }

  private afterApply(lsn: bigint): void {
    assert(lsn > this.appliedLsn, "writes apply in LSN order");
    this.appliedLsn = lsn;
    if (this.oldestUnflushedLsn === 0n) this.oldestUnflushedLsn = lsn;
  }

  /** Checks what only the index knows: dimension and vector type of each record. */
  checkRecords(records: VectorRecord[], field: string, magnitudes = true): void {
    records.forEach((record, i) => {
      this.checkVectors(record.values, record.sparseValues, `${field}[${i}]`, "record", magnitudes);
    });
  }

  /**
   * Vectors against the index: a sparse index takes sparse values only; a dense one takes
   * values of its dimension (required on records), sparse values only with dotproduct, and no
   * all-zero stored vector under cosine (it has no direction).
   */
  checkVectors(
    values: Float32Array | undefined,
    sparse: SparseValues | undefined,
    field: string,
    use: "record" | "update" | "query",
    /** The magnitude limit (ffi/score-range.ts) holds for new writes and queries, not at replay. */
    magnitudes = true,
  ): void {
    if (this.index.vectorType === "sparse") {
      if (values && values.length > 0) {
        throw invalidArgument(
          `${field}.values`,
          "sparse indexes take sparseValues only, not dense values",
          "none",
        );
      }
      if (use === "record" && !sparse) {
        throw invalidArgument(
          `${field}.sparseValues`,
          "sparse indexes need sparseValues",
          "required",
          "none",
        );
      }
      if (magnitudes) checkMagnitudes(sparse?.values, `${field}.sparseValues.values`);
      return;
    }
    if (sparse && this.index.metric !== "dotproduct") {
      throw invalidArgument(
        `${field}.sparseValues`,
        "sparse values need an index with metric dotproduct",
        "dotproduct",
        this.index.metric,
      );
    }
    if (values === undefined || values.length === 0) {
      if (use === "record") {
        throw invalidArgument(
          `${field}.values`,
          "dense indexes need values on every record",
          this.dim,
          "none",
        );
      }
      return;
    }
    if (values.length !== this.dim) {
      throw invalidArgument(
        `${field}.values`,
        `Vector dimension ${values.length} does not match the dimension of the index ${this.dim}`,
        this.dim,
        values.length,
      );
    }
    if (magnitudes && this.index.metric !== "cosine") {
      checkMagnitudes(values, `${field}.values`);
      checkMagnitudes(sparse?.values, `${field}.sparseValues.values`);
    }
    if (use !== "query" && this.index.metric === "cosine" && values.every((v) => v === 0)) {
      throw invalidArgument(
        `${field}.values`,
        "cosine vectors must not be all zeros",
        "a non-zero vector",
        "all zeros",
      );
    }
  }

  /**
   * The same checks for a logged write, before any lookup or mutation. At replay (`live`
   * false) the magnitude limit is not applied: a write acknowledged before the limit existed
   * must not be dropped now.
   */
  checkWrite(write: WriteOp, live: boolean): void {
    if (write.op === "upsert") this.checkRecords(write.records, "records", live);
    if (write.op === "update") this.checkVectors(write.values, write.sparseValues, "update", "update", live);
  }
}

/** An update's merged metadata stays within the limit an upsert has (the field is `setMetadata`). */
function checkMergedMetadata(merged: Map<string, VectorRecord>): void {
  for (const record of merged.values()) {
    if (!record.metadata) continue;
    const bytes = metadataByteLength(record.metadata);
    if (bytes > metadataBytesMax) {
      throw invalidArgument(
        "setMetadata",
        `setMetadata: the metadata of record ${JSON.stringify(record.id)} would be ${bytes} bytes after this update (limit: at most ${metadataBytesMax} bytes as JSON)`,
        `at most ${metadataBytesMax} bytes as JSON`,
        `${bytes} bytes after merging`,
      );
    }
  }
}

/** The engine's own check of the magnitude limit (gateway/schemas gives the wire's field path first). */
function checkMagnitudes(values: Float32Array | undefined, field: string): void {
  if (values === undefined) return;
  for (let i = 0; i < values.length; i++) {
    if (!isWithinComponentMagnitude(values[i]!)) {
      throw invalidArgument(
        `${field}[${i}]`,
        `${field}[${i}] is too large for this metric: scores would overflow (limit: magnitude at most ${componentMagnitudeMax} on dotproduct and euclidean indexes)`,
        `magnitude at most ${componentMagnitudeMax}`,
        values[i]!,
      );
    }
  }
}

export function isSet(bits: Uint8Array, row: number): boolean {
  return ((bits[row >> 3]! >> (row & 7)) & 1) === 1;
}

export function mergeUpdate(record: VectorRecord, update: Extract<WriteOp, { op: "update" }>): VectorRecord {
  const merged: VectorRecord = { id: record.id };
  const values = update.values ?? record.values;
  if (values) merged.values = values;
  const sparse = update.sparseValues ?? record.sparseValues;
  if (sparse) merged.sparseValues = sparse;
  const metadata: Metadata | undefined = update.setMetadata
    ? { ...(record.metadata ?? {}), ...update.setMetadata }
    : record.metadata;
  if (metadata && Object.keys(metadata).length > 0) merged.metadata = metadata;
  return merged;
}
