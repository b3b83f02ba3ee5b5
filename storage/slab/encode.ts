/**
 * The slab writer: turns one batch of records of one namespace into a complete slab file.
 *
 * Steps:
 *   1. Validate the input (identity fields, limits, every record: id, dense values, sparse
 *      values, metadata) and refuse duplicate ids. Nothing is written for a bad input.
 *   2. Encode the variable-length parts: UTF-8 ids, sorted sparse pairs, msgpack metadata.
 *   3. Plan the sections (kind, flags, byte length) and lay them out at 64-byte boundaries
 *      after the 64-byte header; the section table follows the last section; the 64-byte
 *      footer follows the table.
 *   4. Allocate one zeroed buffer (so every padding byte is zero) and fill each section in
 *      place; the large vector sections are never built twice.
 *   5. Checksum each section, then write the table, the header and the footer.
 *
 * SPEC.md in this folder describes every byte.
 */

import { inverseNorm as kernelInverseNorm } from "../../ffi/mod.ts";
import type { Metric, SparseValues, VectorRecord } from "../types.ts";
import { invalidArgument } from "../errors.ts";
import { metadataForPacking } from "../metadata.ts";
import { type Bookkeeping, isMetric, metadataProblem, packr } from "./codec.ts";
import {
  SectionKind,
  alignUp,
  checksum,
  dimMax,
  entry,
  fileFlagsKnown,
  footer,
  footerBytes,
  footerMagic,
  formatVersionMajor,
  formatVersionMinor,
  formatVersionMinorVectorIndex,
  header,
  headerBytes,
  headerMagic,
  idBytesMax,
  levelMax,
  namespaceBytesMax,
  sectionAlignmentBytes,
  sectionEncodingPlain,
  sectionEntryBytes,
  sectionFlagRequired,
  slabBytesMax,
  slabIdBytesMax,
  slabRowsMax,
  sourceSlabsMax,
  u32Max,
  f32View,
  u32View,
} from "./format.ts";
import { compareByteRanges, encodeId, idDecoder } from "./ids.ts";
import { fillVectorIndex, type IvfIndex, rescoreFactorMax, vectorIndexBytes } from "./vector-index.ts";

export interface SlabBuildInput {
  slabId: string;
  namespace: string;
  level: number;
  /** 0 for sparse-only indexes. */
  dim: number;
  metric: Metric;
  /** Rows in order; every record has `values` of length `dim` when `dim > 0`, none when `dim == 0`. */
  records: VectorRecord[];
  minLsn: bigint;
  maxLsn: bigint;
  sourceSlabs: string[];
  /** Opaque bytes stored in METADATA_INDEX and handed back by the reader. */
  metadataIndex?: Uint8Array;
  /** Milliseconds since the Unix epoch; defaults to now. Pass it for byte-identical output. */
  createdAt?: number;
  /**
   * The IVF partitions (vector-index.ts); the records must already be in partition order.
   * Written as VECTOR_INDEX, and the file is format 1.1.
   */
  vectorIndex?: IvfIndex;
}

const lsnMax = (1n << 64n) - 1n;

interface PlannedSection {
  kind: number;
  flags: number;
  length: number;
  fill: (target: Uint8Array) => void;
}

