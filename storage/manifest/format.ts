/**
 * Manifest file format, version 1. Integers little endian.
 *
 * File name: `<name>.<manifest version, 20 decimal digits>` (names sort by version).
 *
 *   | offset | size | field            | value                                        |
 *   |--------|------|------------------|----------------------------------------------|
 *   | 0      | 8    | magic            | ASCII "NDLMANI\n"                            |
 *   | 8      | 4    | format version   | u32, 1                                       |
 *   | 12     | 4    | body length      | u32, n, at most manifestBodyBytesMax         |
 *   | 16     | 8    | manifest version | u64, equals the version in the file name     |
 *   | 24     | 4    | crc32            | u32, CRC-32 of bytes 0..24 then the body     |
 *   | 28     | 4    | reserved         | u32, 0                                       |
 *   | 32     | n    | body             | msgpack (msgpackr, useRecords false, moreTypes true) |
 *
 * The file is exactly 32 + n bytes; anything else is corruption.
 */
import { Packr } from "msgpackr";
import { assert, corruption, invalidArgument } from "../errors.ts";

export const manifestFormatVersion = 1;
export const manifestHeaderBytes = 32;
export const manifestBodyBytesMax = 64 * 1024 * 1024;
const manifestMagic = new Uint8Array([0x4e, 0x44, 0x4c, 0x4d, 0x41, 0x4e, 0x49, 0x0a]); // "NDLMANI\n"
const versionDigits = 20;

/**
 * One msgpack configuration for manifest bodies: plain maps (no record extension, so any
 * msgpack reader can decode them), bigint as 64-bit integers, and typed arrays
 * (Float32Array, Uint32Array, ...) kept as their own types (`moreTypes`). Note: `pack` returns
 * a view of a buffer the next `pack` call may reuse; copy it before packing again.
 */
export const manifestPackr = new Packr({ useRecords: false, moreTypes: true });

export function manifestFileName(name: string, version: number): string {
  assert(Number.isSafeInteger(version) && version >= 1, "manifest version is a positive safe integer");
  return `${name}.${String(version).padStart(versionDigits, "0")}`;
}

/** The version a committed manifest file name carries, or undefined if the name is not one of `name`'s. */
export function parseManifestFileName(name: string, fileName: string): number | undefined {
  const prefix = `${name}.`;
  if (!fileName.startsWith(prefix)) return undefined;
  const digits = fileName.slice(prefix.length);
  if (digits.length !== versionDigits || !/^\d+$/.test(digits)) return undefined;
  const version = Number(digits);
  return Number.isSafeInteger(version) && version >= 1 ? version : undefined;
}

export function encodeManifestFile(
  version: number,
  body: unknown,
  bodyBytesMax = manifestBodyBytesMax,
): Uint8Array {
  const encoded = manifestPackr.pack(body);
  if (encoded.byteLength > bodyBytesMax) {
    throw invalidArgument(
      "body",
      "manifest body too large",
      `${bodyBytesMax} bytes`,
      `${encoded.byteLength} bytes`,
    );
  }
  const bytes = new Uint8Array(manifestHeaderBytes + encoded.byteLength);
  const view = new DataView(bytes.buffer);
  bytes.set(manifestMagic, 0);
  view.setUint32(8, manifestFormatVersion, true);
  view.setUint32(12, encoded.byteLength, true);
  view.setBigUint64(16, BigInt(version), true);
  bytes.set(encoded, manifestHeaderBytes);
  const headerCrc = Bun.hash.crc32(bytes.subarray(0, 24));
  view.setUint32(24, Bun.hash.crc32(bytes.subarray(manifestHeaderBytes), headerCrc), true);
  return bytes;
}

/** Checks every field and the checksum, then decodes the body. CORRUPTION naming `path` otherwise. */
export function decodeManifestFile(path: string, expectedVersion: number, bytes: Uint8Array): unknown {
  if (bytes.byteLength < manifestHeaderBytes) {
    throw corruption(path, `manifest is ${bytes.byteLength} bytes, shorter than its header`);
  }
  for (let i = 0; i < manifestMagic.length; i++) {
    if (bytes[i] !== manifestMagic[i]) throw corruption(path, "bad manifest magic");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, manifestHeaderBytes);
  const formatVersion = view.getUint32(8, true);
  if (formatVersion !== manifestFormatVersion) {
    throw corruption(path, `unsupported manifest format version ${formatVersion}`);
  }
  const bodyBytes = view.getUint32(12, true);
  if (manifestHeaderBytes + bodyBytes !== bytes.byteLength) {
    throw corruption(path, `body length ${bodyBytes} does not match file size ${bytes.byteLength}`);
  }
  const headerCrc = Bun.hash.crc32(bytes.subarray(0, 24));
  if (view.getUint32(24, true) !== Bun.hash.crc32(bytes.subarray(manifestHeaderBytes), headerCrc)) {
    throw corruption(path, "manifest checksum mismatch");
  }
  const version = view.getBigUint64(16, true);
  if (version !== BigInt(expectedVersion)) {
    throw corruption(path, `header says version ${version}, file name says ${expectedVersion}`);
  }
  try {
    return manifestPackr.unpack(bytes.subarray(manifestHeaderBytes));
  } catch (error) {
    throw corruption(path, "manifest body is not valid msgpack", error);
  }
}
