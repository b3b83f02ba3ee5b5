/**
 * The slab reader: opens one immutable slab file and serves rows from it without copying
 * the large sections.
 *
 * Invariants, once the constructor returns:
 *   - Every byte of the file has been checked: header and footer by their checksums and
 *     magic, the section table by its checksum, every section (known or not) by its own
 *     checksum, and every padding byte between them is zero. A single flipped byte anywhere
 *     is a CORRUPTION error naming the file.
 *   - Sections lie inside the file, start on 64-byte boundaries, do not overlap, appear in
 *     ascending offset order, and each kind appears at most once.
 *   - Every known section's length agrees with rowCount and dim from BOOKKEEPING, and the
 *     section list in BOOKKEEPING equals the table's kinds.
 *   - IDS offsets are monotone, each id is 1..idBytesMax bytes of valid UTF-8; ID_LOOKUP is
 *     a permutation of the rows with strictly ascending id bytes (so ids are unique);
 *     SPARSE and METADATA offsets are monotone and end at their payload's length; sparse
 *     indices are strictly ascending within each row.
 *   - Values (floats, int8 codes, metadata bytes) are trusted once their checksum matches;
 *     metadata is shape-checked when decoded.
 *   - After close() no method serves data: references to the bytes are dropped so a
 *     memory-mapped file is unmapped when the garbage collector frees the last view.
 * The numbered checks made at open are in validate.ts.
 */

import { isKernelSafeInverseNorm } from "../../ffi/mod.ts";
import type { Metadata, SparseValues, VectorRecord } from "../types.ts";
import { NeedleError, corruption, invalidArgument } from "../errors.ts";
import { mmap, readRanges, readRangesSync, statSync } from "../files.ts";
import { ioError } from "../fsync.ts";
import { metadataFromPacked } from "../metadata.ts";
import { metadataProblem, packr } from "./codec.ts";
import { f32View, slabBytesMax, u32View } from "./format.ts";
import { compareByteRanges, encodeId, idDecoder } from "./ids.ts";
import type { IvfIndex } from "./vector-index.ts";
import { type OpenSlab, type SlabInfo, minimumFileBytes, validateSlab } from "./validate.ts";

export type { SlabInfo };

/** The memory page size touchPages strides by (4 KiB on the platforms Needle runs on). */
const pageBytes = 4096;

/** A byte range of the file. */
interface ByteRange {
  position: number;
  length: number;
}

function rangeKey(range: ByteRange): string {
  return `${range.position}+${range.length}`;
}

/**
 * Where a demoted reader finds the sections it no longer holds: absolute file positions of
 * VECTORS_F32, the sparse (index, value) arrays and the METADATA payload.
 */
interface RawPositions {
  vectors: number;
  sparseIndices?: number;
  sparseValues?: number;
  metadataBytes?: number;
}

export class SlabReader {
  readonly name: string;
  readonly info: SlabInfo;
  private open: OpenSlab | undefined;
  /** The whole file's bytes (for touchPages); dropped by close like the section views. */
  private whole: Uint8Array | undefined;
  /** Set once demoted (see demote): the raw sections are read from the file by position. */
  private raw: RawPositions | undefined;
  /** The file a reader from openFile maps; undefined for fromBytes readers (never demoted). */
  private readonly path: string | undefined;
  /** Bytes read ahead asynchronously for the synchronous call running now (withPrefetched). */
  private prefetched: Map<string, Uint8Array> | undefined;

  /**
   * Memory-maps the file privately (copy-on-write: writes to the views never reach the file)
   * and validates it. I/O failures are IO errors; anything wrong with the bytes is CORRUPTION.
   * The file must not be truncated while mapped (the process would take SIGBUS); slabs are
   * immutable and replaced by rename, never rewritten in place. Deleting it is safe.
   */
  static openFile(path: string): SlabReader {
    let size: number;
    try {
      size = statSync(path).size;
    } catch (error) {
      throw ioError(path, "stat of slab file", error);
    }
    // Bun.mmap refuses empty files; anything this short is not a slab anyway.
    if (size < minimumFileBytes) {
      throw corruption(path, `file is ${size} bytes, shorter than a header and footer (${minimumFileBytes})`);
    }
    if (size > slabBytesMax) {
      throw corruption(path, `file is ${size} bytes, larger than any slab (${slabBytesMax})`);
    }
    let bytes: Uint8Array;
    try {
      bytes = mmap(path);
    } catch (error) {
      throw ioError(path, "mmap of slab file", error);
    }
    return new SlabReader(bytes, path, path);
  }

