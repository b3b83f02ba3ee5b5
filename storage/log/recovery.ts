/**
 * Request log recovery: turns whatever a crash left in the log directory into a log whose
 * every byte is a valid record, without ever dropping an acknowledged record silently.
 *
 * Invariants the writer keeps (request-log.ts), which recovery relies on:
 *   I1. Only the last segment is ever written. A new segment is created only after every
 *       byte of the previous one is fsynced, so a non-last segment is complete by construction.
 *   I2. At most one write is in flight, and it starts where the durable data ends. So the
 *       only bytes a crash can leave unsynced are one batch at the tail of the last segment.
 *   I3. LSNs rise by exactly 1 from record to record and from segment to segment; a segment's
 *       name and header carry its first LSN.
 *   I4. A new segment's header is written and fsynced (file and directory) before any record.
 *   I5. Before a trim deletes a segment, the trim marker durably records the highest LSN the
 *       trim may remove; segments are deleted oldest first.
 *
 * Recovery steps:
 *   1. List `*.wal` files and sort them by first LSN (other names are ignored); read the trim
 *      marker if there is one (a damaged marker is CORRUPTION naming it).
 *   2. If the last segment holds no more than a header's worth of bytes and that header is not
 *      valid, it is a roll interrupted by the crash (I4): delete it and fsync the directory.
 *   3. The first segment must start at or below the trim marker's LSN + 1 (I5), or at LSN 1
 *      when there is no marker and the log was never trimmed; a higher start means segments
 *      went missing: CORRUPTION naming the records lost. (A log written before trim markers
 *      existed has none; its first segment is accepted and a marker is written for it.)
 *   4. For every segment, check the header (magic, version, checksum, first LSN equal to the
 *      name and to the previous segment's last LSN + 1).
 *   5. Decode records from offset 32: each must be whole, checksum-valid, and carry the
 *      previous LSN + 1.
 *   6. In a non-last segment, any failure in 4 or 5, or bytes left after the last record, is
 *      CORRUPTION naming the file (I1: those bytes were fsynced and possibly acknowledged).
 *   7. In the last segment, a failure at offset X is judged so:
 *        a. a checksum-valid record with the wrong LSN: CORRUPTION (no torn write makes one);
 *        b. a record whose header checks out (version 2), carries the expected LSN and whose
 *           extent runs past the end of the file: the torn tail (I2). Nothing after X is read
 *           as a record: those bytes belong to that record's payload.
 *        c. otherwise, if any valid record with a higher LSN starts after the damage (after the
 *           damaged record's extent when its header checks out, else at any 8-aligned offset
 *           after X): the damaged bytes were followed by more log, so they were fsynced and
 *           maybe acknowledged: CORRUPTION naming the file. If none does, it is a torn tail.
 *      A torn tail is cut off: truncate to X, fsync.
 *   8. Records at or above `discardFromLsn` (a batch whose write or fsync failed in this
 *      process, so its appends were answered with an error) are cut off the same way.
 *   9. No segment left: create segment 1. The log's last LSN is the last valid record's LSN,
 *      or the last segment's first LSN - 1 when it holds no record.
 */
import { join } from "node:path";
import { corruption } from "../errors.ts";
import { open, readdir, readFile, unlink } from "../files.ts";
import { fsyncDirectory, ioError, isNotFound } from "../fsync.ts";
import {
  decodeRecordAt,
  decodeSegmentHeader,
  decodeTrimMarker,
  encodeSegmentHeader,
  parseSegmentFileName,
  recordAlignmentBytes,
  type SegmentVersion,
  segmentFileName,
  segmentHeaderBytes,
  trimMarkerName,
} from "./format.ts";

export interface RecoveredSegment {
  path: string;
  firstLsn: bigint;
  /** Record layout of the segment (1: written by an older Needle, read only). */
  version: SegmentVersion;
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
  /** The trim marker's LSN; undefined when the directory has no marker yet (step 3). */
  trimmedLsn: bigint | undefined;
}

export interface RecoveryOptions {
  /** Step 8: records at or above this LSN were refused to their callers and must go. */
  discardFromLsn?: bigint;
}

/** Creates a segment file holding only its header, durably (I4). */
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
  return { path, firstLsn, version: 2 };
}

/** A whole segment file (a view of the buffer read, not a copy); IO error naming it on failure. */
export async function readSegmentBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw ioError(path, "read", error);
  }
}

/** The trim marker's LSN, undefined when there is none; CORRUPTION naming it when damaged. */
async function readTrimMarker(dir: string): Promise<bigint | undefined> {
  const path = join(dir, trimMarkerName);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw ioError(path, "read trim marker", error);
  }
  const marker = decodeTrimMarker(bytes);
  if ("invalid" in marker) throw corruption(path, `trim marker: ${marker.invalid}`);
  return marker.trimmedLsn;
}

