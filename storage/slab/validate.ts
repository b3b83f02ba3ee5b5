/**
 * Open-time validation of a slab file (see SPEC.md, "What the reader checks").
 * Nothing in the file is trusted until every step passes; the first failure is a
 * CORRUPTION NeedleError naming the file.
 *
 *   1. Check the length can hold a header and a footer.
 *   2. Footer: magic, checksum, version, flags, file length.
 *   3. Header: magic, checksum, agreement with the footer.
 *   4. Section table: bounds, checksum, then each entry (kind, flags, encoding, bounds,
 *      alignment, order), refusing unknown required kinds.
 *   5. Padding between header, sections, table and footer is zero.
 *   6. Every section's checksum.
 *   7. BOOKKEEPING decoded and checked field by field.
 *   8. Every known section's length and internal structure against rowCount and dim.
 */

import { corruption } from "../errors.ts";
import { isPlainObject } from "../plain-object.ts";
import { type Bookkeeping, bookkeepingFields, isMetric, packr } from "./codec.ts";
import {
  SectionKind,
  bookkeepingBytesMax,
  checksum,
  dimMax,
  entry,
  fileFlagsKnown,
  footer,
  footerBytes,
  footerMagic,
  formatVersionMajor,
  header,
  headerBytes,
  headerMagic,
  idBytesMax,
  knownSectionKinds,
  levelMax,
  sectionAlignmentBytes,
  sectionEncodingPlain,
  sectionEntryBytes,
  sectionFlagRequired,
  sectionFlagsKnown,
  sectionKindNames,
  slabBytesMax,
  slabRowsMax,
  sourceSlabsMax,
  f32View,
  u32View,
} from "./format.ts";
import { compareByteRanges, idDecoder } from "./ids.ts";
import { type IvfIndex, readVectorIndex } from "./vector-index.ts";

export interface SlabInfo {
  slabId: string;
  namespace: string;
  level: number;
  dim: number;
  metric: Bookkeeping["metric"];
  rowCount: number;
  minLsn: bigint;
  maxLsn: bigint;
  sourceSlabs: string[];
  createdAt: number;
  byteLength: number;
  /** "none" when the file has no VECTOR_INDEX section (always, for v1 writers); else its type. */
  vectorIndex: string;
}

export interface SectionLocation {
  kind: number;
  flags: number;
  offset: number;
  length: number;
}

/** The parts of an open slab; all views over the file's bytes. Dropped on close. */
export interface OpenSlab {
  idOffsets: Uint32Array;
  idBytes: Uint8Array;
  idLookup: Uint32Array;
  vectors: Float32Array;
  inverseNorms: Float32Array;
  int8Codes: Int8Array;
  int8Scales: Float32Array;
  sparseOffsets?: Uint32Array;
  sparseIndices?: Uint32Array;
  sparseValues?: Float32Array;
  metadataOffsets?: Uint32Array;
  metadataBytes?: Uint8Array;
  metadataIndexBytes?: Uint8Array;
  vectorIndex?: IvfIndex;
}

export const minimumFileBytes = headerBytes + footerBytes;