  /**
   * Validates bytes already in memory; `name` is the file or object name errors carry. The
   * reader views `bytes` in place, so the caller must not modify them afterwards.
   */
  static fromBytes(bytes: Uint8Array, name: string): SlabReader {
    if (!(bytes instanceof Uint8Array)) throw invalidArgument("bytes", "slab bytes must be a Uint8Array");
    // Typed views need 4-byte alignment of the underlying offset; copy the rare misaligned input.
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    return new SlabReader(aligned, name, undefined);
  }

  private constructor(bytes: Uint8Array, name: string, path: string | undefined) {
    this.name = name;
    this.path = path;
    try {
      const { info, open } = validateSlab(bytes, name);
      this.info = info;
      this.open = open;
      this.whole = bytes;
    } catch (error) {
      if (error instanceof NeedleError) throw error;
      // A check we did not foresee tripped inside a decoder: still the file's fault.
      throw corruption(name, `unreadable slab: ${(error as Error)?.message ?? String(error)}`, error);
    }
  }

  private get parts(): OpenSlab {
    if (this.open === undefined) {
      throw new NeedleError("INTERNAL", `${this.name}: slab reader used after close`, { file: this.name });
    }
    return this.open;
  }

  /**
   * rows*dim float32, a view over the file (no copy); empty when dim is 0. Treat as read-only.
   * Not available once demoted: rowVectors reads the rows a search needs.
   */
  get vectors(): Float32Array {
    this.refuseDemoted("vectors");
    return this.parts.vectors;
  }

  /**
   * The index portion: the bytes a demoted reader keeps in memory (ids and their lookup,
   * inverse norms, int8 codes and scales, the vector and metadata indexes, the row offsets of
   * sparse values and metadata). The rest of the file (float32 vectors, sparse entries,
   * metadata payloads) is what demotion gives back.
   */
  get indexPortionBytes(): number {
    const parts = this.parts;
    let bytes = 0;
    for (const view of residentViews(parts)) bytes += view.byteLength;
    return bytes;
  }

  /** Bytes this reader holds in memory: the whole mapped file, or the index portion once demoted. */
  get residentBytes(): number {
    return this.raw === undefined ? this.info.byteLength : this.indexPortionBytes;
  }

  /** Whether demote() ran: raw sections are read from the file on demand. */
  get demoted(): boolean {
    return this.raw !== undefined;
  }

  /**
   * Gives back the raw sections and keeps the index portion: copies the resident sections out
   * of the mapping and drops every view over it (the mapping goes with the garbage collector,
   * as after close). Afterwards searches read the float32 rows they score (rowVectors) and
   * records their values and metadata by positional reads of the file, which is immutable and
   * is deleted only after the reads that may use it ended (the namespace's read epochs).
   * Only readers from openFile can demote; idempotent.
   */
  demote(): void {
    if (this.raw !== undefined) return;
    const parts = this.parts;
    const whole = this.whole!;
    if (this.path === undefined) {
      throw new NeedleError("INTERNAL", `${this.name}: only a slab opened from a file can be demoted`);
    }
    const position = (view: ArrayBufferView | undefined): number | undefined =>
      view === undefined ? undefined : view.byteOffset - whole.byteOffset;
    const raw: RawPositions = {
      vectors: position(parts.vectors)!,
      sparseIndices: position(parts.sparseIndices),
      sparseValues: position(parts.sparseValues),
      metadataBytes: position(parts.metadataBytes),
    };
    const index = parts.vectorIndex;
    this.open = {
      idOffsets: parts.idOffsets.slice(),
      idBytes: parts.idBytes.slice(),
      idLookup: parts.idLookup.slice(),
      vectors: new Float32Array(0),
      inverseNorms: parts.inverseNorms.slice(),
      int8Codes: parts.int8Codes.slice(),
      int8Scales: parts.int8Scales.slice(),
      sparseOffsets: parts.sparseOffsets?.slice(),
      metadataOffsets: parts.metadataOffsets?.slice(),
      metadataIndexBytes: parts.metadataIndexBytes?.slice(),
      vectorIndex:
        index === undefined
          ? undefined
          : { ...index, centroids: index.centroids.slice(), offsets: index.offsets.slice() },
    };
    this.whole = undefined;
    this.raw = raw;
  }

