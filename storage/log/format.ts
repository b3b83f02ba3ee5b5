/**
 * Request log on-disk format, version 1. All integers are little endian. (Also in FORMAT.md;
 * change both together and bump `logFormatVersion`.)
 *
 * A log is a directory of segment files named `<first LSN, 20 decimal digits>.wal`, so names
 * sort in LSN order (20 digits hold any u64).
 *
 * Segment header (32 bytes, at offset 0):
 *
 *   | offset | size | field          | value                                          |
 *   |--------|------|----------------|------------------------------------------------|
 *   | 0      | 8    | magic          | ASCII "NDLWAL\r\n" (CR LF catches text-mode mangling) |
 *   | 8      | 4    | format version | u32, 1                                         |
 *   | 12     | 4    | header bytes   | u32, 32                                        |
 *   | 16     | 8    | first LSN      | u64, equals the number in the file name        |
 *   | 24     | 4    | header crc32   | u32, CRC-32 of bytes 0..24                     |
 *   | 28     | 4    | reserved       | u32, 0                                         |
 *
 * Records follow from offset 32, back to back, each starting at a multiple of 8:
 *
 *   | offset | size | field          | value                                          |
 *   |--------|------|----------------|------------------------------------------------|
 *   | 0      | 4    | payload length | u32, n, 1 <= n <= payloadBytesMax              |
 *   | 4      | 8    | LSN            | u64, previous record's LSN + 1                 |
 *   | 12     | 4    | crc32          | u32, CRC-32 of bytes 0..12 then the n payload bytes |
 *   | 16     | n    | payload        | opaque bytes (the engine's msgpack LogRecord)  |
 *   | 16 + n | pad  | padding        | zeros up to the next multiple of 8 (not checked) |
 *
 * The checksum covers the length and the LSN as well as the payload, so a flipped bit in
 * either is caught rather than misframing the rest of the segment. Checksums are NOT chained
 * (each covers one record only): see DESIGN.md "Request log", decision 3.
 */
import { assert } from "../errors.ts";

export const logFormatVersion = 1;
export const segmentMagic = new Uint8Array([0x4e, 0x44, 0x4c, 0x57, 0x41, 0x4c, 0x0d, 0x0a]); // "NDLWAL\r\n"
export const segmentHeaderBytes = 32;
export const recordHeaderBytes = 16;
export const recordAlignmentBytes = 8;
/** Largest payload one record may carry (the length field could hold 4 GiB; we refuse far less). */
export const payloadBytesMax = 32 * 1024 * 1024;
const segmentNameDigits = 20;
const segmentNamePattern = /^(\d{20})\.wal$/;

export function segmentFileName(firstLsn: bigint): string {
  assert(firstLsn >= 1n, "segment first LSN is at least 1");
  return `${firstLsn.toString().padStart(segmentNameDigits, "0")}.wal`;
}

/** The first LSN a segment file name carries, or undefined for any other file. */
export function parseSegmentFileName(name: string): bigint | undefined {
  const match = segmentNamePattern.exec(name);
  return match === null ? undefined : BigInt(match[1]!);
}

export function paddedRecordBytes(payloadBytes: number): number {
  const unpadded = recordHeaderBytes + payloadBytes;
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

/** The first LSN recorded in a segment header, or a reason the header is not valid. */
export function decodeSegmentHeader(bytes: Uint8Array): { firstLsn: bigint } | { invalid: string } {
  if (bytes.byteLength < segmentHeaderBytes) return { invalid: `header is ${bytes.byteLength} bytes, short` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, segmentHeaderBytes);
  for (let i = 0; i < segmentMagic.length; i++) {
    if (bytes[i] !== segmentMagic[i]) return { invalid: "bad magic" };
  }
  if (view.getUint32(24, true) !== Bun.hash.crc32(bytes.subarray(0, 24))) {
    return { invalid: "header checksum mismatch" };
  }
  const version = view.getUint32(8, true);
  if (version !== logFormatVersion) return { invalid: `unsupported format version ${version}` };
  if (view.getUint32(12, true) !== segmentHeaderBytes) return { invalid: "unexpected header size" };
  return { firstLsn: view.getBigUint64(16, true) };
}

/** Writes one record (header, payload, zero padding) at `offset`; returns the offset after it. */
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
  view.setBigUint64(4, lsn, true);
  const headerCrc = Bun.hash.crc32(target.subarray(offset, offset + 12));
  view.setUint32(12, Bun.hash.crc32(payload, headerCrc), true);
  target.set(payload, offset + recordHeaderBytes);
  target.fill(0, offset + recordHeaderBytes + payload.byteLength, end);
  return end;
}

export type DecodedRecord =
  | { valid: true; lsn: bigint; payload: Uint8Array; end: number }
  | { valid: false; reason: string };

/** Decodes the record at `offset` of `bytes` and checks its frame and checksum (not its LSN order). */
export function decodeRecordAt(bytes: Uint8Array, offset: number): DecodedRecord {
  if (offset + recordHeaderBytes > bytes.byteLength) return { valid: false, reason: "short record header" };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, recordHeaderBytes);
  const payloadBytes = view.getUint32(0, true);
  if (payloadBytes === 0 || payloadBytes > payloadBytesMax) {
    return { valid: false, reason: `payload length ${payloadBytes} out of range` };
  }
  const payloadStart = offset + recordHeaderBytes;
  const end = offset + paddedRecordBytes(payloadBytes);
  // A record cut anywhere, even in its padding, is torn: a complete write always includes the padding.
  if (end > bytes.byteLength) return { valid: false, reason: "short record" };
  const payload = bytes.subarray(payloadStart, payloadStart + payloadBytes);
  const headerCrc = Bun.hash.crc32(bytes.subarray(offset, offset + 12));
  if (view.getUint32(12, true) !== Bun.hash.crc32(payload, headerCrc)) {
    return { valid: false, reason: "checksum mismatch" };
  }
  return { valid: true, lsn: view.getBigUint64(4, true), payload, end };
}