/** Builds the whole slab file. Throws INVALID_ARGUMENT naming the field for any bad input. */
export function encodeSlab(input: SlabBuildInput): Uint8Array {
  // Step 1: validate.
  validateIdentity(input);
  const { dim, records } = input;
  const rowCount = records.length;
  const idBytes: Uint8Array[] = new Array(rowCount);
  const sparseRows: (SparseValues | undefined)[] = new Array(rowCount);
  const metadataBytes: (Uint8Array | undefined)[] = new Array(rowCount);
  let idBytesTotal = 0;
  let sparseEntriesTotal = 0;
  let metadataBytesTotal = 0;
  let anySparse = false;
  let anyMetadata = false;
  for (let row = 0; row < rowCount; row++) {
    const record = records[row]!;
    idBytes[row] = validateId(record, row);
    idBytesTotal += idBytes[row]!.length;
    validateDense(record, row, dim);
    // Step 2: encode variable-length parts while validating.
    const sparse = normalizeSparse(record.sparseValues, row);
    sparseRows[row] = sparse;
    if (sparse !== undefined) {
      anySparse = true;
      sparseEntriesTotal += sparse.indices.length;
    }
    if (record.metadata !== undefined) {
      const problem = metadataProblem(record.metadata);
      if (problem !== undefined) {
        throw invalidArgument(`records[${row}].metadata`, problem);
      }
      const packed = packr.pack(metadataForPacking(record.metadata));
      metadataBytes[row] = packed;
      metadataBytesTotal += packed.length;
      anyMetadata = true;
    }
  }
  const idsSectionBytes = 4 * (rowCount + 1) + idBytesTotal;
  checkU32("records[].id", "total id bytes", idBytesTotal);
  checkU32("records[].sparseValues", "total sparse entries", sparseEntriesTotal);
  checkU32("records[].metadata", "total metadata bytes", metadataBytesTotal);
  const sortedRows = sortRowsById(idBytes);

  // Step 3: plan sections. Kinds ascending; each appears once.
  const kinds: number[] = [SectionKind.bookkeeping, SectionKind.ids, SectionKind.idLookup];
  if (dim > 0) {
    kinds.push(
      SectionKind.vectorsF32,
      SectionKind.inverseNorms,
      SectionKind.int8Codes,
      SectionKind.int8Scales,
    );
  }
  if (anySparse) kinds.push(SectionKind.sparse);
  if (anyMetadata) kinds.push(SectionKind.metadata);
  if (input.metadataIndex !== undefined) kinds.push(SectionKind.metadataIndex);
  const vectorIndex = input.vectorIndex;
  if (vectorIndex !== undefined) validateVectorIndex(vectorIndex, rowCount, dim);
  if (vectorIndex !== undefined) kinds.push(SectionKind.vectorIndex);
  // 1.1 adds VECTOR_INDEX; a file without one stays 1.0, byte for byte as before.
  const versionMinor = vectorIndex === undefined ? formatVersionMinor : formatVersionMinorVectorIndex;

  const bookkeeping: Bookkeeping = {
    formatVersion: formatVersionMajor,
    slabId: input.slabId,
    level: input.level,
    namespace: input.namespace,
    dim,
    metric: input.metric,
    rowCount,
    minLsn: input.minLsn,
    maxLsn: input.maxLsn,
    sourceSlabs: [...input.sourceSlabs],
    createdAt: input.createdAt ?? Date.now(),
    sections: kinds,
    vectorIndex: vectorIndex === undefined ? "none" : "ivf",
  };
  // bigint fields are always packed as 64-bit integers so they decode as bigint.
  const bookkeepingBytes = packr.pack(bookkeeping);

  const sections: PlannedSection[] = [
    {
      kind: SectionKind.bookkeeping,
      flags: sectionFlagRequired,
      length: bookkeepingBytes.length,
      fill: (target) => target.set(bookkeepingBytes),
    },
    {
      kind: SectionKind.ids,
      flags: sectionFlagRequired,
      length: idsSectionBytes,
      fill: (target) => fillOffsetsAndBytes(target, idBytes, rowCount),
    },
    {
      kind: SectionKind.idLookup,
      flags: sectionFlagRequired,
      length: 4 * rowCount,
      fill: (target) => u32View(target, 0, rowCount).set(sortedRows),
    },
  ];
  if (dim > 0) {
    sections.push(
      {
        kind: SectionKind.vectorsF32,
        flags: sectionFlagRequired,
        length: 4 * rowCount * dim,
        fill: (target) => fillVectors(target, records, dim),
      },
      {
        kind: SectionKind.inverseNorms,
        flags: sectionFlagRequired,
        length: 4 * rowCount,
        fill: (target) => fillInverseNorms(target, records),
      },
      {
        // INT8 sections are derived data: a reader could rebuild them, so they are optional.
        kind: SectionKind.int8Codes,
        flags: 0,
        length: rowCount * dim,
        fill: (target) => fillInt8Codes(target, records, dim),
      },
      {
        kind: SectionKind.int8Scales,
        flags: 0,
        length: 4 * rowCount,
        fill: (target) => fillInt8Scales(target, records),
      },
    );
  }
  if (anySparse) {
    sections.push({
      kind: SectionKind.sparse,
      flags: sectionFlagRequired,
      length: 4 * (rowCount + 1) + 8 * sparseEntriesTotal,
      fill: (target) => fillSparse(target, sparseRows, sparseEntriesTotal),
    });
  }
  if (anyMetadata) {
    sections.push({
      kind: SectionKind.metadata,
      flags: sectionFlagRequired,
      length: 4 * (rowCount + 1) + metadataBytesTotal,
      fill: (target) => fillOffsetsAndBytes(target, metadataBytes, rowCount),
    });
  }
  if (input.metadataIndex !== undefined) {
    const metadataIndex = input.metadataIndex;
    sections.push({
      // Rebuildable from METADATA, so an older reader that does not know it may skip it.
      kind: SectionKind.metadataIndex,
      flags: 0,
      length: metadataIndex.length,
      fill: (target) => target.set(metadataIndex),
    });
  }
  if (vectorIndex !== undefined) {
    sections.push({
      // Derived data: a reader that does not know it searches exactly.
      kind: SectionKind.vectorIndex,
      flags: 0,
      length: vectorIndexBytes(vectorIndex),
      fill: (target) => fillVectorIndex(target, vectorIndex),
    });
  }

  const offsets: number[] = [];
  let cursor = headerBytes;
  for (const section of sections) {
    cursor = alignUp(cursor);
    offsets.push(cursor);
    cursor += section.length;
  }
  const tableOffset = alignUp(cursor);
  const tableLength = sectionEntryBytes * sections.length;
  const fileLength = tableOffset + tableLength + footerBytes;
  if (fileLength > slabBytesMax) {
    throw invalidArgument(
      "records",
      "the slab would be larger than one mapping can hold",
      slabBytesMax,
      fileLength,
    );
  }

  // Step 4: one zeroed buffer; fill in place.
  const file = new Uint8Array(fileLength);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let i = 0; i < sections.length; i++) {
    const section = sections[i]!;
    const offset = offsets[i]!;
    const target = file.subarray(offset, offset + section.length);
    section.fill(target);
    // Step 5: checksum the section and record it in the table.
    const entryStart = tableOffset + i * sectionEntryBytes;
    view.setUint32(entryStart + entry.kind, section.kind, true);
    view.setUint16(entryStart + entry.flags, section.flags, true);
    view.setUint16(entryStart + entry.encoding, sectionEncodingPlain, true);
    view.setBigUint64(entryStart + entry.offset, BigInt(offset), true);
    view.setBigUint64(entryStart + entry.length, BigInt(section.length), true);
    view.setUint32(entryStart + entry.checksum, checksum(target), true);
  }
  const tableChecksum = checksum(file.subarray(tableOffset, tableOffset + tableLength));

  file.set(headerMagic, header.magic);
  view.setUint16(header.versionMajor, formatVersionMajor, true);
  view.setUint16(header.versionMinor, versionMinor, true);
  view.setUint32(header.flags, fileFlagsKnown, true);
  view.setBigUint64(header.fileLength, BigInt(fileLength), true);
  view.setUint32(header.alignment, sectionAlignmentBytes, true);
  view.setUint32(header.headerLength, headerBytes, true);
  view.setUint32(header.checksum, checksum(file.subarray(0, header.checksum)), true);

  const footerStart = fileLength - footerBytes;
  view.setBigUint64(footerStart + footer.tableOffset, BigInt(tableOffset), true);
  view.setBigUint64(footerStart + footer.tableLength, BigInt(tableLength), true);
  view.setUint32(footerStart + footer.sectionCount, sections.length, true);
  view.setUint32(footerStart + footer.tableChecksum, tableChecksum, true);
  view.setBigUint64(footerStart + footer.fileLength, BigInt(fileLength), true);
  view.setUint16(footerStart + footer.versionMajor, formatVersionMajor, true);
  view.setUint16(footerStart + footer.versionMinor, versionMinor, true);
  view.setUint32(footerStart + footer.flags, fileFlagsKnown, true);
  view.setUint32(
    footerStart + footer.checksum,
    checksum(file.subarray(footerStart, footerStart + footer.checksum)),
    true,
  );
  file.set(footerMagic, footerStart + footer.magic);
  return file;
}

