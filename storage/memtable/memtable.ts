/**
 * The memtable: acknowledged writes of one namespace that are not yet in a slab. Queries scan
 * it exactly, so a write is searchable the moment it is acknowledged.
 *
 * Layout: rows are appended, never moved. Dense values live in one growable float32 buffer
 * (row-major, `dim` per row) so the kernels scan it in one call; ids, metadata and sparse
 * values live in parallel arrays. An overwrite or delete clears the row's bit in `live` and
 * appends nothing (delete) or a new row (upsert/update).
 *
 * Invariants:
 *   1. An id has at most one live row: `idToRow.get(id)` is that row, and its bit in `live` is set.
 *   2. `liveCount` equals the number of set bits in `live` over [0, rowCount).
 *   3. Rows are appended in LSN order: an append's LSN is never below `maxLsn`.
 *   4. A frozen memtable (being flushed) accepts kills but no appends.
 */
import { assert } from "../errors.ts";
import { isKernelSafeInverseNorm } from "../../ffi/mod.ts";
// The slab's own id order and inverse norm, so a record sorts and scores the same before and
// after it is flushed (storage/DESIGN.md, Slabs decisions 4 and 6).
import { compareIds, inverseNorm } from "../slab/mod.ts";
import type { Metadata, SparseValues, VectorRecord } from "../types.ts";

/** A memtable's first buffers hold this many rows: most namespaces of a many-tenant index hold a few. */
const firstRowCapacity = 4;
/** Up to here buffers grow fourfold (cheap copies); past it straight to the rows hint. */
const smallRowCapacity = 256;

export class Memtable {
  readonly dim: number;
  rowCount = 0;
  liveCount = 0;
  /** Approximate bytes held: vectors, ids, metadata and sparse entries. Drives flushing. */
  byteCount = 0;
  frozen = false;
  minLsn = 0n;
  maxLsn = 0n;

  private capacity = 0;
  private vectorBuffer = new Float32Array(0);
  private inverseNormBuffer = new Float32Array(0);
  private liveBits = new Uint8Array(0);
  private readonly ids: string[] = [];
  private readonly metadatas: (Metadata | undefined)[] = [];
  private readonly sparses: (SparseValues | undefined)[] = [];
  private readonly idToRow = new Map<string, number>();
  private sortedLiveIdsCache: string[] | undefined;
  /** Rows whose norm the float32 cosine kernels cannot handle (ffi/score-range.ts), ascending. */
  private readonly extremeRowList: number[] = [];

  /**
   * `rowsHint`: how many rows the memtable will likely hold before it is flushed. Buffers
   * start at 4 rows and grow fourfold to 256 (a tenant of a few records costs a few hundred
   * bytes, not 256 rows' worth: at 100,000 tenants that was gigabytes); past that they grow
   * straight to the hint: fresh buffers cost nothing until touched (the OS maps pages
   * lazily), while doubling copies every row several times and touches each page again.
   */
  constructor(
    dim: number,
    private readonly rowsHint = smallRowCapacity,
  ) {
    assert(Number.isInteger(dim) && dim >= 0, "memtable dimension is a non-negative integer");
    this.dim = dim;
  }

  /** Dense values of rows [0, rowCount), row-major. A view: valid until the next append. */
  get vectors(): Float32Array {
    return this.vectorBuffer.subarray(0, this.rowCount * this.dim);
  }

  get inverseNorms(): Float32Array {
    return this.inverseNormBuffer.subarray(0, this.rowCount);
  }

  /** Rows (dead or alive) of extreme norm, ascending: cosine scores them in float64. */
  get extremeRows(): readonly number[] {
    return this.extremeRowList;
  }

  /** Bit r set when row r is live. A view: valid until the next append. */
  get live(): Uint8Array {
    return this.liveBits.subarray(0, (this.rowCount + 7) >> 3);
  }

  isLive(row: number): boolean {
    return ((this.liveBits[row >> 3]! >> (row & 7)) & 1) === 1;
  }

  rowOf(id: string): number {
    return this.idToRow.get(id) ?? -1;
  }

  id(row: number): string {
    return this.ids[row]!;
  }

  metadata(row: number): Metadata | undefined {
    return this.metadatas[row];
  }

  sparseValues(row: number): SparseValues | undefined {
    return this.sparses[row];
  }

