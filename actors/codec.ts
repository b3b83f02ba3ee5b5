/**
 * Log payloads: what the namespace asks the writer to log for one batch.
 *
 * Layout (little endian):
 *
 *   offset  size  field
 *   0       1     magic 0x4E ("N")
 *   1       1     body format version (1)
 *   2       2     reserved, zero
 *   4       4     u32 header length H
 *   8       H     msgpack header: {namespace, write}; for an upsert the records carry no
 *                 `values` and the header adds `valuesDim` (0 when the records have none)
 *   8+H     pad   zeros up to a multiple of 4
 *   ...     4*n*d float32 block: the n records' dense values, row after row (upserts only)
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
const bodyVersion = 1;
const prefixBytes = 8;

export interface LogBody {
  namespace: string;
  write: WriteOp;
}

interface Header {
  namespace: string;
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
  let header: Header = { namespace: body.namespace, write };
  let rows: Float32Array[] = [];
  let dim = 0;
  if (write.op === "upsert" && write.records.length > 0 && write.records[0]!.values) {
    dim = write.records[0]!.values.length;
    rows = write.records.map((record) => record.values!);
    const records = write.records.map(({ values: _values, ...rest }) => rest);
    header = { namespace: body.namespace, write: { op: "upsert", records }, valuesDim: dim };
  }
  // pack() answers a view of msgpackr's shared buffer: copied into the payload right away.
  const packed = packr.pack(header);
  const blockOffset = align4(prefixBytes + packed.byteLength);
  const payload = new Uint8Array(blockOffset + rows.length * dim * 4);
  payload[0] = magic;
  payload[1] = bodyVersion;
  new DataView(payload.buffer).setUint32(4, packed.byteLength, true);
  payload.set(packed, prefixBytes);
  if (dim > 0) {
    const block = new Float32Array(payload.buffer, blockOffset, rows.length * dim);
    rows.forEach((values, row) => {
      if (values.length !== dim) throw corruption("log body", "records of one batch differ in dimension");
      block.set(values, row * dim);
    });
  }
  return payload;
}

export function decodeLogBody(bytes: Uint8Array, source = "request log"): LogBody {
  if (bytes.byteLength < prefixBytes || bytes[0] !== magic || bytes[1] !== bodyVersion) {
    throw corruption(source, "log record body has an unknown format");
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (prefixBytes + headerLength > bytes.byteLength)
    throw corruption(source, "log record header overruns its body");
  const header = packr.unpack(bytes.subarray(prefixBytes, prefixBytes + headerLength)) as Header;
  const dim = header.valuesDim ?? 0;
  const write = mapMetadata(header.write, metadataFromPacked);
  if (dim === 0 || write.op !== "upsert") return { namespace: header.namespace, write };
  const records = write.records;
  const blockOffset = align4(prefixBytes + headerLength);
  const blockBytes = records.length * dim * 4;
  if (blockOffset + blockBytes !== bytes.byteLength)
    throw corruption(source, "log record vector block has the wrong size");
  // A Float32Array view needs a 4-byte aligned start; a record inside a segment may not have one.
  const start = bytes.byteOffset + blockOffset;
  const block =
    start % 4 === 0
      ? new Float32Array(bytes.buffer, start, records.length * dim)
      : new Float32Array(bytes.slice(blockOffset).buffer, 0, records.length * dim);
  const withValues: VectorRecord[] = records.map((record, row) => ({
    ...record,
    values: block.subarray(row * dim, (row + 1) * dim),
  }));
  return { namespace: header.namespace, write: { op: "upsert", records: withValues } };
}

function align4(offset: number): number {
  return (offset + 3) & ~3;
}
