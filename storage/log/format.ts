/**
 * Request log on-disk format, version 2 (version 1 segments are still read). All integers are
 * little endian. (Also in FORMAT.md; change both together and bump `logFormatVersion`.)
 *
 * A log is a directory of segment files named `<first LSN, 20 decimal digits>.wal`, so names
 * sort in LSN order (20 digits hold any u64), plus the trim marker `trimmed` (below).
 *
 * Segment header (32 bytes, at offset 0):
 *
 *   | offset | size | field          | value                                          |
 *   |--------|------|----------------|------------------------------------------------|
 *   | 0      | 8    | magic          | ASCII "NDLWAL\r\n" (CR LF catches text-mode mangling) |
 *   | 8      | 4    | format version | u32, 2 (1: the old record layout below)        |
 *   | 12     | 4    | header bytes   | u32, 32                                        |
 *   | 16     | 8    | first LSN      | u64, equals the number in the file name        |
 *   | 24     | 4    | header crc32   | u32, CRC-32 of bytes 0..24                     |
 *   | 28     | 4    | reserved       | u32, 0                                         |
 *
 * Version 2 records follow from offset 32, back to back, each starting at a multiple of 8:
 *
 *   | offset | size | field          | value                                          |
 *   |--------|------|----------------|------------------------------------------------|
 *   | 0      | 4    | payload length | u32, n, 1 <= n <= payloadBytesMax              |
 *   | 4      | 4    | payload crc32  | u32, CRC-32 of the n payload bytes             |
 *   | 8      | 8    | LSN            | u64, previous record's LSN + 1                 |
 *   | 16     | 4    | reserved       | u32, 0                                         |
 *   | 20     | 4    | header crc32   | u32, CRC-32 of bytes 0..20                     |
 *   | 24     | n    | payload        | opaque bytes (the engine's log body)           |
 *   | 24 + n | pad  | padding        | zeros up to the next multiple of 8 (not checked) |
 *
 * Why a header checksum of its own (version 1 had one checksum over header and payload): a
 * record whose header checks out has a known extent even when its payload does not. Recovery
 * can then tell a torn tail (a trusted header whose extent runs past the end of the file) from
 * damage followed by more records, without ever reading a payload's bytes as records: a large
 * payload may hold bytes that look like valid records (DESIGN.md, request log decision 5).
 *
 * Version 1 records (read only): `{length u32, LSN u64, crc32 u32}` (16 bytes), the CRC over
 * bytes 0..12 continued over the payload; nothing in them can be trusted before the payload
 * checks out.
 *
 * Trim marker `trimmed` (24 bytes), written durably before any segment is deleted by a trim:
 *
 *   | offset | size | field          | value                                          |
 *   |--------|------|----------------|------------------------------------------------|
 *   | 0      | 8    | magic          | ASCII "NDLTRIM\n"                              |
 *   | 8      | 8    | trimmed LSN    | u64, every record at or below it may be gone   |
 *   | 16     | 4    | crc32          | u32, CRC-32 of bytes 0..16                     |
 *   | 20     | 4    | reserved       | u32, 0                                         |
 */
import { assert } from "../errors.ts";

export const logFormatVersion = 2;
export type SegmentVersion = 1 | 2;
export const segmentMagic = new Uint8Array([0x4e, 0x44, 0x4c, 0x57, 0x41, 0x4c, 0x0d, 0x0a]); // "NDLWAL\r\n"
export const segmentHeaderBytes = 32;
export const recordHeaderBytes = 24;
const recordHeaderBytesV1 = 16;
export const recordAlignmentBytes = 8;
/** Largest payload one record may carry (the length field could hold 4 GiB; we refuse far less). */
export const payloadBytesMax = 32 * 1024 * 1024;
const segmentNameDigits = 20;
const segmentNamePattern = /^(\d{20})\.wal$/;
export const trimMarkerName = "trimmed";
const trimMagic = new Uint8Array([0x4e, 0x44, 0x4c, 0x54, 0x52, 0x49, 0x4d, 0x0a]); // "NDLTRIM\n"
export const trimMarkerBytes = 24;

export function segmentFileName(firstLsn: bigint): string {
  assert(firstLsn >= 1n, "segment first LSN is at least 1");
  return `${firstLsn.toString().padStart(segmentNameDigits, "0")}.wal`;
}

