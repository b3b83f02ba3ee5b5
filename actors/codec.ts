/**
 * Log payloads: what the namespace asks the writer to log for one batch.
 *
 * Layout, body format version 2 (little endian):
 *
 *   offset  size  field
 *   0       1     magic 0x4E ("N")
 *   1       1     body format version (2)
 *   2       2     u16 namespace length N (UTF-8 bytes)
 *   4       4     u32 header length H
 *   8       N     the namespace, UTF-8
 *   8+N     H     msgpack header: {write}; for an upsert the records carry no `values` and
 *                 the header adds `valuesDim` (0 when the records have none)
 *   8+N+H   pad   zeros up to a multiple of 4
 *   ...     4*n*d float32 block: the n records' dense values, row after row (upserts only)
 *
 * Version 1 (read only) had no namespace field: the namespace was in the msgpack header.
 * Version 2 puts it in the frame so a scan that only sorts records by namespace (recovery:
 * which namespaces have unflushed writes) reads a few bytes per record instead of decoding
 * every header (100,000 tenants: 0.9 s of a 4 s recovery were such decodes, and the decoded
 * records were then held by the hundred thousand).
 *
 * Why not msgpack all the way: a batch of 1,000 x 768 vectors is 3 MB of floats, and msgpack's
 * typed-array extension copied it through a growing buffer (about 10 ms a batch, most of the
 * encode). A raw block is one copy, and replay reads it back as a view. Typed arrays and
 * bigints elsewhere round-trip through msgpack exactly.
 */
import { Packr } from "msgpackr";
import { corruption } from "../storage/errors.ts";
import { metadataForPacking, metadataFromPacked } from "../storage/metadata.ts";
import type { Metadata, VectorRecord, WriteOp } from "../storage/types.ts";

const packr = new Packr({ useRecords: false, moreTypes: true });
const magic = 0x4e;
const bodyVersion = 2;
const prefixBytes = 8;
const namespaceBytesMax = 0xffff;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

export interface LogBody {
  namespace: string;
  write: WriteOp;
}

interface Header {
  /** Version 1 only. */
  namespace?: string;
  write: WriteOp;
  valuesDim?: number;
}

/** The write with every metadata object made safe for msgpack (storage/metadata.ts, `__proto__`). */
function mapMetadata(write: WriteOp, map: (metadata: Metadata) => Metadata): WriteOp {
  if (write.op === "upsert") {
    let changed = false;
    const records = write.records.map((record) => {
      if (record.metadata === undefined) return record;
      const metadata = map(record.metadata);
      if (metadata === record.metadata) return record;
      changed = true;
      return { ...record, metadata };
    });
    return changed ? { op: "upsert", records } : write;
  }
  if (write.op === "update" && write.setMetadata !== undefined) {
    return { ...write, setMetadata: map(write.setMetadata) };
  }
  return write;
}

export function encodeLogBody(body: LogBody): Uint8Array {
  const write = mapMetadata(body.write, metadataForPacking);
  let header: Header = { write };
  let rows: Float32Array[] = [];
  let dim = 0;
  if (write.op === "upsert" && write.records.length > 0 && write.records[0]!.values) {
    dim = write.records[0]!.values.length;
    rows = write.records.map((record) => record.values!);
    const records = write.records.map(({ values: _values, ...rest }) => rest);
    header = { write: { op: "upsert", records }, valuesDim: dim };
  }
  const namespace = textEncoder.encode(body.namespace);
  if (namespace.byteLength > namespaceBytesMax)
    throw new RangeError(`namespace names are at most ${namespaceBytesMax} bytes`);
  // pack() answers a view of msgpackr's shared buffer: copied into the payload right away.
  const packed = packr.pack(header);
  const headerStart = prefixBytes + namespace.byteLength;
  const blockOffset = align4(headerStart + packed.byteLength);
  const payload = new Uint8Array(blockOffset + rows.length * dim * 4);
  payload[0] = magic;
  payload[1] = bodyVersion;
  const view = new DataView(payload.buffer);
  view.setUint16(2, namespace.byteLength, true);
  view.setUint32(4, packed.byteLength, true);
  payload.set(namespace, prefixBytes);
  payload.set(packed, headerStart);
  if (dim > 0) {
    const block = new Float32Array(payload.buffer, blockOffset, rows.length * dim);
    rows.forEach((values, row) => {
      if (values.length !== dim) throw corruption("log body", "records of one batch differ in dimension");
      block.set(values, row * dim);
    });
  }
  return payload;
}

