/**
 * Request log recovery: turns whatever a crash left in the log directory into a log whose
 * every byte is a valid record, without ever dropping an acknowledged record silently.
 *
 * Invariants the writer keeps (request-log.ts), which recovery relies on:
 *   I1. Only the last segment is ever written. A new segment is created only after every
 *       byte of the previous one is fsynced, so a non-last segment is complete by construction.
 *   I2. At most one write is in flight, and it starts where the durable data ends. So the
 *       only bytes a crash can leave unsynced are one batch at the tail of the last segment.
 *   I3. A multi-record batch is at most `groupCommitBytesMax` bytes; a larger batch holds one
 *       record only. So every record of the torn batch starts less than `groupCommitBytesMax`
 *       bytes after the first bad byte.
 *   I4. LSNs rise by exactly 1 from record to record and from segment to segment; a segment's
 *       name and header carry its first LSN.
 *   I5. A new segment's header is written and fsynced (file and directory) before any record.
 *
 * Recovery steps:
 *   1. List `*.wal` files and sort them by first LSN (other names are ignored).
 *   2. If the last segment holds no more than a header's worth of bytes and that header is not
 *      valid, it is a roll interrupted by the crash (I5): delete it and fsync the directory.
 *   3. For every segment, check the header (magic, version, checksum, first LSN equal to the
 *      name and to the previous segment's last LSN + 1).
 *   4. Decode records from offset 32: each must be whole, checksum-valid, and carry the
 *      previous LSN + 1.
 *   5. In a non-last segment, any failure in 3 or 4, or bytes left after the last record, is
 *      CORRUPTION naming the file (I1: those bytes were fsynced and possibly acknowledged).
 *   6. In the last segment, a failure at offset X is a torn tail unless a checksum-valid record
 *      with a higher LSN starts at or beyond X + groupCommitBytesMax, which no torn write can
 *      have produced (I2, I3): that is CORRUPTION. A torn tail is cut off: truncate to X, fsync.
 *   7. No segment left: create segment 1. The log's last LSN is the last valid record's LSN, or
 *      the last segment's first LSN - 1 when it holds no record.
 */
