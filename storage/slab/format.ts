/**
 * Slab file format v1: the numbers every reader and writer must agree on. SPEC.md in this
 * folder is the byte-by-byte description; this file is its executable twin. Change one,
 * change the other.
 *
 * All multi-byte integers and floats are little-endian. Typed-array views over file bytes
 * are used directly, so this module refuses to load on a big-endian host.
 */

/** First 8 bytes of every slab: "NDLSLAB" followed by 0x00. */
export const headerMagic = new Uint8Array([0x4e, 0x44, 0x4c, 0x53, 0x4c, 0x41, 0x42, 0x00]);
/** Last 8 bytes of every slab: "NDLSLABF". Distinct from the header so a torn tail is obvious. */
export const footerMagic = new Uint8Array([0x4e, 0x44, 0x4c, 0x53, 0x4c, 0x41, 0x42, 0x46]);

/** Bumped for any change an older reader would misread. A reader refuses any other major. */
export const formatVersionMajor = 1;
/** Bumped for additions an older reader may ignore (new optional section kinds). */
export const formatVersionMinor = 0;
/** The minor version of files holding a VECTOR_INDEX section (format 1.1). */
export const formatVersionMinorVectorIndex = 1;

export const headerBytes = 64;
export const footerBytes = 64;
export const sectionEntryBytes = 32;
/** Every section and the section table start at a multiple of this (SIMD loads, cache lines, float32 views). */
export const sectionAlignmentBytes = 64;

/** Section kinds. Numbers are forever: never reuse one, even after a kind is retired. */
export const SectionKind = {
  bookkeeping: 1,
  ids: 2,
  idLookup: 3,
  vectorsF32: 4,
  inverseNorms: 5,
  int8Codes: 6,
  int8Scales: 7,
  sparse: 8,
  metadata: 9,
  metadataIndex: 10,
  /** The approximate vector index (IVF partitions; format 1.1, vector-index.ts). */
  vectorIndex: 11,
} as const;
export type SectionKindNumber = (typeof SectionKind)[keyof typeof SectionKind];

export const sectionKindNames: Record<number, string> = {
  1: "BOOKKEEPING",
  2: "IDS",
  3: "ID_LOOKUP",
  4: "VECTORS_F32",
  5: "INVERSE_NORMS",
  6: "INT8_CODES",
  7: "INT8_SCALES",
  8: "SPARSE",
  9: "METADATA",
  10: "METADATA_INDEX",
  11: "VECTOR_INDEX",
};

/** Kinds this reader understands and validates (VECTOR_INDEX only with `vectorIndex: "ivf"`). */
export const knownSectionKinds: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

/** Section flag bit 0: a reader that does not know this kind must refuse the file. */
export const sectionFlagRequired = 0x0001;
/** Every flag bit a v1 reader knows. Unknown bits make it refuse the file. */
export const sectionFlagsKnown = sectionFlagRequired;
/** Section encoding 0: the plain layout the kind's table in SPEC.md describes. */
export const sectionEncodingPlain = 0;
/** File flags (header and footer). None are defined in v1; any set bit makes a v1 reader refuse. */
export const fileFlagsKnown = 0;

// Limits. Offsets inside sections are u32, so variable-length payloads stay under 4 GiB.
export const slabRowsMax = 1 << 26;
/**
 * Bun 1.4.5 (JavaScriptCore) cannot create an ArrayBuffer or a memory mapping larger than
 * 4 GiB (measured: 2^32 bytes map, 2^32 + 4096 fail with "Out of memory"), and a slab is
 * mapped whole. Compaction must size its outputs below this: a dense row costs about
 * 5 * dim + 16 bytes plus its id, sparse entries and metadata.
 */
export const slabBytesMax = 2 ** 32;
export const dimMax = 20_000;
/** Pinecone's id limit is 512 characters; 4 bytes per character in UTF-8 at worst. */
export const idBytesMax = 2048;
export const u32Max = 0xffff_ffff;
/** Bookkeeping is small by construction; a bigger one is corrupt. */
export const bookkeepingBytesMax = 1 << 20;
/** Source slab lists are bounded so bookkeeping stays small. */
export const sourceSlabsMax = 4096;
export const slabIdBytesMax = 256;
export const namespaceBytesMax = 1024;
export const levelMax = 64;

// Header field offsets (bytes from file start).
export const header = {
  magic: 0,
  versionMajor: 8,
  versionMinor: 10,
  flags: 12,
  fileLength: 16,
  alignment: 24,
  headerLength: 28,
  reservedStart: 32,
  reservedEnd: 60,
  checksum: 60,
} as const;

// Footer field offsets (bytes from footer start = fileLength - 64).
export const footer = {
  tableOffset: 0,
  tableLength: 8,
  sectionCount: 16,
  tableChecksum: 20,
  fileLength: 24,
  versionMajor: 32,
  versionMinor: 34,
  flags: 36,
  reservedStart: 40,
  reservedEnd: 52,
  checksum: 52,
  magic: 56,
} as const;

// Section table entry field offsets (bytes from entry start).
export const entry = {
  kind: 0,
  flags: 4,
  encoding: 6,
  offset: 8,
  length: 16,
  checksum: 24,
  reserved: 28,
} as const;

export function alignUp(value: number, alignment: number = sectionAlignmentBytes): number {
  return Math.ceil(value / alignment) * alignment;
}

export function checksum(bytes: Uint8Array): number {
  return Bun.hash.crc32(bytes) >>> 0;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("Needle slabs need a little-endian host: typed-array views are laid over file bytes");
}

/** A u32 view of `length` values at `byteStart` within `bytes` (the offset must be 4-aligned). */
export function u32View(bytes: Uint8Array, byteStart: number, length: number): Uint32Array {
  return new Uint32Array(bytes.buffer, bytes.byteOffset + byteStart, length);
}

/** A float32 view of `length` values at `byteStart` within `bytes` (the offset must be 4-aligned). */
export function f32View(bytes: Uint8Array, byteStart: number, length: number): Float32Array {
  return new Float32Array(bytes.buffer, bytes.byteOffset + byteStart, length);
}