/** The partitions cover the rows exactly and the centroids fit the metric's space. */
function validateVectorIndex(index: IvfIndex, rowCount: number, dim: number): void {
  const { partitionCount, offsets, centroids, centroidDim, probes } = index;
  const problem =
    dim === 0
      ? "a sparse-only slab has no vector index"
      : partitionCount < 1 || partitionCount > rowCount
        ? `${partitionCount} partitions for ${rowCount} rows`
        : offsets.length !== partitionCount + 1 || offsets[0] !== 0 || offsets[partitionCount] !== rowCount
          ? "partition offsets must start at 0 and end at the row count"
          : offsets.some((offset, p) => p > 0 && offset < offsets[p - 1]!)
            ? "partition offsets decrease"
            : centroids.length !== partitionCount * centroidDim
              ? "centroids do not hold partitionCount x centroidDim values"
              : !centroids.every(Number.isFinite)
                ? "a centroid value is not finite"
                : probes < 1 || probes > partitionCount
                  ? `probes ${probes} is outside 1..${partitionCount}`
                  : !Number.isInteger(index.rescoreFactor) ||
                      index.rescoreFactor < 0 ||
                      index.rescoreFactor > rescoreFactorMax
                    ? `rescoreFactor ${index.rescoreFactor} is outside 0..${rescoreFactorMax}`
                    : undefined;
  if (problem !== undefined) throw invalidArgument("vectorIndex", `vectorIndex: ${problem}`);
}