/** The first LSN a segment file name carries, or undefined for any other file. */
export function parseSegmentFileName(name: string): bigint | undefined {
  const match = segmentNamePattern.exec(name);
  return match === null ? undefined : BigInt(match[1]!);
}

export function paddedRecordBytes(payloadBytes: number, version: SegmentVersion = 2): number {
  const unpadded = (version === 1 ? recordHeaderBytesV1 : recordHeaderBytes) + payloadBytes;
  return Math.ceil(unpadded / recordAlignmentBytes) * recordAlignmentBytes;
}

export function encodeSegmentHeader(firstLsn: bigint): Uint8Array {
  const bytes = new Uint8Array(segmentHeaderBytes);
  const view = new DataView(bytes.buffer);
  bytes.set(segmentMagic, 0);
  view.setUint32(8, logFormatVersion, true);
  view.setUint32(12, segmentHeaderBytes, true);
  view.setBigUint64(16, firstLsn, true);
  view.setUint32(24, Bun.hash.crc32(bytes.subarray(0, 24)), true);
  return bytes;
}

/** The first LSN and record version of a segment header, or a reason it is not valid. */
export function decodeSegmentHeader(
  bytes: Uint8Array,
): { firstLsn: bigint; version: SegmentVersion } | { invalid: string } {
  if (bytes.byteLength < segmentHeaderBytes) return { invalid: `header is ${bytes.byteLength} bytes, short` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, segmentHeaderBytes);
  for (let i = 0; i < segmentMagic.length; i++) {
    if (bytes[i] !== segmentMagic[i]) return { invalid: "bad magic" };
  }
  if (view.getUint32(24, true) !== Bun.hash.crc32(bytes.subarray(0, 24))) {
    return { invalid: "header checksum mismatch" };
  }
  const version = view.getUint32(8, true);
  if (version !== 1 && version !== 2) return { invalid: `unsupported format version ${version}` };
  if (view.getUint32(12, true) !== segmentHeaderBytes) return { invalid: "unexpected header size" };
  if (view.getUint32(28, true) !== 0) return { invalid: "reserved field is not zero" };
  return { firstLsn: view.getBigUint64(16, true), version };
}

/** Writes one version 2 record (header, payload, zero padding) at `offset`; returns the offset after it. */
export function encodeRecordInto(
  target: Uint8Array,
  offset: number,
  lsn: bigint,
  payload: Uint8Array,
): number {
  assert(offset % recordAlignmentBytes === 0, "records start 8-aligned");
  assert(payload.byteLength >= 1, "payload is not empty");
  assert(payload.byteLength <= payloadBytesMax, "payload within payloadBytesMax");
  const end = offset + paddedRecordBytes(payload.byteLength);
  assert(end <= target.byteLength, "record fits the buffer");
  const view = new DataView(target.buffer, target.byteOffset + offset, recordHeaderBytes);
  view.setUint32(0, payload.byteLength, true);
  view.setUint32(4, Bun.hash.crc32(payload), true);
  view.setBigUint64(8, lsn, true);
  view.setUint32(16, 0, true);
  view.setUint32(20, Bun.hash.crc32(target.subarray(offset, offset + 20)), true);
  target.set(payload, offset + recordHeaderBytes);
  target.fill(0, offset + recordHeaderBytes + payload.byteLength, end);
  return end;
}

export type DecodedRecord =
  | { valid: true; lsn: bigint; payload: Uint8Array; end: number }
  | {
      valid: false;
      reason: string;
      /** Present when the header checked out (version 2): the record's LSN and where it ends. */
      header?: { lsn: bigint; end: number };
    };

/** Decodes the record at `offset` of a segment and checks its frame and checksums (not its LSN order). */
export function decodeRecordAt(
  bytes: Uint8Array,
  offset: number,
  version: SegmentVersion = 2,
): DecodedRecord {
  return version === 1 ? decodeRecordV1(bytes, offset) : decodeRecordV2(bytes, offset);
}