  /**
   * The float32 rows `rows` (ascending), gathered into one array of rows.length * dim: views
   * copied from the mapping, or, once demoted, read from the file with adjacent rows in one
   * read each.
   */
  rowVectors(rows: ArrayLike<number>): Float32Array {
    const parts = this.parts;
    const dim = this.info.dim;
    const out = new Float32Array(rows.length * dim);
    for (let i = 0; i < rows.length; i++) this.checkRow(rows[i]!);
    if (this.raw === undefined) {
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        out.set(parts.vectors.subarray(row * dim, (row + 1) * dim), i * dim);
      }
      return out;
    }
    const runs = this.vectorRuns(rows);
    const read = this.readRaw(runs.map((run) => run.range));
    runs.forEach((run, i) => {
      out.set(f32View(read[i]!, 0, run.count * dim), run.at * dim);
    });
    return out;
  }

  /**
   * rowVectors without blocking the event loop: a demoted reader reads the rows on the I/O
   * threads first (the same ranges rowVectors would read), then assembles them.
   */
  async rowVectorsAsync(rows: ArrayLike<number>): Promise<Float32Array> {
    if (this.raw === undefined) return this.rowVectors(rows);
    for (let i = 0; i < rows.length; i++) this.checkRow(rows[i]!);
    return this.withPrefetched(
      this.vectorRuns(rows).map((run) => run.range),
      () => this.rowVectors(rows),
    );
  }

  /** records() without blocking the event loop: the demoted reader's reads happen first, async. */
  async recordsAsync(
    rows: readonly number[],
    parts: { values: boolean; metadata: boolean },
  ): Promise<VectorRecord[]> {
    if (this.raw === undefined) return this.records(rows, parts);
    for (const row of rows) this.checkRow(row);
    return this.withPrefetched(this.recordRanges(rows, parts), () => this.records(rows, parts));
  }

  /** Adjacent rows of `rows` (in order) as one read each: where they sit in the file. */
  private vectorRuns(rows: ArrayLike<number>): { count: number; at: number; range: ByteRange }[] {
    const rowBytes = 4 * this.info.dim;
    const base = this.raw!.vectors;
    const runs: { first: number; count: number; at: number }[] = [];
    for (let i = 0; i < rows.length; i++) {
      const last = runs[runs.length - 1];
      if (last !== undefined && rows[i] === last.first + last.count) last.count++;
      else runs.push({ first: rows[i]!, count: 1, at: i });
    }
    return runs.map(({ first, count, at }) => ({
      count,
      at,
      range: { position: base + first * rowBytes, length: count * rowBytes },
    }));
  }

  /** The ranges records(rows, parts) reads from a demoted reader's file. */
  private recordRanges(rows: readonly number[], parts: { values: boolean; metadata: boolean }): ByteRange[] {
    const open = this.parts;
    const raw = this.raw!;
    const ranges: ByteRange[] = [];
    if (parts.values && this.info.dim > 0) {
      ranges.push(...this.vectorRuns(Uint32Array.from(new Set(rows)).sort()).map((run) => run.range));
    }
    for (const row of rows) {
      if (parts.values && open.sparseOffsets !== undefined) {
        const start = open.sparseOffsets[row]!;
        const end = open.sparseOffsets[row + 1]!;
        if (start < end) {
          ranges.push({ position: raw.sparseIndices! + 4 * start, length: 4 * (end - start) });
          ranges.push({ position: raw.sparseValues! + 4 * start, length: 4 * (end - start) });
        }
      }
      if (parts.metadata && open.metadataOffsets !== undefined) {
        const start = open.metadataOffsets[row]!;
        const end = open.metadataOffsets[row + 1]!;
        if (start < end) ranges.push({ position: raw.metadataBytes! + start, length: end - start });
      }
    }
    return ranges;
  }

  /**
   * Reads `ranges` asynchronously, then runs `work` (synchronous) with them at hand: its
   * readRaw calls find their bytes there instead of reading. Nothing runs between the reads'
   * end and `work`, so concurrent callers never see each other's bytes.
   */
  private async withPrefetched<T>(ranges: ByteRange[], work: () => T): Promise<T> {
    let buffers: Uint8Array[];
    try {
      buffers = await readRanges(this.path!, ranges);
    } catch (error) {
      throw this.readFailure(error);
    }
    this.prefetched = new Map(ranges.map((range, i) => [rangeKey(range), buffers[i]!]));
    try {
      return work();
    } finally {
      this.prefetched = undefined;
    }
  }

  /** Records of several rows (one positional-read pass when demoted); see record(). */
  records(rows: readonly number[], parts: { values: boolean; metadata: boolean }): VectorRecord[] {
    if (this.raw === undefined || !(parts.values || parts.metadata)) {
      return rows.map((row) => this.record(row, parts));
    }
    const dim = this.info.dim;
    if (!parts.values || dim === 0) return rows.map((row) => this.record(row, parts));
    const sorted = Uint32Array.from(new Set(rows)).sort();
    const vectors = this.rowVectors(sorted);
    const positions = new Map(Array.from(sorted, (row, at) => [row, at]));
    return rows.map((row) => {
      const at = positions.get(row)!;
      return this.record(row, parts, vectors.slice(at * dim, (at + 1) * dim));
    });
  }
  /** 1/||v|| per row (0 for a zero vector), a view; empty when dim is 0. */
  get inverseNorms(): Float32Array {
    return this.parts.inverseNorms;
  }
  /**
   * Rows whose norm the float32 cosine kernels cannot handle (ffi/score-range.ts), ascending;
   * found once, by a pass over INVERSE_NORMS (no format change: the norms are already there).
   */
  get extremeRows(): Uint32Array {
    if (this.extremeRowCache === undefined) {
      const norms = this.parts.inverseNorms;
      const rows: number[] = [];
      for (let row = 0; row < norms.length; row++) if (!isKernelSafeInverseNorm(norms[row]!)) rows.push(row);
      this.extremeRowCache = Uint32Array.from(rows);
    }
    return this.extremeRowCache;
  }
  private extremeRowCache: Uint32Array | undefined;

  /** rows*dim int8 codes, a view; empty when dim is 0. */
  get int8Codes(): Int8Array {
    return this.parts.int8Codes;
  }
  /** Per-row int8 scale, a view; empty when dim is 0. */
  get int8Scales(): Float32Array {
    return this.parts.int8Scales;
  }
  /** The opaque METADATA_INDEX bytes given to encodeSlab, a view; undefined when none were given. */
  get metadataIndexBytes(): Uint8Array | undefined {
    return this.parts.metadataIndexBytes;
  }
  /** The SPARSE section's CSR columns (views), or undefined when no row has sparse values. */
  get sparseColumns(): { offsets: Uint32Array; indices: Uint32Array; values: Float32Array } | undefined {
    this.refuseDemoted("sparseColumns");
    const { sparseOffsets, sparseIndices, sparseValues } = this.parts;
    if (sparseOffsets === undefined || sparseIndices === undefined || sparseValues === undefined)
      return undefined;
    return { offsets: sparseOffsets, indices: sparseIndices, values: sparseValues };
  }
  /** The IVF partitions (views over the file) when the slab has them; rows are in partition order. */
  get vectorIndex(): IvfIndex | undefined {
    return this.parts.vectorIndex;
  }

  id(row: number): string {
    const parts = this.parts;
    this.checkRow(row);
    return idDecoder.decode(parts.idBytes.subarray(parts.idOffsets[row]!, parts.idOffsets[row + 1]!));
  }

  /** The row holding `id`, or -1. A binary search over ID_LOOKUP: no map is built. */
  rowOf(id: string): number {
    const parts = this.parts;
    if (typeof id !== "string" || !id.isWellFormed()) return -1;
    const key = encodeId(id);
    const position = this.lowerBound(key);
    if (position === parts.idLookup.length) return -1;
    const row = parts.idLookup[position]!;
    return this.compareRowToKey(row, key) === 0 ? row : -1;
  }

  /** Ids in ascending UTF-8 byte order (see compareIds), from the first id >= `from`. Yields [id, row]. */
  *idsFrom(from: string): Iterable<[string, number]> {
    const parts = this.parts;
    let position = this.lowerBound(encodeId(from));
    while (position < parts.idLookup.length) {
      const row = parts.idLookup[position]!;
      yield [this.id(row), row];
      position++;
    }
  }

  /**
   * The rows whose ids start with `prefix`, which must be one contiguous range of rows in id
   * order: a packed slab's run (storage/namespaces/DESIGN.md; its writer passes records sorted
   * by id, so the run's rows are its id-lookup positions). Two binary searches over ID_LOOKUP
   * and a pass over the run; CORRUPTION naming the file when the run's rows are not contiguous.
   */
  rowRangeOfPrefix(prefix: string): { start: number; end: number } {
    const parts = this.parts;
    const key = encodeId(prefix);
    const lookup = parts.idLookup;
    const first = this.lowerBound(key);
    // First position whose id neither sorts before the prefix nor starts with it.
    let low = first;
    let high = lookup.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.startsWithKey(lookup[middle]!, key)) low = middle + 1;
      else high = middle;
    }
    if (low === first) return { start: 0, end: 0 };
    const start = lookup[first]!;
    for (let position = first; position < low; position++) {
      if (lookup[position] !== start + (position - first)) {
        throw corruption(
          this.name,
          `the rows of ids starting with ${JSON.stringify(prefix)} are not contiguous`,
        );
      }
    }
    return { start, end: start + (low - first) };
  }

  /** A copy of the row's dense values; undefined when dim is 0. Safe to keep after close. */
  values(row: number): Float32Array | undefined {
    const parts = this.parts;
    this.checkRow(row);
    const dim = this.info.dim;
    if (dim === 0) return undefined;
    if (this.raw !== undefined) return this.rowVectors([row]);
    return parts.vectors.slice(row * dim, (row + 1) * dim);
  }

  /** Copies of the row's sparse indices and values; undefined when the row has none. */
  sparseValues(row: number): SparseValues | undefined {
    const parts = this.parts;
    this.checkRow(row);
    if (parts.sparseOffsets === undefined) return undefined;
    const start = parts.sparseOffsets[row]!;
    const end = parts.sparseOffsets[row + 1]!;
    if (start === end) return undefined;
    if (this.raw !== undefined) {
      const [indices, values] = this.readRaw([
        { position: this.raw.sparseIndices! + 4 * start, length: 4 * (end - start) },
        { position: this.raw.sparseValues! + 4 * start, length: 4 * (end - start) },
      ]);
      return { indices: u32View(indices!, 0, end - start), values: f32View(values!, 0, end - start) };
    }
    return { indices: parts.sparseIndices!.slice(start, end), values: parts.sparseValues!.slice(start, end) };
  }

  /** The row's metadata, freshly decoded; undefined when the row has none. */
  metadata(row: number): Metadata | undefined {
    const parts = this.parts;
    this.checkRow(row);
    if (parts.metadataOffsets === undefined) return undefined;
    const start = parts.metadataOffsets[row]!;
    const end = parts.metadataOffsets[row + 1]!;
    if (start === end) return undefined;
    const bytes =
      this.raw === undefined
        ? parts.metadataBytes!.subarray(start, end)
        : this.readRaw([{ position: this.raw.metadataBytes! + start, length: end - start }])[0]!;
    let decoded: unknown;
    try {
      decoded = packr.unpack(bytes);
    } catch (error) {
      throw corruption(this.name, `metadata of row ${row} is not valid msgpack`, error);
    }
    const problem = metadataProblem(decoded);
    if (problem !== undefined) throw corruption(this.name, `metadata of row ${row}: ${problem}`);
    return metadataFromPacked(decoded as Metadata);
  }

  /**
   * The row as a record; `values` brings dense and sparse values, `metadata` the metadata.
   * `dense`: the row's dense values when the caller read them already (records()).
   */
  record(row: number, parts: { values: boolean; metadata: boolean }, dense?: Float32Array): VectorRecord {
    const record: VectorRecord = { id: this.id(row) };
    if (parts.values) {
      const values = dense ?? this.values(row);
      if (values !== undefined) record.values = values;
      const sparse = this.sparseValues(row);
      if (sparse !== undefined) record.sparseValues = sparse;
    }
    if (parts.metadata) {
      const metadata = this.metadata(row);
      if (metadata !== undefined) record.metadata = metadata;
    }
    return record;
  }

  /**
   * Drops every reference to the file's bytes. Bun has no explicit unmap: the mapping is
   * released when the garbage collector frees the last view, so views a caller still holds
   * (vectors, metadataIndexBytes) stay valid. Copies returned by values() etc. are unaffected.
   */
  close(): void {
    this.open = undefined;
    this.whole = undefined;
  }

  private readRaw(ranges: ByteRange[]): Uint8Array[] {
    const prefetched = this.prefetched;
    if (prefetched !== undefined) {
      const found = ranges.map((range) => prefetched.get(rangeKey(range)));
      if (found.every((bytes) => bytes !== undefined)) return found as Uint8Array[];
    }
    try {
      return readRangesSync(this.path!, ranges);
    } catch (error) {
      throw this.readFailure(error);
    }
  }

  private readFailure(error: unknown): NeedleError {
    // Slab files are deleted only after the reads begun before they left ended, unless their
    // namespace or index was deleted: a read racing that delete finds nothing to read.
    if ((error as NodeJS.ErrnoException)?.code === "ENOENT") {
      return new NeedleError("NOT_FOUND", `${this.name}: the slab was deleted while this read ran`, {
        file: this.path,
        cause: error,
      });
    }
    return ioError(this.path!, "read of a demoted slab's rows", error);
  }

  private refuseDemoted(what: string): void {
    if (this.raw !== undefined) {
      throw new NeedleError(
        "INTERNAL",
        `${this.name}: ${what} of a demoted slab (its raw sections were given back)`,
      );
    }
  }

  /**
   * Reads one byte of every page, so a memory-mapped file is in memory before the first query
   * needs it (Dedicated read capacity). Returns a value computed from the bytes so the reads
   * cannot be optimised away.
   */
  touchPages(): number {
    this.refuseDemoted("touchPages");
    const bytes = this.whole;
    if (bytes === undefined) throw new NeedleError("INTERNAL", `${this.name}: slab reader used after close`);
    let sum = 0;
    for (let offset = 0; offset < bytes.byteLength; offset += pageBytes) sum = (sum + bytes[offset]!) | 0;
    return sum;
  }

  get closed(): boolean {
    return this.open === undefined;
  }

  private checkRow(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.info.rowCount) {
      throw invalidArgument(
        "row",
        `row out of range in slab ${this.name}`,
        `0..${this.info.rowCount - 1}`,
        row,
      );
    }
  }

  private compareRowToKey(row: number, key: Uint8Array): number {
    const { idBytes, idOffsets } = this.parts;
    return compareByteRanges(idBytes, idOffsets[row]!, idOffsets[row + 1]!, key, 0, key.length);
  }

  private startsWithKey(row: number, key: Uint8Array): boolean {
    const { idBytes, idOffsets } = this.parts;
    const start = idOffsets[row]!;
    if (idOffsets[row + 1]! - start < key.length) return false;
    return compareByteRanges(idBytes, start, start + key.length, key, 0, key.length) === 0;
  }

  /** First position in ID_LOOKUP whose id is >= key. */
  private lowerBound(key: Uint8Array): number {
    const lookup = this.parts.idLookup;
    let low = 0;
    let high = lookup.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compareRowToKey(lookup[middle]!, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** The views a demoted reader keeps (see indexPortionBytes). */
function residentViews(parts: OpenSlab): ArrayBufferView[] {
  const views: (ArrayBufferView | undefined)[] = [
    parts.idOffsets,
    parts.idBytes,
    parts.idLookup,
    parts.inverseNorms,
    parts.int8Codes,
    parts.int8Scales,
    parts.sparseOffsets,
    parts.metadataOffsets,
    parts.metadataIndexBytes,
    parts.vectorIndex?.centroids,
    parts.vectorIndex?.offsets,
  ];
  return views.filter((view) => view !== undefined);
}