function validateIdentity(input: SlabBuildInput): void {
  if (typeof input.slabId !== "string" || input.slabId.length === 0 || !input.slabId.isWellFormed()) {
    throw invalidArgument(
      "slabId",
      "slab id must be a non-empty well-formed string",
      undefined,
      input.slabId,
    );
  }
  if (encodeId(input.slabId).length > slabIdBytesMax) {
    throw invalidArgument(
      "slabId",
      "slab id is too long",
      `${slabIdBytesMax} UTF-8 bytes`,
      input.slabId.length,
    );
  }
  if (typeof input.namespace !== "string" || !input.namespace.isWellFormed()) {
    throw invalidArgument("namespace", "namespace must be a well-formed string", undefined, input.namespace);
  }
  if (encodeId(input.namespace).length > namespaceBytesMax) {
    throw invalidArgument("namespace", "namespace is too long", `${namespaceBytesMax} UTF-8 bytes`);
  }
  if (!Number.isInteger(input.level) || input.level < 0 || input.level > levelMax) {
    throw invalidArgument("level", "level out of range", `0..${levelMax}`, input.level);
  }
  if (!Number.isInteger(input.dim) || input.dim < 0 || input.dim > dimMax) {
    throw invalidArgument("dim", "dimension out of range", `0..${dimMax}`, input.dim);
  }
  if (!isMetric(input.metric)) {
    throw invalidArgument(
      "metric",
      "unknown metric",
      "cosine, euclidean or dotproduct",
      String(input.metric),
    );
  }
  if (!Array.isArray(input.records) || input.records.length === 0) {
    // An empty slab serves nothing: flush skips empty memtables and compaction retires
    // fully-deleted inputs without writing an output.
    throw invalidArgument("records", "a slab holds at least one record", `1..${slabRowsMax}`, 0);
  }
  if (input.records.length > slabRowsMax) {
    throw invalidArgument("records", "too many records for one slab", slabRowsMax, input.records.length);
  }
  // Dense sections alone (f32 vectors, int8 codes, norms, scales) decide most of the size:
  // refuse early, before validating gigabytes of values, when they cannot fit.
  const denseBytes = input.records.length * (5 * input.dim + 8);
  if (input.dim > 0 && denseBytes > slabBytesMax) {
    throw invalidArgument(
      "records",
      "the slab would be larger than one mapping can hold",
      slabBytesMax,
      denseBytes,
    );
  }
  for (const [field, lsn] of [
    ["minLsn", input.minLsn],
    ["maxLsn", input.maxLsn],
  ] as const) {
    if (typeof lsn !== "bigint" || lsn < 0n || lsn > lsnMax) {
      throw invalidArgument(field, "LSN must be a bigint in 0..2^64-1", "0..2^64-1", String(lsn));
    }
  }
  if (input.minLsn > input.maxLsn) {
    throw invalidArgument("minLsn", "minLsn is above maxLsn", String(input.maxLsn), String(input.minLsn));
  }
  if (!Array.isArray(input.sourceSlabs) || input.sourceSlabs.length > sourceSlabsMax) {
    throw invalidArgument("sourceSlabs", "too many source slabs", sourceSlabsMax, input.sourceSlabs?.length);
  }
  input.sourceSlabs.forEach((source, index) => {
    if (typeof source !== "string" || source.length === 0 || !source.isWellFormed()) {
      throw invalidArgument(`sourceSlabs[${index}]`, "source slab id must be a non-empty string");
    }
    if (encodeId(source).length > slabIdBytesMax) {
      throw invalidArgument(`sourceSlabs[${index}]`, "source slab id is too long", `${slabIdBytesMax} bytes`);
    }
  });
  if (input.metadataIndex !== undefined && !(input.metadataIndex instanceof Uint8Array)) {
    throw invalidArgument("metadataIndex", "metadata index must be a Uint8Array");
  }
  if (input.createdAt !== undefined && !(Number.isSafeInteger(input.createdAt) && input.createdAt >= 0)) {
    throw invalidArgument(
      "createdAt",
      "createdAt must be milliseconds since the epoch",
      ">= 0",
      input.createdAt,
    );
  }
}