function decodeRecordV2(bytes: Uint8Array, offset: number): DecodedRecord {
  if (offset + recordHeaderBytes > bytes.byteLength) return { valid: false, reason: "short record header" };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, recordHeaderBytes);
  if (view.getUint32(20, true) !== Bun.hash.crc32(bytes.subarray(offset, offset + 20))) {
    return { valid: false, reason: "record header checksum mismatch" };
  }
  const payloadBytes = view.getUint32(0, true);
  if (payloadBytes === 0 || payloadBytes > payloadBytesMax || view.getUint32(16, true) !== 0) {
    return { valid: false, reason: `record header out of range (payload length ${payloadBytes})` };
  }
  const lsn = view.getBigUint64(8, true);
  const end = offset + paddedRecordBytes(payloadBytes);
  // A record cut anywhere, even in its padding, is torn: a complete write always includes the padding.
  if (end > bytes.byteLength) return { valid: false, reason: "short record", header: { lsn, end } };
  const payloadStart = offset + recordHeaderBytes;
  const payload = bytes.subarray(payloadStart, payloadStart + payloadBytes);
  if (view.getUint32(4, true) !== Bun.hash.crc32(payload)) {
    return { valid: false, reason: "payload checksum mismatch", header: { lsn, end } };
  }
  return { valid: true, lsn, payload, end };
}

function decodeRecordV1(bytes: Uint8Array, offset: number): DecodedRecord {
  if (offset + recordHeaderBytesV1 > bytes.byteLength) return { valid: false, reason: "short record header" };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, recordHeaderBytesV1);
  const payloadBytes = view.getUint32(0, true);
  if (payloadBytes === 0 || payloadBytes > payloadBytesMax) {
    return { valid: false, reason: `payload length ${payloadBytes} out of range` };
  }
  const payloadStart = offset + recordHeaderBytesV1;
  const end = offset + paddedRecordBytes(payloadBytes, 1);
  if (end > bytes.byteLength) return { valid: false, reason: "short record" };
  const payload = bytes.subarray(payloadStart, payloadStart + payloadBytes);
  const headerCrc = Bun.hash.crc32(bytes.subarray(offset, offset + 12));
  if (view.getUint32(12, true) !== Bun.hash.crc32(payload, headerCrc)) {
    return { valid: false, reason: "checksum mismatch" };
  }
  return { valid: true, lsn: view.getBigUint64(4, true), payload, end };
}

/** Writes a version 1 record, only so tests can build logs an older Needle wrote. */
export function encodeRecordV1Into(
  target: Uint8Array,
  offset: number,
  lsn: bigint,
  payload: Uint8Array,
): number {
  const end = offset + paddedRecordBytes(payload.byteLength, 1);
  const view = new DataView(target.buffer, target.byteOffset + offset, recordHeaderBytesV1);
  view.setUint32(0, payload.byteLength, true);
  view.setBigUint64(4, lsn, true);
  const headerCrc = Bun.hash.crc32(target.subarray(offset, offset + 12));
  view.setUint32(12, Bun.hash.crc32(payload, headerCrc), true);
  target.set(payload, offset + recordHeaderBytesV1);
  target.fill(0, offset + recordHeaderBytesV1 + payload.byteLength, end);
  return end;
}

export function encodeTrimMarker(trimmedLsn: bigint): Uint8Array {
  const bytes = new Uint8Array(trimMarkerBytes);
  const view = new DataView(bytes.buffer);
  bytes.set(trimMagic, 0);
  view.setBigUint64(8, trimmedLsn, true);
  view.setUint32(16, Bun.hash.crc32(bytes.subarray(0, 16)), true);
  return bytes;
}

/** The LSN a trim marker records, or a reason it is not valid. */
export function decodeTrimMarker(bytes: Uint8Array): { trimmedLsn: bigint } | { invalid: string } {
  if (bytes.byteLength !== trimMarkerBytes)
    return { invalid: `${bytes.byteLength} bytes, not ${trimMarkerBytes}` };
  for (let i = 0; i < trimMagic.length; i++) if (bytes[i] !== trimMagic[i]) return { invalid: "bad magic" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, trimMarkerBytes);
  if (view.getUint32(16, true) !== Bun.hash.crc32(bytes.subarray(0, 16)))
    return { invalid: "checksum mismatch" };
  return { trimmedLsn: view.getBigUint64(8, true) };
}
