/**
 * The request log (write-ahead log) of one index: LSN-stamped opaque payloads, durable before
 * they are acknowledged. Byte format: format.ts and FORMAT.md. Recovery: recovery.ts.
 *
 * Invariants:
 *   1. `lastLsn` only names records that are written AND fsynced; `append` resolves only then.
 *   2. LSNs are assigned in call order, consecutive, from lastLsn + 1; a record's LSN never
 *      changes and is never reused (a failed write fails the whole log, so no gap is ever
 *      written and later appended over).
 *   3. At most one write+fsync is in flight; it starts where the durable bytes end (so a crash
 *      can tear only the tail of the last segment, recovery invariant I2).
 *   4. A batch holding more than one record is at most `groupCommitBytesMax` bytes.
 *   5. Only the active (last) segment is written, always in the newest record layout; a new
 *      one is created only after the active one is fully fsynced, and only between batches (I1).
 *   6. After an I/O error the log is failed: every waiting and later append rejects with IO,
 *      and the failed batch is cut off the file (or, if that fails too, by the next open in this
 *      process), so a write its caller was told failed never comes back at replay.
 *   7. One RequestLog per directory at a time (the engine holds the data directory's lock and
 *      keeps one writer per index; a second writer on the same directory would corrupt it).
 *   8. The trim marker is durable before a trim deletes any segment (recovery I5).
 *
 * Group commit, step by step (`flushLoop`):
 *   1. `append` queues the payload with its LSN and, if no flush is running, starts one on the
 *      next microtask, so appends made in the same tick share the first write.
 *   2. Take queued records from the front while the batch stays within groupCommitBytesMax
 *      (always at least one record).
 *   3. If the active segment has reached segmentBytesMax, roll: create the next segment
 *      (header written and fsynced, directory fsynced), close the old handle.
 *   4. Encode the batch into one buffer, write it at the durable end, fdatasync once.
 *   5. Advance lastLsn and the durable end; resolve every append of the batch.
 *   6. Repeat while the queue is not empty: appends that arrived during 4 form the next batch.
 *
 * Why the log fails for good on an I/O error (the "fsync gate"): after a failed fsync the
 * kernel may drop the dirty pages and clear the error, so a retried fsync can report success
 * for data that never reached the disk (PostgreSQL lost data this way in 2018). A partial
 * write also leaves bytes of unknown state at the tail. The only honest state is on disk, so
 * the owner must close the log and reopen it: recovery re-reads exactly what is durable. The
 * failed batch's appends were answered with an error, so its bytes must not be: the log cuts
 * them off at once (truncate to the durable end + fsync) and, should that fail as well, leaves
 * their first LSN in `refusedBatches` so the next open in this process cuts them at recovery.
 */
import { join } from "node:path";
import { assert, corruption, invalidArgument, NeedleError } from "../errors.ts";
import { type FileHandle, open, unlink } from "../files.ts";
import { ensureDirectoryDurably, fsyncDirectory, ioError, writeFileDurably } from "../fsync.ts";
import {
  decodeRecordAt,
  encodeRecordInto,
  encodeTrimMarker,
  paddedRecordBytes,
  payloadBytesMax,
  segmentHeaderBytes,
  trimMarkerName,
} from "./format.ts";
import {
  createSegment,
  type RecoveredLog,
  type RecoveredSegment,
  readSegmentBytes,
  recoverLog,
} from "./recovery.ts";
import type { Log } from "./log.ts";

export interface RequestLogOptions {
  dir: string;
  /** Roll to a new segment once the active one reaches this many bytes. Default 64 MiB. */
  segmentBytesMax?: number;
}

/** Fault-injection and observation points for tests. Production code passes none. */
export interface RequestLogHooks {
  /** Runs before every fdatasync of a batch; a throw is treated as a failed fsync. */
  beforeSync?: (segmentPath: string) => void | Promise<void>;
}

export interface RequestLogStats {
  /** Records made durable since open. */
  appendedRecords: number;
  /** Batch writes, each followed by exactly one fdatasync. */
  batchSyncs: number;
  /** Segments created since open (rolls, plus the first segment of a new log). */
  segmentsCreated: number;
  /** Bytes cut off a torn tail by recovery at open. */
  recoveredTruncatedBytes: number;
}