function validateId(record: VectorRecord, row: number): Uint8Array {
  const field = `records[${row}].id`;
  if (typeof record?.id !== "string" || record.id.length === 0) {
    throw invalidArgument(field, "id must be a non-empty string");
  }
  // A lone surrogate would be replaced by U+FFFD in UTF-8 and read back as another id.
  if (!record.id.isWellFormed()) throw invalidArgument(field, "id holds a lone UTF-16 surrogate");
  const bytes = encodeId(record.id);
  if (bytes.length > idBytesMax) {
    throw invalidArgument(field, "id is too long", `${idBytesMax} UTF-8 bytes`, bytes.length);
  }
  return bytes;
}

function validateDense(record: VectorRecord, row: number, dim: number): void {
  const field = `records[${row}].values`;
  if (dim === 0) {
    if (record.values !== undefined) {
      throw invalidArgument(field, "a sparse-only slab (dim 0) takes no dense values");
    }
    return;
  }
  const values = record.values;
  if (!(values instanceof Float32Array)) throw invalidArgument(field, "dense values must be a Float32Array");
  if (values.length !== dim)
    throw invalidArgument(field, "dense values length is not dim", dim, values.length);
  for (let i = 0; i < dim; i++) {
    if (!Number.isFinite(values[i]!)) throw invalidArgument(`${field}[${i}]`, "value is not finite");
  }
}

/** Checks a row's sparse values and returns them sorted by index; undefined for none or empty. */
function normalizeSparse(sparse: SparseValues | undefined, row: number): SparseValues | undefined {
  if (sparse === undefined) return undefined;
  const field = `records[${row}].sparseValues`;
  const { indices, values } = sparse;
  if (!(indices instanceof Uint32Array)) throw invalidArgument(`${field}.indices`, "must be a Uint32Array");
  if (!(values instanceof Float32Array)) throw invalidArgument(`${field}.values`, "must be a Float32Array");
  if (indices.length !== values.length) {
    throw invalidArgument(
      `${field}.values`,
      "values length differs from indices",
      indices.length,
      values.length,
    );
  }
  // Zero entries carry no information; the row reads back without sparseValues (SPEC.md).
  if (indices.length === 0) return undefined;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw invalidArgument(`${field}.values[${i}]`, "value is not finite");
  }
  let ascending = true;
  for (let i = 1; i < indices.length; i++) {
    if (indices[i]! <= indices[i - 1]!) {
      ascending = false;
      break;
    }
  }
  let sorted: SparseValues = sparse;
  if (!ascending) {
    const order = Array.from(indices.keys()).sort((a, b) => indices[a]! - indices[b]!);
    sorted = {
      indices: Uint32Array.from(order, (position) => indices[position]!),
      values: Float32Array.from(order, (position) => values[position]!),
    };
  }
  for (let i = 1; i < sorted.indices.length; i++) {
    if (sorted.indices[i] === sorted.indices[i - 1]) {
      throw invalidArgument(
        `${field}.indices`,
        "duplicate sparse index",
        "unique indices",
        sorted.indices[i],
      );
    }
  }
  return sorted;
}

function checkU32(field: string, what: string, total: number): void {
  if (total > u32Max)
    throw invalidArgument(field, `${what} exceed the u32 offsets of one slab`, u32Max, total);
}

/** Row numbers ordered by id bytes; refuses duplicate ids. */
function sortRowsById(idBytes: Uint8Array[]): Uint32Array {
  const compare = (a: number, b: number): number => {
    const left = idBytes[a]!;
    const right = idBytes[b]!;
    return compareByteRanges(left, 0, left.length, right, 0, right.length);
  };
  const order = Array.from({ length: idBytes.length }, (_, row) => row).sort(compare);
  for (let i = 1; i < order.length; i++) {
    if (compare(order[i - 1]!, order[i]!) === 0) {
      throw invalidArgument(
        `records[${order[i]}].id`,
        `duplicate id in one slab: rows ${order[i - 1]} and ${order[i]}`,
        "unique ids",
        idDecoder.decode(idBytes[order[i]!]!),
      );
    }
  }
  return Uint32Array.from(order);
}