/** Where a body's parts are, checked against its length. */
function frameOf(bytes: Uint8Array, source: string) {
  if (bytes.byteLength < prefixBytes || bytes[0] !== magic || (bytes[1] !== 1 && bytes[1] !== 2)) {
    throw corruption(source, "log record body has an unknown format");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[1]!;
  const namespaceLength = version === 2 ? view.getUint16(2, true) : 0;
  const headerStart = prefixBytes + namespaceLength;
  const headerLength = view.getUint32(4, true);
  if (headerStart + headerLength > bytes.byteLength)
    throw corruption(source, "log record header overruns its body");
  return { version, namespaceLength, headerStart, headerLength };
}

function namespaceOf(bytes: Uint8Array, namespaceLength: number, source: string): string {
  try {
    return textDecoder.decode(bytes.subarray(prefixBytes, prefixBytes + namespaceLength));
  } catch {
    throw corruption(source, "log record namespace is not UTF-8");
  }
}

/** The namespace a body belongs to, without decoding the rest (version 1: the whole header). */
export function logBodyNamespace(bytes: Uint8Array, source = "request log"): string {
  const frame = frameOf(bytes, source);
  if (frame.version === 2) return namespaceOf(bytes, frame.namespaceLength, source);
  return decodeLogBody(bytes, source).namespace;
}

export function decodeLogBody(bytes: Uint8Array, source = "request log"): LogBody {
  const { version, namespaceLength, headerStart, headerLength } = frameOf(bytes, source);
  let header: Header;
  try {
    header = packr.unpack(bytes.subarray(headerStart, headerStart + headerLength)) as Header;
  } catch (error) {
    throw corruption(source, `log record header does not decode: ${(error as Error).message}`);
  }
  const namespace = version === 2 ? namespaceOf(bytes, namespaceLength, source) : header.namespace;
  if (typeof namespace !== "string" || typeof header.write?.op !== "string")
    throw corruption(source, "log record header is not a write");
  const dim = header.valuesDim ?? 0;
  const write = mapMetadata(header.write, metadataFromPacked);
  if (dim === 0 || write.op !== "upsert") return { namespace, write };
  const records = write.records;
  const blockOffset = align4(headerStart + headerLength);
  const blockBytes = records.length * dim * 4;
  if (blockOffset + blockBytes !== bytes.byteLength)
    throw corruption(source, "log record vector block has the wrong size");
  // A Float32Array view needs a 4-byte aligned start; a record inside a segment may not have
  // one, and is copied. Copied with Uint8Array's slice: on a Node Buffer (what a NATS client
  // hands out) slice() is a view, whose `.buffer` is the whole pool (it decoded garbage).
  const start = bytes.byteOffset + blockOffset;
  const block =
    start % 4 === 0
      ? new Float32Array(bytes.buffer, start, records.length * dim)
      : new Float32Array(Uint8Array.prototype.slice.call(bytes, blockOffset).buffer, 0, records.length * dim);
  const withValues: VectorRecord[] = records.map((record, row) => ({
    ...record,
    values: block.subarray(row * dim, (row + 1) * dim),
  }));
  return { namespace, write: { op: "upsert", records: withValues } };
}

function align4(offset: number): number {
  return (offset + 3) & ~3;
}