export const segmentBytesMaxDefault = 64 * 1024 * 1024;
/** A trim through every durable record rolls an active segment at least this big (rollIfTrimmed). */
export const rollTrimmedBytesMin = 1024 * 1024;
/** Largest multi-record group-commit write: bounds the bytes one fsync covers. */
export const groupCommitBytesMax = 1024 * 1024;

/**
 * Per directory, the first LSN of a batch whose append failed and could not be cut off the
 * file at once (invariant 6). The next open of that directory in this process cuts it off.
 */
const refusedBatches = new Map<string, bigint>();

interface PendingAppend {
  lsn: bigint;
  payload: Uint8Array;
  resolve: (lsn: bigint) => void;
  reject: (error: unknown) => void;
}

export class RequestLog implements Log {
  readonly dir: string;
  readonly segmentBytesMax: number;
  private readonly hooks: RequestLogHooks;
  private segments: RecoveredSegment[];
  private activeHandle: FileHandle;
  private activeSizeBytes: number;
  private durableLsn: bigint;
  private nextLsn: bigint;
  private readonly queue: PendingAppend[] = [];
  private reusableBatch = new Uint8Array(0);
  /** Replays in progress; segments are not deleted while any runs. */
  private replaysReading = 0;
  private flushing: Promise<void> | undefined;
  private failure: NeedleError | undefined;
  private trimmedLsn: bigint | undefined;
  private closed = false;
  private readonly counters: RequestLogStats;

  private constructor(
    dir: string,
    segmentBytesMax: number,
    hooks: RequestLogHooks,
    recovered: RecoveredLog,
    activeHandle: FileHandle,
  ) {
    this.dir = dir;
    this.segmentBytesMax = segmentBytesMax;
    this.hooks = hooks;
    this.segments = recovered.segments;
    this.activeHandle = activeHandle;
    this.activeSizeBytes = recovered.activeSizeBytes;
    this.durableLsn = recovered.lastLsn;
    this.trimmedLsn = recovered.trimmedLsn;
    this.nextLsn = recovered.lastLsn + 1n;
    this.counters = {
      appendedRecords: 0,
      batchSyncs: 0,
      segmentsCreated: 0,
      recoveredTruncatedBytes: recovered.truncatedBytes,
    };
  }

  /** Opens (creating if needed) the log in `options.dir` and runs recovery. */
  static async open(options: RequestLogOptions, hooks: RequestLogHooks = {}): Promise<RequestLog> {
    const segmentBytesMax = options.segmentBytesMax ?? segmentBytesMaxDefault;
    if (!Number.isInteger(segmentBytesMax) || segmentBytesMax <= segmentHeaderBytes) {
      throw invalidArgument(
        "segmentBytesMax",
        "segmentBytesMax must be an integer above the segment header size",
        `> ${segmentHeaderBytes}`,
        segmentBytesMax,
      );
    }
    await ensureDirectoryDurably(options.dir);
    const discardFromLsn = refusedBatches.get(options.dir);
    const recovered = await recoverLog(options.dir, { discardFromLsn });
    refusedBatches.delete(options.dir);
    if (recovered.trimmedLsn === undefined) {
      // A new log, or one written before trim markers: from now on missing segments show.
      recovered.trimmedLsn = recovered.segments[0]!.firstLsn - 1n;
      await writeTrimMarker(options.dir, recovered.trimmedLsn);
    }
    if (recovered.segments.at(-1)!.version !== 2) await upgradeActiveSegment(options.dir, recovered);
    const active = recovered.segments.at(-1)!;
    let handle: FileHandle;
    try {
      handle = await open(active.path, "r+");
    } catch (error) {
      throw ioError(active.path, "open of active segment", error);
    }
    return new RequestLog(options.dir, segmentBytesMax, hooks, recovered, handle);
  }

  /** The LSN of the oldest record still in the log (records below it were trimmed). */
  get firstLsn(): bigint {
    return this.segments[0]!.firstLsn;
  }

