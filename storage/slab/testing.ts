/**
 * Test helpers for slabs: a seeded random source, random records, and a second, independent
 * implementation of the file layout from SPEC.md (used to build files the writer never
 * would: unknown sections, other versions, repaired checksums after a mutation).
 */
import type { Metadata, SparseValues, VectorRecord } from "../types.ts";
import { packr } from "./codec.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";
export { seededRandom };

export function randomInt(random: () => number, below: number): number {
  return Math.floor(random() * below);
}

/** Characters from every UTF-8 length class, including ones JS sorts differently from UTF-8. */
const idAlphabet = [
  "a",
  "b",
  "Z",
  "0",
  "-",
  "_",
  "é",
  "ß",
  "中",
  "文",
  "\uFEFF",
  "\uE000",
  "\uFFFD",
  "😀",
  "𝄞",
  "\u0000",
];

export function randomId(random: () => number): string {
  const length = 1 + randomInt(random, 8);
  let id = "";
  for (let i = 0; i < length; i++) id += idAlphabet[randomInt(random, idAlphabet.length)];
  return id;
}

export function randomMetadata(random: () => number): Metadata {
  const metadata: Metadata = {};
  const fields = randomInt(random, 4);
  for (let i = 0; i < fields; i++) {
    const choice = randomInt(random, 5);
    const key = `field${randomInt(random, 6)}`;
    if (choice === 0) metadata[key] = randomId(random);
    else if (choice === 1) metadata[key] = randomInt(random, 1000) - 500;
    else if (choice === 2) metadata[key] = random() * 1e6 - 5e5;
    else if (choice === 3) metadata[key] = random() < 0.5;
    else metadata[key] = [randomId(random), randomId(random)];
  }
  return metadata;
}

export function randomSparse(random: () => number): SparseValues {
  const count = 1 + randomInt(random, 12);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(randomInt(random, 100_000));
  // Left unsorted on purpose: the writer sorts.
  const indices = Uint32Array.from(chosen);
  const values = Float32Array.from(indices, () => random() * 2 - 1);
  return { indices, values };
}

export interface RandomRecordsOptions {
  rows: number;
  dim: number;
  sparse: "none" | "some" | "all";
  metadata: "none" | "some" | "all";
}

/** Records with unique random ids. Dense values when dim > 0; a few all-zero rows. */
export function randomRecords(random: () => number, options: RandomRecordsOptions): VectorRecord[] {
  const ids = new Set<string>();
  while (ids.size < options.rows) ids.add(randomId(random));
  return [...ids].map((id) => {
    const record: VectorRecord = { id };
    if (options.dim > 0) {
      record.values =
        random() < 0.05
          ? new Float32Array(options.dim)
          : Float32Array.from({ length: options.dim }, () => random() * 2 - 1);
    }
    if (options.sparse === "all" || (options.sparse === "some" && random() < 0.5)) {
      record.sparseValues = randomSparse(random);
    }
    if (options.metadata === "all" || (options.metadata === "some" && random() < 0.5)) {
      record.metadata = randomMetadata(random);
    }
    return record;
  });
}

// ---------------------------------------------------------------------------------------
// An independent reading and re-laying of the format (SPEC.md), for building odd files.

export interface RawSection {
  kind: number;
  flags: number;
  encoding: number;
  bytes: Uint8Array;
}

export interface RawSlab {
  versionMajor: number;
  versionMinor: number;
  sections: RawSection[];
}

/** Splits a valid slab into its sections without checking anything. */
export function parseRaw(file: Uint8Array): RawSlab {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const footerStart = file.length - 64;
  const tableOffset = Number(view.getBigUint64(footerStart, true));
  const count = view.getUint32(footerStart + 16, true);
  const sections: RawSection[] = [];
  for (let index = 0; index < count; index++) {
    const entryStart = tableOffset + 32 * index;
    const offset = Number(view.getBigUint64(entryStart + 8, true));
    const length = Number(view.getBigUint64(entryStart + 16, true));
    sections.push({
      kind: view.getUint32(entryStart, true),
      flags: view.getUint16(entryStart + 4, true),
      encoding: view.getUint16(entryStart + 6, true),
      bytes: file.slice(offset, offset + length),
    });
  }
  return { versionMajor: view.getUint16(8, true), versionMinor: view.getUint16(10, true), sections };
}

/** Lays sections out as SPEC.md says, with fresh checksums everywhere. */
export function layoutRaw(slab: RawSlab): Uint8Array {
  const align = (value: number) => Math.ceil(value / 64) * 64;
  const offsets: number[] = [];
  let cursor = 64;
  for (const section of slab.sections) {
    cursor = align(cursor);
    offsets.push(cursor);
    cursor += section.bytes.length;
  }
  const tableOffset = align(cursor);
  const tableLength = 32 * slab.sections.length;
  const fileLength = tableOffset + tableLength + 64;
  const file = new Uint8Array(fileLength);
  const view = new DataView(file.buffer);
  const crc = (start: number, end: number) => Bun.hash.crc32(file.subarray(start, end)) >>> 0;
  slab.sections.forEach((section, index) => {
    const offset = offsets[index]!;
    file.set(section.bytes, offset);
    const entryStart = tableOffset + 32 * index;
    view.setUint32(entryStart, section.kind, true);
    view.setUint16(entryStart + 4, section.flags, true);
    view.setUint16(entryStart + 6, section.encoding, true);
    view.setBigUint64(entryStart + 8, BigInt(offset), true);
    view.setBigUint64(entryStart + 16, BigInt(section.bytes.length), true);
    view.setUint32(entryStart + 24, crc(offset, offset + section.bytes.length), true);
  });
  file.set(new TextEncoder().encode("NDLSLAB\0"), 0);
  view.setUint16(8, slab.versionMajor, true);
  view.setUint16(10, slab.versionMinor, true);
  view.setBigUint64(16, BigInt(fileLength), true);
  view.setUint32(24, 64, true);
  view.setUint32(28, 64, true);
  view.setUint32(60, crc(0, 60), true);
  const footerStart = fileLength - 64;
  view.setBigUint64(footerStart, BigInt(tableOffset), true);
  view.setBigUint64(footerStart + 8, BigInt(tableLength), true);
  view.setUint32(footerStart + 16, slab.sections.length, true);
  view.setUint32(footerStart + 20, crc(tableOffset, tableOffset + tableLength), true);
  view.setBigUint64(footerStart + 24, BigInt(fileLength), true);
  view.setUint16(footerStart + 32, slab.versionMajor, true);
  view.setUint16(footerStart + 34, slab.versionMinor, true);
  view.setUint32(footerStart + 52, crc(footerStart, footerStart + 52), true);
  file.set(new TextEncoder().encode("NDLSLABF"), footerStart + 56);
  return file;
}

/** Rewrites the BOOKKEEPING section's `sections` list to match the raw slab's kinds, plus any overrides. */
export function syncBookkeepingSections(slab: RawSlab, overrides: Record<string, unknown> = {}): void {
  const bookkeeping = slab.sections.find((section) => section.kind === 1)!;
  const decoded = { ...(packr.unpack(bookkeeping.bytes) as Record<string, unknown>), ...overrides };
  decoded.sections = slab.sections.map((section) => section.kind).sort((a, b) => a - b);
  bookkeeping.bytes = packr.pack(decoded);
}