export function validateSlab(bytes: Uint8Array, name: string): { info: SlabInfo; open: OpenSlab } {
  const fail = (message: string): never => {
    throw corruption(name, message);
  };
  const fileLength = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (position: number, what: string): number => {
    const value = view.getBigUint64(position, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${value} is beyond any file size`);
    return Number(value);
  };
  const equalBytes = (position: number, expected: Uint8Array): boolean =>
    compareByteRanges(bytes, position, position + expected.length, expected, 0, expected.length) === 0;

  // Step 1.
  if (fileLength > slabBytesMax) fail(`file is ${fileLength} bytes, larger than any slab (${slabBytesMax})`);
  if (fileLength < minimumFileBytes) {
    fail(`file is ${fileLength} bytes, shorter than a header and footer (${minimumFileBytes})`);
  }

  // Step 2: the footer first, as it locates everything else.
  const footerStart = fileLength - footerBytes;
  if (!equalBytes(footerStart + footer.magic, footerMagic))
    fail("footer magic missing (truncated or not a slab)");
  const footerChecksum = checksum(bytes.subarray(footerStart, footerStart + footer.checksum));
  if (footerChecksum !== view.getUint32(footerStart + footer.checksum, true))
    fail("footer checksum mismatch");
  const versionMajor = view.getUint16(footerStart + footer.versionMajor, true);
  if (versionMajor !== formatVersionMajor) {
    fail(`format version ${versionMajor} is not supported (this reader reads ${formatVersionMajor})`);
  }
  const fileFlags = view.getUint32(footerStart + footer.flags, true);
  if ((fileFlags & ~fileFlagsKnown) !== 0) fail(`unknown file flags 0x${fileFlags.toString(16)}`);
  const recordedLength = u64(footerStart + footer.fileLength, "footer file length");
  if (recordedLength !== fileLength)
    fail(`file is ${fileLength} bytes but its footer says ${recordedLength}`);
  for (let position = footer.reservedStart; position < footer.reservedEnd; position++) {
    if (bytes[footerStart + position] !== 0) fail("footer reserved bytes are not zero");
  }

  // Step 3: the header must agree with the footer.
  if (!equalBytes(header.magic, headerMagic)) fail("header magic missing (not a slab)");
  if (checksum(bytes.subarray(0, header.checksum)) !== view.getUint32(header.checksum, true)) {
    fail("header checksum mismatch");
  }
  if (view.getUint16(header.versionMajor, true) !== versionMajor) fail("header and footer versions differ");
  if (view.getUint16(header.versionMinor, true) !== view.getUint16(footerStart + footer.versionMinor, true)) {
    fail("header and footer minor versions differ");
  }
  if (view.getUint32(header.flags, true) !== fileFlags) fail("header and footer flags differ");
  if (u64(header.fileLength, "header file length") !== fileLength)
    fail("header file length differs from the file");
  if (view.getUint32(header.alignment, true) !== sectionAlignmentBytes) fail("header alignment is not 64");
  if (view.getUint32(header.headerLength, true) !== headerBytes) fail("header length is not 64");
  for (let position = header.reservedStart; position < header.reservedEnd; position++) {
    if (bytes[position] !== 0) fail("header reserved bytes are not zero");
  }

  // Step 4: the section table.
  const tableOffset = u64(footerStart + footer.tableOffset, "table offset");
  const tableLength = u64(footerStart + footer.tableLength, "table length");
  const sectionCount = view.getUint32(footerStart + footer.sectionCount, true);
  if (tableOffset % sectionAlignmentBytes !== 0) fail(`table offset ${tableOffset} is not 64-byte aligned`);
  if (tableLength !== sectionCount * sectionEntryBytes) {
    fail(`table length ${tableLength} does not hold ${sectionCount} entries`);
  }
  // The table ends exactly where the footer starts.
  if (tableOffset < headerBytes || tableOffset + tableLength !== footerStart) {
    fail(`table [${tableOffset}, +${tableLength}) does not end at the footer (${footerStart})`);
  }
  if (
    checksum(bytes.subarray(tableOffset, footerStart)) !==
    view.getUint32(footerStart + footer.tableChecksum, true)
  ) {
    fail("section table checksum mismatch");
  }
  const sections = new Map<number, SectionLocation>();
  let previousEnd = headerBytes;
  for (let index = 0; index < sectionCount; index++) {
    const entryStart = tableOffset + index * sectionEntryBytes;
    const kind = view.getUint32(entryStart + entry.kind, true);
    const flags = view.getUint16(entryStart + entry.flags, true);
    const encoding = view.getUint16(entryStart + entry.encoding, true);
    const offset = u64(entryStart + entry.offset, `section ${index} offset`);
    const length = u64(entryStart + entry.length, `section ${index} length`);
    const label = `section ${index} (${sectionKindNames[kind] ?? `kind ${kind}`})`;
    if (view.getUint32(entryStart + entry.reserved, true) !== 0) fail(`${label}: reserved field is not zero`);
    if ((flags & ~sectionFlagsKnown) !== 0) fail(`${label}: unknown flags 0x${flags.toString(16)}`);
    if (sections.has(kind)) fail(`${label}: kind appears twice`);
    if (offset % sectionAlignmentBytes !== 0) fail(`${label}: offset ${offset} is not 64-byte aligned`);
    if (offset < previousEnd)
      fail(`${label}: starts at ${offset}, before the previous part ends (${previousEnd})`);
    if (offset + length > tableOffset) fail(`${label}: [${offset}, +${length}) runs into the section table`);
    // Step 5: the gap before this section is padding and must be zero.
    checkZero(bytes, previousEnd, offset, name);
    previousEnd = offset + length;
    // Step 6: every section's checksum, known or not.
    if (
      checksum(bytes.subarray(offset, offset + length)) !== view.getUint32(entryStart + entry.checksum, true)
    ) {
      fail(`${label}: checksum mismatch`);
    }
    if (!knownSectionKinds.has(kind)) {
      // Optional and unknown: kept in the table (bookkeeping lists it), never read.
      if ((flags & sectionFlagRequired) !== 0) {
        fail(
          `${label}: required section kind ${kind} is unknown to this reader (written by a newer Needle?)`,
        );
      }
    } else if (encoding !== sectionEncodingPlain) {
      fail(`${label}: unknown encoding ${encoding}`);
    }
    sections.set(kind, { kind, flags, offset, length });
  }
  checkZero(bytes, previousEnd, tableOffset, name);

  // Step 7: bookkeeping.
  const bookkeepingLocation = sections.get(SectionKind.bookkeeping) ?? fail("BOOKKEEPING section missing");
  const bookkeeping = decodeBookkeeping(bytes, bookkeepingLocation, fail);
  const tableKinds = [...sections.keys()].sort((a, b) => a - b);
  const listedKinds = [...bookkeeping.sections].sort((a, b) => a - b);
  if (tableKinds.join(",") !== listedKinds.join(",")) {
    fail(`bookkeeping lists sections [${listedKinds}] but the table holds [${tableKinds}]`);
  }

  // Step 8: every known section against rowCount and dim.
  const { rowCount, dim } = bookkeeping;
  const section = (kind: number): Uint8Array | undefined => {
    const location = sections.get(kind);
    return location === undefined
      ? undefined
      : bytes.subarray(location.offset, location.offset + location.length);
  };
  const requireSection = (kind: number): Uint8Array =>
    section(kind) ?? fail(`${sectionKindNames[kind]} section missing`);
  const expectLength = (kind: number, actual: Uint8Array, expected: number): void => {
    if (actual.length !== expected) {
      fail(`${sectionKindNames[kind]} is ${actual.length} bytes; ${rowCount} rows need ${expected}`);
    }
  };

  const ids = readOffsetsAndBytes(requireSection(SectionKind.ids), rowCount, "IDS", fail);
  checkIds(ids.offsets, ids.payload, rowCount, fail);
  const lookupBytes = requireSection(SectionKind.idLookup);
  expectLength(SectionKind.idLookup, lookupBytes, 4 * rowCount);
  const idLookup = u32View(lookupBytes, 0, rowCount);
  checkIdLookup(idLookup, ids.offsets, ids.payload, fail);

  const denseKinds = [
    SectionKind.vectorsF32,
    SectionKind.inverseNorms,
    SectionKind.int8Codes,
    SectionKind.int8Scales,
  ];
  let vectors: Float32Array = new Float32Array(0);
  let inverseNorms: Float32Array = new Float32Array(0);
  let int8Codes: Int8Array = new Int8Array(0);
  let int8Scales: Float32Array = new Float32Array(0);
  if (dim > 0) {
    const vectorBytes = requireSection(SectionKind.vectorsF32);
    expectLength(SectionKind.vectorsF32, vectorBytes, 4 * rowCount * dim);
    vectors = f32View(vectorBytes, 0, rowCount * dim);
    const normBytes = requireSection(SectionKind.inverseNorms);
    expectLength(SectionKind.inverseNorms, normBytes, 4 * rowCount);
    inverseNorms = f32View(normBytes, 0, rowCount);
    const codeBytes = requireSection(SectionKind.int8Codes);
    expectLength(SectionKind.int8Codes, codeBytes, rowCount * dim);
    int8Codes = new Int8Array(codeBytes.buffer, codeBytes.byteOffset, rowCount * dim);
    const scaleBytes = requireSection(SectionKind.int8Scales);
    expectLength(SectionKind.int8Scales, scaleBytes, 4 * rowCount);
    int8Scales = f32View(scaleBytes, 0, rowCount);
  } else {
    for (const kind of denseKinds) {
      if (sections.has(kind)) fail(`${sectionKindNames[kind]} present in a slab with dim 0`);
    }
  }

  const open: OpenSlab = {
    idOffsets: ids.offsets,
    idBytes: ids.payload,
    idLookup,
    vectors,
    inverseNorms,
    int8Codes,
    int8Scales,
  };

  const sparseBytes = section(SectionKind.sparse);
  if (sparseBytes !== undefined) {
    const offsetsBytes = 4 * (rowCount + 1);
    if (sparseBytes.length < offsetsBytes || (sparseBytes.length - offsetsBytes) % 8 !== 0) {
      fail(`SPARSE is ${sparseBytes.length} bytes, not row offsets plus whole (index, value) pairs`);
    }
    const entries = (sparseBytes.length - offsetsBytes) / 8;
    open.sparseOffsets = u32View(sparseBytes, 0, rowCount + 1);
    open.sparseIndices = u32View(sparseBytes, offsetsBytes, entries);
    open.sparseValues = f32View(sparseBytes, offsetsBytes + 4 * entries, entries);
    checkSparse(open.sparseOffsets, open.sparseIndices, entries, fail);
  }

  const metadataBytes = section(SectionKind.metadata);
  if (metadataBytes !== undefined) {
    const metadata = readOffsetsAndBytes(metadataBytes, rowCount, "METADATA", fail);
    open.metadataOffsets = metadata.offsets;
    open.metadataBytes = metadata.payload;
  }
  open.metadataIndexBytes = section(SectionKind.metadataIndex);
  const vectorIndexBytes = section(SectionKind.vectorIndex);
  // An index type this reader does not know is skipped (exact search), as SPEC.md promises,
  // unless the writer marked the section required.
  if (vectorIndexBytes !== undefined && bookkeeping.vectorIndex === "ivf") {
    open.vectorIndex = readVectorIndex(vectorIndexBytes, rowCount, dim, bookkeeping.metric, fail);
  } else if (vectorIndexBytes !== undefined) {
    const required = (sections.get(SectionKind.vectorIndex)!.flags & sectionFlagRequired) !== 0;
    if (required)
      fail(`VECTOR_INDEX of type "${bookkeeping.vectorIndex}" is required but unknown to this reader`);
  }

  const info: SlabInfo = {
    slabId: bookkeeping.slabId,
    namespace: bookkeeping.namespace,
    level: bookkeeping.level,
    dim,
    metric: bookkeeping.metric,
    rowCount,
    minLsn: bookkeeping.minLsn,
    maxLsn: bookkeeping.maxLsn,
    sourceSlabs: bookkeeping.sourceSlabs,
    createdAt: bookkeeping.createdAt,
    byteLength: fileLength,
    vectorIndex: bookkeeping.vectorIndex,
  };
  return { info, open };
}

function checkZero(bytes: Uint8Array, start: number, end: number, name: string): void {
  for (let position = start; position < end; position++) {
    if (bytes[position] !== 0) throw corruption(name, `padding byte at ${position} is not zero`);
  }
}

function decodeBookkeeping(
  bytes: Uint8Array,
  location: SectionLocation,
  fail: (message: string) => never,
): Bookkeeping {
  if (location.length > bookkeepingBytesMax) fail(`BOOKKEEPING is ${location.length} bytes, over its limit`);
  let decoded: unknown;
  try {
    decoded = packr.unpack(bytes.subarray(location.offset, location.offset + location.length));
  } catch (error) {
    fail(`BOOKKEEPING is not valid msgpack: ${(error as Error).message}`);
  }
  if (!isPlainObject(decoded)) return fail("BOOKKEEPING is not a map");
  for (const field of bookkeepingFields) {
    if (!(field in decoded)) fail(`BOOKKEEPING lacks ${field}`);
  }
  const value = decoded as unknown as Bookkeeping;
  const isSmallInteger = (candidate: unknown, max: number): boolean =>
    typeof candidate === "number" && Number.isInteger(candidate) && candidate >= 0 && candidate <= max;
  const isString = (candidate: unknown): candidate is string => typeof candidate === "string";
  if (value.formatVersion !== formatVersionMajor) fail(`BOOKKEEPING formatVersion ${value.formatVersion}`);
  if (!isString(value.slabId) || value.slabId.length === 0)
    fail("BOOKKEEPING slabId is not a non-empty string");
  if (!isString(value.namespace)) fail("BOOKKEEPING namespace is not a string");
  if (!isSmallInteger(value.level, levelMax)) fail(`BOOKKEEPING level ${String(value.level)} out of range`);
  if (!isSmallInteger(value.dim, dimMax)) fail(`BOOKKEEPING dim ${String(value.dim)} out of range`);
  if (!isMetric(value.metric)) fail(`BOOKKEEPING metric ${String(value.metric)} unknown`);
  if (!isSmallInteger(value.rowCount, slabRowsMax) || value.rowCount === 0) {
    fail(`BOOKKEEPING rowCount ${String(value.rowCount)} out of range 1..${slabRowsMax}`);
  }
  if (typeof value.minLsn !== "bigint" || typeof value.maxLsn !== "bigint")
    fail("BOOKKEEPING LSNs are not 64-bit");
  if (value.minLsn < 0n || value.minLsn > value.maxLsn)
    fail("BOOKKEEPING minLsn is above maxLsn or negative");
  if (!Array.isArray(value.sourceSlabs) || value.sourceSlabs.length > sourceSlabsMax) {
    fail("BOOKKEEPING sourceSlabs is not a bounded list");
  }
  if (!value.sourceSlabs.every(isString)) fail("BOOKKEEPING sourceSlabs holds a non-string");
  if (!isSmallInteger(value.createdAt, Number.MAX_SAFE_INTEGER))
    fail("BOOKKEEPING createdAt is not a timestamp");
  if (!Array.isArray(value.sections) || !value.sections.every((kind) => isSmallInteger(kind, 0xffff_ffff))) {
    fail("BOOKKEEPING sections is not a list of kind numbers");
  }
  if (new Set(value.sections).size !== value.sections.length) fail("BOOKKEEPING sections repeats a kind");
  if (!isString(value.vectorIndex) || value.vectorIndex.length === 0) {
    fail("BOOKKEEPING vectorIndex is not a non-empty string");
  }
  // "none" exactly when there is no VECTOR_INDEX section. A v1 reader skips an optional
  // one it cannot read and serves exact search; info.vectorIndex still reports its type.
  const hasVectorIndex = value.sections.includes(SectionKind.vectorIndex);
  if ((value.vectorIndex === "none") === hasVectorIndex) {
    fail(`BOOKKEEPING vectorIndex "${value.vectorIndex}" disagrees with the sections present`);
  }
  return value;
}

/** u32 offsets (rows+1) then a payload; offsets start at 0, never decrease, and end at the payload length. */
function readOffsetsAndBytes(
  sectionBytes: Uint8Array,
  rowCount: number,
  label: string,
  fail: (message: string) => never,
): { offsets: Uint32Array; payload: Uint8Array } {
  const offsetsBytes = 4 * (rowCount + 1);
  if (sectionBytes.length < offsetsBytes) fail(`${label} is too short for ${rowCount} row offsets`);
  const offsets = u32View(sectionBytes, 0, rowCount + 1);
  const payload = sectionBytes.subarray(offsetsBytes);
  if (offsets[0] !== 0) fail(`${label} offsets do not start at 0`);
  for (let row = 0; row < rowCount; row++) {
    if (offsets[row + 1]! < offsets[row]!) fail(`${label} offsets decrease at row ${row}`);
  }
  if (offsets[rowCount] !== payload.length) {
    fail(`${label} offsets end at ${offsets[rowCount]} but the payload is ${payload.length} bytes`);
  }
  return { offsets, payload };
}

function checkIds(
  offsets: Uint32Array,
  payload: Uint8Array,
  rowCount: number,
  fail: (message: string) => never,
) {
  for (let row = 0; row < rowCount; row++) {
    const length = offsets[row + 1]! - offsets[row]!;
    if (length === 0 || length > idBytesMax)
      fail(`IDS row ${row} is ${length} bytes, outside 1..${idBytesMax}`);
    // An id starting on a UTF-8 continuation byte would split a character with its neighbour.
    if ((payload[offsets[row]!]! & 0xc0) === 0x80) fail(`IDS row ${row} starts inside a UTF-8 character`);
  }
  // With every id starting on a character boundary, one pass over the whole payload proves
  // that each id is valid UTF-8 on its own.
  try {
    idDecoder.decode(payload);
  } catch {
    fail("IDS holds invalid UTF-8");
  }
}

function checkIdLookup(
  lookup: Uint32Array,
  offsets: Uint32Array,
  payload: Uint8Array,
  fail: (message: string) => never,
): void {
  const rowCount = lookup.length;
  const seen = new Uint8Array(rowCount);
  for (let position = 0; position < rowCount; position++) {
    const row = lookup[position]!;
    if (row >= rowCount) fail(`ID_LOOKUP position ${position} names row ${row} of ${rowCount}`);
    if (seen[row] === 1) fail(`ID_LOOKUP names row ${row} twice`);
    seen[row] = 1;
    if (position > 0) {
      const previous = lookup[position - 1]!;
      const order = compareByteRanges(
        payload,
        offsets[previous]!,
        offsets[previous + 1]!,
        payload,
        offsets[row]!,
        offsets[row + 1]!,
      );
      if (order >= 0)
        fail(`ID_LOOKUP is not strictly ascending at position ${position} (duplicate or unsorted id)`);
    }
  }
}

function checkSparse(
  offsets: Uint32Array,
  indices: Uint32Array,
  entries: number,
  fail: (message: string) => never,
) {
  const rowCount = offsets.length - 1;
  if (offsets[0] !== 0) fail("SPARSE offsets do not start at 0");
  for (let row = 0; row < rowCount; row++) {
    const start = offsets[row]!;
    const end = offsets[row + 1]!;
    if (end < start) fail(`SPARSE offsets decrease at row ${row}`);
    if (end > entries) fail(`SPARSE row ${row} ends past the ${entries} entries`);
    for (let position = start + 1; position < end; position++) {
      if (indices[position]! <= indices[position - 1]!)
        fail(`SPARSE row ${row} indices are not strictly ascending`);
    }
  }
  if (offsets[rowCount] !== entries) fail(`SPARSE offsets end at ${offsets[rowCount]}, not ${entries}`);
}