  /** A copy of the row's dense values (safe to hand out). */
  values(row: number): Float32Array | undefined {
    if (this.dim === 0) return undefined;
    return this.vectorBuffer.slice(row * this.dim, (row + 1) * this.dim);
  }

  record(row: number): VectorRecord {
    return this.recordWith(row, this.values(row));
  }

  private recordWith(row: number, values: Float32Array | undefined): VectorRecord {
    const record: VectorRecord = { id: this.ids[row]! };
    if (values) record.values = values;
    const sparse = this.sparses[row];
    if (sparse) record.sparseValues = sparse;
    const metadata = this.metadatas[row];
    if (metadata) record.metadata = metadata;
    return record;
  }

  /** Appends a record as the live version of its id; the caller has killed any older version. */
  append(record: VectorRecord, lsn: bigint): number {
    assert(!this.frozen, "a frozen memtable takes no appends");
    assert(!this.idToRow.has(record.id), "an id has at most one live memtable row");
    assert(lsn >= this.maxLsn, "memtable rows are appended in LSN order");
    if (this.dim > 0) assert(record.values?.length === this.dim, "dense values have the index dimension");
    if (this.rowCount === this.capacity) this.grow();
    const row = this.rowCount++;
    if (this.dim > 0) {
      this.vectorBuffer.set(record.values!, row * this.dim);
      const rowInverseNorm = inverseNorm(record.values!);
      this.inverseNormBuffer[row] = rowInverseNorm;
      if (!isKernelSafeInverseNorm(rowInverseNorm)) this.extremeRowList.push(row);
    }
    this.liveBits[row >> 3]! |= 1 << (row & 7);
    this.liveCount++;
    this.ids.push(record.id);
    this.metadatas.push(record.metadata);
    this.sparses.push(record.sparseValues);
    this.idToRow.set(record.id, row);
    if (this.minLsn === 0n) this.minLsn = lsn;
    this.maxLsn = lsn;
    this.byteCount += recordBytes(record, this.dim);
    this.sortedLiveIdsCache = undefined;
    return row;
  }

  /** Marks the live row of `id` dead. Returns whether there was one. */
  kill(id: string): boolean {
    const row = this.idToRow.get(id);
    if (row === undefined) return false;
    this.idToRow.delete(id);
    this.liveBits[row >> 3]! &= ~(1 << (row & 7));
    this.liveCount--;
    this.sortedLiveIdsCache = undefined;
    return true;
  }

  /** Marks every row dead. */
  killAll(): void {
    this.idToRow.clear();
    this.liveBits.fill(0);
    this.liveCount = 0;
    this.sortedLiveIdsCache = undefined;
  }

  /** Live rows in row order. */
  liveRows(): number[] {
    const rows: number[] = [];
    for (let row = 0; row < this.rowCount; row++) if (this.isLive(row)) rows.push(row);
    return rows;
  }

  /** Live ids sorted by compareIds (UTF-8 byte order, as slabs sort them), the order list-by-prefix pages in. Cached until the next change. */
  sortedLiveIds(): string[] {
    if (!this.sortedLiveIdsCache) this.sortedLiveIdsCache = [...this.idToRow.keys()].sort(compareIds);
    return this.sortedLiveIdsCache;
  }

  freeze(): void {
    this.frozen = true;
  }

  private grow(): void {
    const capacity =
      this.capacity === 0
        ? firstRowCapacity
        : this.capacity < smallRowCapacity
          ? this.capacity * 4
          : Math.max(this.capacity * 2, this.rowsHint);
    const vectors = new Float32Array(capacity * this.dim);
    vectors.set(this.vectorBuffer);
    const norms = new Float32Array(capacity);
    norms.set(this.inverseNormBuffer);
    const live = new Uint8Array((capacity + 7) >> 3);
    live.set(this.liveBits);
    this.vectorBuffer = vectors;
    this.inverseNormBuffer = norms;
    this.liveBits = live;
    this.capacity = capacity;
  }
}

function recordBytes(record: VectorRecord, dim: number): number {
  let bytes = 64 + record.id.length + dim * 4;
  if (record.sparseValues) bytes += record.sparseValues.indices.length * 8;
  if (record.metadata) bytes += JSON.stringify(record.metadata).length;
  return bytes;
}