/** Steps 1 to 9 above. */
export async function recoverLog(dir: string, options: RecoveryOptions = {}): Promise<RecoveredLog> {
  // Step 1.
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw ioError(dir, "list log directory", error);
  }
  const trimmedLsn = await readTrimMarker(dir);
  const listed = names
    .map((name) => ({ path: join(dir, name), firstLsn: parseSegmentFileName(name) }))
    .filter((segment): segment is { path: string; firstLsn: bigint } => segment.firstLsn !== undefined)
    .sort((a, b) => (a.firstLsn < b.firstLsn ? -1 : 1));

  // Step 2. The tail's bytes are kept for steps 4-7, so the active segment is read once.
  const tail = listed.at(-1);
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
      listed.pop();
      tailBytes = undefined;
    }
  }

  // Step 9 (empty log).
  if (listed.length === 0) {
    const first = await createSegment(dir, (trimmedLsn ?? 0n) + 1n);
    return {
      segments: [first],
      lastLsn: first.firstLsn - 1n,
      activeSizeBytes: segmentHeaderBytes,
      truncatedBytes: 0,
      trimmedLsn,
    };
  }

  // Step 3.
  const firstLsn = listed[0]!.firstLsn;
  if (trimmedLsn !== undefined && firstLsn > trimmedLsn + 1n) {
    throw corruption(
      listed[0]!.path,
      `the log starts at LSN ${firstLsn} but was trimmed only through LSN ${trimmedLsn}: segments holding LSNs ${trimmedLsn + 1n}-${firstLsn - 1n} are missing`,
    );
  }

  const segments: RecoveredSegment[] = [];
  let lastLsn = firstLsn - 1n;
  let activeSizeBytes = 0;
  let truncatedBytes = 0;
  for (let index = 0; index < listed.length; index++) {
    const segment = listed[index]!;
    const isLast = index === listed.length - 1;
    const bytes = isLast && tailBytes !== undefined ? tailBytes : await readSegmentBytes(segment.path);

    // Step 4.
    const header = decodeSegmentHeader(bytes);
    if ("invalid" in header) throw corruption(segment.path, `segment header: ${header.invalid}`);
    if (header.firstLsn !== segment.firstLsn) {
      throw corruption(segment.path, `header first LSN ${header.firstLsn} differs from the file name`);
    }
    if (segment.firstLsn !== lastLsn + 1n) {
      throw corruption(segment.path, `segment starts at LSN ${segment.firstLsn}, expected ${lastLsn + 1n}`);
    }
    segments.push({ ...segment, version: header.version });

    // Step 5.
    let offset = segmentHeaderBytes;
    let failure: string | undefined;
    let cutFrom: number | undefined;
    while (offset < bytes.byteLength) {
      const record = decodeRecordAt(bytes, offset, header.version);
      if (!record.valid) {
        failure = record.reason;
        if (isLast)
          cutFrom = judgeLastSegmentFailure(segment.path, bytes, offset, record, lastLsn, header.version);
        break;
      }
      if (record.lsn !== lastLsn + 1n) {
        failure = `LSN ${record.lsn} where ${lastLsn + 1n} was expected`;
        // Step 7a: a whole, checksum-valid record out of order is never a torn write.
        if (isLast) throw corruption(segment.path, `record at byte ${offset}: ${failure}`);
        break;
      }
      // Step 8.
      if (isLast && options.discardFromLsn !== undefined && record.lsn >= options.discardFromLsn) {
        failure = `LSN ${record.lsn} belongs to a batch whose append failed`;
        cutFrom = offset;
        break;
      }
      lastLsn = record.lsn;
      offset = record.end;
    }
    if (failure === undefined) {
      activeSizeBytes = bytes.byteLength;
      continue;
    }

    // Step 6.
    if (!isLast)
      throw corruption(segment.path, `record at byte ${offset}: ${failure} (not the last segment)`);

    // Step 7: cut the torn tail (or the discarded batch).
    const cut = cutFrom ?? offset;
    try {
      const handle = await open(segment.path, "r+");
      try {
        await handle.truncate(cut);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw ioError(segment.path, "truncate of torn tail", error);
    }
    truncatedBytes = bytes.byteLength - cut;
    activeSizeBytes = cut;
  }
  return { segments, lastLsn, activeSizeBytes, truncatedBytes, trimmedLsn };
}

/**
 * Step 7b/7c for the first bad record of the last segment, at `offset`: returns where the torn
 * tail starts, or throws CORRUPTION when valid log follows the damage.
 */
function judgeLastSegmentFailure(
  path: string,
  bytes: Uint8Array,
  offset: number,
  record: { reason: string; header?: { lsn: bigint; end: number } },
  lastLsn: bigint,
  version: SegmentVersion,
): number {
  const header = record.header;
  // 7b: a trusted header with the expected LSN whose extent passes the end: torn in flight.
  if (header !== undefined && header.lsn === lastLsn + 1n && header.end > bytes.byteLength) return offset;
  // 7c: look for log after the damage.
  const from = header !== undefined ? header.end : offset + recordAlignmentBytes;
  const proof = findValidRecordFrom(bytes, from, lastLsn, version);
  if (proof !== undefined) {
    throw corruption(
      path,
      `record at byte ${offset}: ${record.reason}, yet a valid record (LSN ${proof.lsn}) follows at byte ${proof.offset}: the damaged record was followed by more log, so it was written and maybe acknowledged`,
    );
  }
  return offset;
}

/** A valid record with a plausible LSN above `lastLsn` starting at an 8-aligned offset >= `from`. */
function findValidRecordFrom(
  bytes: Uint8Array,
  from: number,
  lastLsn: bigint,
  version: SegmentVersion,
): { offset: number; lsn: bigint } | undefined {
  const start = Math.ceil(from / recordAlignmentBytes) * recordAlignmentBytes;
  // Records take at least 24 bytes, so no valid LSN lies further above lastLsn than this.
  const lsnReachMax = lastLsn + 1n + BigInt(Math.ceil((bytes.byteLength - start) / recordAlignmentBytes));
  for (let offset = start; offset < bytes.byteLength; offset += recordAlignmentBytes) {
    const record = decodeRecordAt(bytes, offset, version);
    if (record.valid && record.lsn > lastLsn && record.lsn <= lsnReachMax) return { offset, lsn: record.lsn };
  }
  return undefined;
}