  /** True once an I/O error failed the log (invariant 6): the owner must reopen it. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Highest LSN durably in the log (0n if empty). */
  get lastLsn(): bigint {
    return this.durableLsn;
  }

  stats(): RequestLogStats {
    return { ...this.counters };
  }

  /**
   * Appends one batch. Assigns the next LSN, writes, and resolves only after fsync (group
   * commit: appends arriving while a write+fsync is in flight are written together with ONE
   * fsync). The payload is opaque bytes; the log copies it at once, so the caller may reuse
   * its buffer (msgpackr's pack output, for one, is a view of a shared buffer) — unless the
   * caller passes `owned: true`, handing the buffer over: it must never touch it again. That
   * spares a copy of every payload (megabytes per batch of vectors).
   */
  append(payload: Uint8Array, options: { owned?: boolean } = {}): Promise<bigint> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed)
      return Promise.reject(new NeedleError("UNAVAILABLE", `request log ${this.dir} is closed`));
    if (payload.byteLength === 0 || payload.byteLength > payloadBytesMax) {
      return Promise.reject(
        invalidArgument(
          "payload",
          "log payload size out of range",
          `1-${payloadBytesMax} bytes`,
          `${payload.byteLength} bytes`,
        ),
      );
    }
    const lsn = this.nextLsn;
    this.nextLsn += 1n;
    return new Promise<bigint>((resolve, reject) => {
      // new Uint8Array(view) copies; a Buffer's slice() (msgpackr answers Buffers) would not.
      this.queue.push({ lsn, payload: options.owned ? payload : new Uint8Array(payload), resolve, reject });
      if (this.flushing === undefined) this.startFlush();
    });
  }

  /**
   * The buffer a batch is encoded into, reused from batch to batch: its pages stay mapped, so
   * encoding does not pay for fresh memory each time. Only one flush loop runs, and it awaits
   * each write before encoding the next batch, so the buffer is never shared.
   */
  private batchBuffer(bytes: number): Uint8Array {
    if (this.reusableBatch.byteLength < bytes) {
      this.reusableBatch = new Uint8Array(Math.max(bytes, this.reusableBatch.byteLength * 2));
    }
    return this.reusableBatch.subarray(0, bytes);
  }

  /** Step 1: one flush loop at a time; restarted if appends slipped in as the previous one ended. */
  private startFlush(): void {
    this.flushing = Promise.resolve()
      .then(() => this.flushLoop())
      .finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0 && this.failure === undefined) this.startFlush();
      });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 && this.failure === undefined) {
      // Step 2.
      let batchBytes = 0;
      let count = 0;
      for (const pending of this.queue) {
        const recordBytes = paddedRecordBytes(pending.payload.byteLength);
        if (count > 0 && batchBytes + recordBytes > groupCommitBytesMax) break;
        batchBytes += recordBytes;
        count += 1;
      }
      const batch = this.queue.splice(0, count);
      assert(batch.length >= 1, "a batch holds at least one record");
      assert(
        batch.length === 1 || batchBytes <= groupCommitBytesMax,
        "multi-record batch within groupCommitBytesMax",
      );
      try {
        // Step 3.
        if (this.activeSizeBytes >= this.segmentBytesMax) await this.roll(batch[0]!.lsn);
        // Step 4.
        const buffer = this.batchBuffer(batchBytes);
        let offset = 0;
        let expectedLsn = this.durableLsn + 1n;
        for (const pending of batch) {
          assert(pending.lsn === expectedLsn, "batch LSNs follow the durable end, consecutively");
          offset = encodeRecordInto(buffer, offset, pending.lsn, pending.payload);
          expectedLsn += 1n;
        }
        assert(offset === batchBytes, "batch encoded to its computed size");
        await this.writeAndSync(buffer);
      } catch (error) {
        await this.fail(error, batch);
        return;
      }
      // Step 5.
      this.activeSizeBytes += batchBytes;
      this.durableLsn = batch.at(-1)!.lsn;
      this.counters.appendedRecords += batch.length;
      for (const pending of batch) pending.resolve(pending.lsn);
    }
  }

  private async writeAndSync(buffer: Uint8Array): Promise<void> {
    const path = this.segments.at(-1)!.path;
    try {
      let written = 0;
      while (written < buffer.byteLength) {
        const { bytesWritten } = await this.activeHandle.write(
          buffer,
          written,
          buffer.byteLength - written,
          this.activeSizeBytes + written,
        );
        assert(bytesWritten > 0, "write makes progress");
        written += bytesWritten;
      }
      await this.hooks.beforeSync?.(path);
      await this.activeHandle.datasync();
      this.counters.batchSyncs += 1;
    } catch (error) {
      if (error instanceof NeedleError && error.code === "INTERNAL") throw error;
      throw ioError(path, "append write/fsync", error);
    }
  }

  private async roll(firstLsn: bigint): Promise<void> {
    const segment = await createSegment(this.dir, firstLsn);
    this.counters.segmentsCreated += 1;
    const previous = this.activeHandle;
    try {
      this.activeHandle = await open(segment.path, "r+");
    } catch (error) {
      throw ioError(segment.path, "open of new segment", error);
    }
    this.segments.push(segment);
    this.activeSizeBytes = segmentHeaderBytes;
    await previous.close().catch(() => undefined);
  }

  /** Invariant 6: the log refuses appends from now on; the failed batch is cut off the file. */
  private async fail(error: unknown, batch: PendingAppend[]): Promise<void> {
    const cause = error instanceof NeedleError ? error : ioError(this.dir, "append", error);
    const firstRefusedLsn = batch[0]?.lsn ?? this.durableLsn + 1n;
    try {
      await this.activeHandle.truncate(this.activeSizeBytes);
      await this.activeHandle.datasync();
    } catch {
      refusedBatches.set(this.dir, firstRefusedLsn);
    }
    // The failure keeps its class: a full volume stays STORAGE_FULL, a failing device
    // STORAGE_FAILED (retryable once the owner reopens the log), anything else IO.
    const storage = cause.code === "STORAGE_FULL" || cause.code === "STORAGE_FAILED";
    this.failure = new NeedleError(
      storage ? cause.code : "IO",
      `request log ${this.dir} failed and refuses appends until reopened: ${cause.message}`,
      {
        file: cause.file ?? this.dir,
        cause,
        retryAfterSeconds: cause.retryAfterSeconds,
      },
    );
    const waiting = [...batch, ...this.queue.splice(0)];
    for (const pending of waiting) pending.reject(this.failure);
  }

  /** Replays every record with lsn > afterLsn, in order, up to lastLsn as of the call. */
  async replay(
    afterLsn: bigint,
    visit: (lsn: bigint, payload: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    // Pin the segments: a trim while a replay reads would delete files out from under it.
    this.replaysReading += 1;
    try {
      await this.replayPinned(afterLsn, visit);
    } finally {
      this.replaysReading -= 1;
    }
  }

  private async replayPinned(
    afterLsn: bigint,
    visit: (lsn: bigint, payload: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    const throughLsn = this.durableLsn;
    const segments = [...this.segments];
    const firstAvailable = segments[0]!.firstLsn;
    if (afterLsn + 1n < firstAvailable && afterLsn < throughLsn) {
      throw new NeedleError(
        "FAILED_PRECONDITION",
        `records after LSN ${afterLsn} were trimmed from the log`,
        {
          field: "afterLsn",
          limit: `>= ${firstAvailable - 1n}`,
          received: afterLsn.toString(),
        },
      );
    }
    let expected = afterLsn + 1n;
    for (let index = 0; index < segments.length && expected <= throughLsn; index++) {
      const segment = segments[index]!;
      const next = segments[index + 1];
      if (next !== undefined && next.firstLsn <= expected) continue; // wholly at or before afterLsn
      const bytes = await readSegmentBytes(segment.path);
      let offset = segmentHeaderBytes;
      while (offset < bytes.byteLength && expected <= throughLsn) {
        const record = decodeRecordAt(bytes, offset, segment.version);
        if (!record.valid)
          throw corruption(segment.path, `record at byte ${offset}: ${record.reason} during replay`);
        if (record.lsn > expected) {
          throw corruption(
            segment.path,
            `record at byte ${offset}: LSN ${record.lsn} where ${expected} was expected`,
          );
        }
        offset = record.end;
        if (record.lsn < expected) continue;
        // Awaited only when the visitor is asynchronous: a microtask per record was a tenth of
        // a 100,000-record recovery scan.
        const visited = visit(record.lsn, record.payload);
        if (visited !== undefined) await visited;
        expected += 1n;
      }
    }
    assert(expected > throughLsn || afterLsn >= throughLsn, "replay reached the durable end");
  }

  /** Deletes whole segments whose records all have lsn <= lsn (never the active segment). */
  async trimThrough(lsn: bigint): Promise<void> {
    // Trimming is opportunistic: while a replay reads, skip it; the next trim catches up.
    if (this.replaysReading > 0) return;
    await this.rollIfTrimmed(lsn);
    let removable = 0;
    while (removable < this.segments.length - 1 && this.segments[removable + 1]!.firstLsn - 1n <= lsn) {
      removable += 1;
    }
    if (removable === 0) return;
    const doomed = this.segments.slice(0, removable);
    // Invariant 8: say what may go before anything goes, so recovery can tell a trim from a loss.
    const trimmedLsn = this.segments[removable]!.firstLsn - 1n;
    if (this.trimmedLsn === undefined || trimmedLsn > this.trimmedLsn) {
      await writeTrimMarker(this.dir, trimmedLsn);
      this.trimmedLsn = trimmedLsn;
    }
    // Oldest first, so a crash midway leaves a contiguous log (recovery step 4).
    for (const segment of doomed) {
      try {
        await unlink(segment.path);
      } catch (error) {
        throw ioError(segment.path, "delete of trimmed segment", error);
      }
      this.segments.shift();
    }
    await fsyncDirectory(this.dir);
  }

  /**
   * A trim through every durable record, with nothing queued, rolls an active segment of at
   * least `rollTrimmedBytesMin` so the trim can delete it: the active segment was never
   * trimmed, so a clean shutdown left up to a whole segment (64 MiB) that every later open read
   * and checked again (30 MB: 150 ms of each reopen of 100,000 tenants). Appends arriving
   * meanwhile wait for the roll, as they wait for a flush. A failed roll fails the log like a
   * failed append (a new segment may exist on disk; nothing more may go to the old one).
   */
  private async rollIfTrimmed(lsn: bigint): Promise<void> {
    if (lsn < this.durableLsn || this.activeSizeBytes < rollTrimmedBytesMin) return;
    if (this.failure !== undefined || this.closed || this.flushing !== undefined || this.queue.length > 0)
      return;
    const rolling = (async () => {
      try {
        await this.roll(this.durableLsn + 1n);
      } catch (error) {
        await this.fail(error, []);
      }
    })().finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0 && this.failure === undefined) this.startFlush();
    });
    this.flushing = rolling;
    await rolling;
  }

  /** Waits for queued appends to become durable (or fail), then closes the active segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing !== undefined) await this.flushing;
    await this.activeHandle.close().catch(() => undefined);
  }
}

async function writeTrimMarker(dir: string, trimmedLsn: bigint): Promise<void> {
  await writeFileDurably(join(dir, trimMarkerName), encodeTrimMarker(trimmedLsn));
}

/**
 * An active segment in the older record layout (written by an earlier Needle) is never
 * appended to (invariant 5): an empty one is replaced by a new segment with the same first
 * LSN, a non-empty one is followed by a new segment.
 */
async function upgradeActiveSegment(dir: string, recovered: RecoveredLog): Promise<void> {
  const old = recovered.segments.at(-1)!;
  if (recovered.lastLsn < old.firstLsn) {
    try {
      await unlink(old.path);
    } catch (error) {
      throw ioError(old.path, "delete of empty old-format segment", error);
    }
    recovered.segments.pop();
  }
  recovered.segments.push(await createSegment(dir, recovered.lastLsn + 1n));
  recovered.activeSizeBytes = segmentHeaderBytes;
}
