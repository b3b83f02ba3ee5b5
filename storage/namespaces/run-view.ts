/**
 * One namespace's run of a packed slab, seen as if it were a slab of its own (DESIGN.md
 * decision 7): rows 0..n-1 are the run's rows, ids are the namespace's own ids (the packed
 * key's prefix removed), and every columnar view (vectors, norms, int8 codes) is a subarray of
 * the packed slab's, because the run's rows are contiguous. So the slab actor serves a run
 * exactly as it serves a slab, with no copy: a cold query maps the shared packed file once
 * and reads only the run's pages.
 *
 * Filters: the packed slab's metadata index covers every row of the file; `rowOffset` and
 * `fileRowCount` let the caller evaluate it there and shift the run's rows back.
 */
import type { SlabInfo, SlabReader } from "../slab/reader.ts";
import type { Metadata, SparseValues, VectorRecord } from "../types.ts";
import { idOfPackedKey, packedKey, runPrefix } from "./packed-keys.ts";

export class RunView {
  readonly info: SlabInfo;
  readonly rowOffset: number;
  readonly fileRowCount: number;
  private readonly end: number;
  private readonly prefix: string;
  private extremeRowCache: Uint32Array | undefined;

  constructor(
    private readonly reader: SlabReader,
    private readonly namespace: string,
    private readonly release: () => void,
  ) {
    this.prefix = runPrefix(namespace);
    const { start, end } = reader.rowRangeOfPrefix(this.prefix);
    this.rowOffset = start;
    this.end = end;
    this.fileRowCount = reader.info.rowCount;
    const dim = reader.info.dim;
    this.info = {
      ...reader.info,
      namespace,
      rowCount: end - start,
      // The run's share of the file, for the executor's memory budget.
      byteLength:
        Math.ceil((reader.info.byteLength * (end - start)) / Math.max(1, reader.info.rowCount)) || dim * 4,
      vectorIndex: "none",
    };
  }

  get name(): string {
    return this.reader.name;
  }

  get vectors(): Float32Array {
    const dim = this.info.dim;
    return this.reader.vectors.subarray(this.rowOffset * dim, this.end * dim);
  }

  get inverseNorms(): Float32Array {
    return this.reader.inverseNorms.subarray(this.rowOffset, this.end);
  }

  get int8Codes(): Int8Array {
    const dim = this.info.dim;
    return this.reader.int8Codes.subarray(this.rowOffset * dim, this.end * dim);
  }

  get int8Scales(): Float32Array {
    return this.reader.int8Scales.subarray(this.rowOffset, this.end);
  }

  get extremeRows(): Uint32Array {
    if (this.extremeRowCache === undefined) {
      const rows: number[] = [];
      for (const row of this.reader.extremeRows) {
        if (row >= this.rowOffset && row < this.end) rows.push(row - this.rowOffset);
      }
      this.extremeRowCache = Uint32Array.from(rows);
    }
    return this.extremeRowCache;
  }

  get metadataIndexBytes(): Uint8Array | undefined {
    return this.reader.metadataIndexBytes;
  }

  /** The run's rows of the SPARSE section, rebased so its offsets start at 0. */
  get sparseColumns(): { offsets: Uint32Array; indices: Uint32Array; values: Float32Array } | undefined {
    const columns = this.reader.sparseColumns;
    if (columns === undefined) return undefined;
    const first = columns.offsets[this.rowOffset]!;
    const last = columns.offsets[this.end]!;
    return {
      offsets: Uint32Array.from(
        columns.offsets.subarray(this.rowOffset, this.end + 1),
        (offset) => offset - first,
      ),
      indices: columns.indices.subarray(first, last),
      values: columns.values.subarray(first, last),
    };
  }

  /** Packed slabs carry no approximate index: runs are small and searched exactly. */
  get vectorIndex(): undefined {
    return undefined;
  }

  id(row: number): string {
    return idOfPackedKey(this.reader.id(this.fileRow(row)));
  }

  rowOf(id: string): number {
    const row = this.reader.rowOf(packedKey(this.namespace, id));
    return row >= this.rowOffset && row < this.end ? row - this.rowOffset : -1;
  }

  *idsFrom(from: string): Iterable<[string, number]> {
    for (const [key, row] of this.reader.idsFrom(packedKey(this.namespace, from))) {
      if (!key.startsWith(this.prefix)) return;
      yield [idOfPackedKey(key), row - this.rowOffset];
    }
  }

  sparseValues(row: number): SparseValues | undefined {
    return this.reader.sparseValues(this.fileRow(row));
  }

  metadata(row: number): Metadata | undefined {
    return this.reader.metadata(this.fileRow(row));
  }

  record(row: number, parts: { values: boolean; metadata: boolean }): VectorRecord {
    const record = this.reader.record(this.fileRow(row), parts);
    record.id = idOfPackedKey(record.id);
    return record;
  }

  touchPages(): number {
    return this.reader.touchPages();
  }

  close(): void {
    this.release();
  }

  private fileRow(row: number): number {
    if (!Number.isInteger(row) || row < 0 || row >= this.info.rowCount) {
      throw new RangeError(`row ${row} is outside the run of ${this.info.rowCount} rows`);
    }
    return this.rowOffset + row;
  }
}