/** u32 offsets (rows+1) then the concatenated payloads; a missing payload is an empty range. */
function fillOffsetsAndBytes(
  target: Uint8Array,
  payloads: (Uint8Array | undefined)[],
  rowCount: number,
): void {
  const offsets = u32View(target, 0, rowCount + 1);
  const bytesStart = 4 * (rowCount + 1);
  let cursor = 0;
  for (let row = 0; row < rowCount; row++) {
    offsets[row] = cursor;
    const payload = payloads[row];
    if (payload !== undefined) {
      target.set(payload, bytesStart + cursor);
      cursor += payload.length;
    }
  }
  offsets[rowCount] = cursor;
}

function fillVectors(target: Uint8Array, records: VectorRecord[], dim: number): void {
  const vectors = f32View(target, 0, records.length * dim);
  records.forEach((record, row) => {
    vectors.set(record.values!, row * dim);
  });
}

function fillInverseNorms(target: Uint8Array, records: VectorRecord[]): void {
  const inverseNorms = f32View(target, 0, records.length);
  records.forEach((record, row) => {
    inverseNorms[row] = inverseNorm(record.values!);
  });
}

/**
 * 1/||v|| in float32 as stored (INVERSE_NORMS, memtable): the kernels' inverse norm (same
 * float64 sum, bit for bit), except 0 where that overflows float32 (norms below ~3e-39), so a
 * stored norm is always finite.
 */
export function inverseNorm(values: Float32Array): number {
  const inverse = kernelInverseNorm(values);
  return Number.isFinite(inverse) ? inverse : 0;
}

/** Symmetric scalar quantization: scale = max|x| / 127 (float32); 0 for the zero vector. */
export function int8Scale(values: Float32Array): number {
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]!));
  return Math.fround(maxAbs / 127);
}

/** code = round(x / scale), half away from zero, clamped to -127..127; 0 when scale is 0. */
export function int8Code(value: number, scale: number): number {
  if (scale === 0) return 0;
  const scaled = value / scale;
  const magnitude = Math.min(127, Math.floor(Math.abs(scaled) + 0.5));
  // Written so a small negative value gives 0, never -0.
  return scaled < 0 && magnitude > 0 ? -magnitude : magnitude;
}

function fillInt8Codes(target: Uint8Array, records: VectorRecord[], dim: number): void {
  const codes = new Int8Array(target.buffer, target.byteOffset, records.length * dim);
  for (let row = 0; row < records.length; row++) {
    const values = records[row]!.values!;
    const scale = int8Scale(values);
    if (scale === 0) continue; // the section starts zeroed
    const base = row * dim;
    // int8Code inlined (this loop runs rows * dim times per flush); same arithmetic, so the
    // same codes. Storing -0 into an Int8Array stores 0.
    for (let i = 0; i < dim; i++) {
      const scaled = values[i]! / scale;
      const magnitude = Math.floor((scaled < 0 ? -scaled : scaled) + 0.5);
      const clamped = Math.min(127, magnitude);
      codes[base + i] = scaled < 0 ? -clamped : clamped;
    }
  }
}

function fillInt8Scales(target: Uint8Array, records: VectorRecord[]): void {
  const scales = f32View(target, 0, records.length);
  records.forEach((record, row) => {
    scales[row] = int8Scale(record.values!);
  });
}

/** CSR: u32 row offsets (rows+1), u32 indices (entries), f32 values (entries). */
function fillSparse(target: Uint8Array, rows: (SparseValues | undefined)[], entries: number): void {
  const rowCount = rows.length;
  const offsets = u32View(target, 0, rowCount + 1);
  const indices = u32View(target, 4 * (rowCount + 1), entries);
  const values = f32View(target, 4 * (rowCount + 1) + 4 * entries, entries);
  let cursor = 0;
  for (let row = 0; row < rowCount; row++) {
    offsets[row] = cursor;
    const sparse = rows[row];
    if (sparse === undefined) continue;
    indices.set(sparse.indices, cursor);
    values.set(sparse.values, cursor);
    cursor += sparse.indices.length;
  }
  offsets[rowCount] = cursor;
}