import { open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { corruption } from "../errors.ts";
import { fsyncDirectory, ioError } from "../fsync.ts";
import {
  decodeRecordAt,
  decodeSegmentHeader,
  encodeSegmentHeader,
  parseSegmentFileName,
  recordAlignmentBytes,
  segmentFileName,
  segmentHeaderBytes,
} from "./format.ts";

export interface RecoveredSegment {
  path: string;
  firstLsn: bigint;
}

export interface RecoveredLog {
  /** Segments in LSN order; the last one is the active segment. Never empty. */
  segments: RecoveredSegment[];
  /** LSN of the last valid record (first LSN of the active segment - 1 if it is empty). */
  lastLsn: bigint;
  /** Bytes of the active segment after recovery (where the next record goes). */
  activeSizeBytes: number;
  /** Bytes cut off the tail of the last segment (0 when it ended cleanly). */
  truncatedBytes: number;
}

/** Creates a segment file holding only its header, durably (I5). */
export async function createSegment(dir: string, firstLsn: bigint): Promise<RecoveredSegment> {
  const path = join(dir, segmentFileName(firstLsn));
  try {
    const handle = await open(path, "wx");
    try {
      await handle.write(encodeSegmentHeader(firstLsn), 0, segmentHeaderBytes, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw ioError(path, "segment creation", error);
  }
  await fsyncDirectory(dir);
  return { path, firstLsn };
}

/** A whole segment file (a view of the buffer read, not a copy); IO error naming it on failure. */
export async function readSegmentBytes(path: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw ioError(path, "read", error);
  }
}

/** Steps 1 to 7 above. */
export async function recoverLog(dir: string, groupCommitBytesMax: number): Promise<RecoveredLog> {
  // Step 1.
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw ioError(dir, "list log directory", error);
  }
  const segments: RecoveredSegment[] = names
    .map((name) => ({ path: join(dir, name), firstLsn: parseSegmentFileName(name) }))
    .filter((segment): segment is RecoveredSegment => segment.firstLsn !== undefined)
    .sort((a, b) => (a.firstLsn < b.firstLsn ? -1 : 1));

  // Step 2. The tail's bytes are kept for steps 3-6, so the active segment is read once.
  const tail = segments.at(-1);
  let tailBytes: Uint8Array | undefined;
  if (tail !== undefined) {
    tailBytes = await readSegmentBytes(tail.path);
    if (tailBytes.byteLength <= segmentHeaderBytes && "invalid" in decodeSegmentHeader(tailBytes)) {
      try {
        await unlink(tail.path);
      } catch (error) {
        throw ioError(tail.path, "delete of interrupted segment", error);
      }
      await fsyncDirectory(dir);
      segments.pop();
      tailBytes = undefined;
    }
  }

  // Step 7 (empty log).
  if (segments.length === 0) {
    const first = await createSegment(dir, 1n);
    return { segments: [first], lastLsn: 0n, activeSizeBytes: segmentHeaderBytes, truncatedBytes: 0 };
  }

  let lastLsn = segments[0]!.firstLsn - 1n;
  let activeSizeBytes = 0;
  let truncatedBytes = 0;
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    const isLast = index === segments.length - 1;
    const bytes = isLast && tailBytes !== undefined ? tailBytes : await readSegmentBytes(segment.path);

    // Step 3.
    const header = decodeSegmentHeader(bytes);
    if ("invalid" in header) throw corruption(segment.path, `segment header: ${header.invalid}`);
    if (header.firstLsn !== segment.firstLsn) {
      throw corruption(segment.path, `header first LSN ${header.firstLsn} differs from the file name`);
    }
    if (segment.firstLsn !== lastLsn + 1n) {
      throw corruption(segment.path, `segment starts at LSN ${segment.firstLsn}, expected ${lastLsn + 1n}`);
    }

    // Step 4.
    let offset = segmentHeaderBytes;
    let failure: string | undefined;
    while (offset < bytes.byteLength) {
      const record = decodeRecordAt(bytes, offset);
      if (!record.valid) {
        failure = record.reason;
        break;
      }
      if (record.lsn !== lastLsn + 1n) {
        failure = `LSN ${record.lsn} where ${lastLsn + 1n} was expected`;
        break;
      }
      lastLsn = record.lsn;
      offset = record.end;
    }
    if (failure === undefined) {
      activeSizeBytes = bytes.byteLength;
      continue;
    }

    // Step 5.
    if (!isLast)
      throw corruption(segment.path, `record at byte ${offset}: ${failure} (not the last segment)`);

    // Step 6.
    const proof = findRecordBeyondTornReach(bytes, offset + groupCommitBytesMax, lastLsn);
    if (proof !== undefined) {
      throw corruption(
        segment.path,
        `record at byte ${offset}: ${failure}, yet a valid record (LSN ${proof.lsn}) follows at byte ${proof.offset}, too far for a torn write`,
      );
    }
    try {
      const handle = await open(segment.path, "r+");
      try {
        await handle.truncate(offset);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw ioError(segment.path, "truncate of torn tail", error);
    }
    truncatedBytes = bytes.byteLength - offset;
    activeSizeBytes = offset;
  }
  return { segments, lastLsn, activeSizeBytes, truncatedBytes };
}

/** A checksum-valid record with an LSN above `lastLsn` starting at or after `from` (step 6). */
function findRecordBeyondTornReach(
  bytes: Uint8Array,
  from: number,
  lastLsn: bigint,
): { offset: number; lsn: bigint } | undefined {
  const start = Math.ceil(from / recordAlignmentBytes) * recordAlignmentBytes;
  for (let offset = start; offset < bytes.byteLength; offset += recordAlignmentBytes) {
    const record = decodeRecordAt(bytes, offset);
    if (record.valid && record.lsn > lastLsn) return { offset, lsn: record.lsn };
  }
  return undefined;
}
