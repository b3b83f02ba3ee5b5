import { afterEach, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NeedleError } from "../errors.ts";
import { injectFaults } from "../files.ts";
import {
  encodeRecordInto,
  encodeRecordV1Into,
  encodeSegmentHeader,
  paddedRecordBytes,
  parseSegmentFileName,
  recordHeaderBytes,
  segmentFileName,
  segmentHeaderBytes,
  trimMarkerName,
} from "./format.ts";
import { groupCommitBytesMax, RequestLog, type RequestLogHooks, type RequestLogOptions } from "./mod.ts";
import { logSuite } from "./log.suite.ts";
import { payloadForLsn } from "./test-payload.ts";

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-log-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function openLog(options: RequestLogOptions, hooks?: RequestLogHooks): Promise<RequestLog> {
  return RequestLog.open(options, hooks);
}

async function readAll(log: RequestLog, afterLsn = 0n): Promise<{ lsn: bigint; payload: Uint8Array }[]> {
  const records: { lsn: bigint; payload: Uint8Array }[] = [];
  await log.replay(afterLsn, (lsn, payload) => {
    records.push({ lsn, payload: payload.slice() });
  });
  return records;
}

/** Appends LSNs lastLsn+1 .. lastLsn+count sequentially, each with payloadForLsn. */
async function appendSequential(log: RequestLog, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const expected = log.lastLsn + 1n;
    expect(await log.append(payloadForLsn(expected))).toBe(expected);
  }
}

function expectRecordsExactly(
  records: { lsn: bigint; payload: Uint8Array }[],
  fromLsn: bigint,
  toLsn: bigint,
) {
  expect(records.length).toBe(Number(toLsn - fromLsn + 1n));
  records.forEach((record, index) => {
    const lsn = fromLsn + BigInt(index);
    expect(record.lsn).toBe(lsn);
    expect(record.payload).toEqual(payloadForLsn(lsn));
  });
}

async function segmentPaths(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((name) => parseSegmentFileName(name) !== undefined)
    .sort()
    .map((name) => join(dir, name));
}

/** Byte offsets where each record of a segment starts (walks the file as the writer laid it out). */
function recordOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  let offset = segmentHeaderBytes;
  while (offset < bytes.byteLength) {
    offsets.push(offset);
    offset += paddedRecordBytes(view.getUint32(offset, true));
  }
  return offsets;
}

async function expectCorruption(promise: Promise<unknown>, file: string): Promise<NeedleError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(NeedleError);
  const needleError = error as NeedleError;
  expect(needleError.code).toBe("CORRUPTION");
  expect(needleError.file).toBe(file);
  expect(needleError.message).toContain(file);
  return needleError;
}

describe("RequestLog basics", () => {
  test("LSNs are consecutive from 1 and replay returns every payload in order", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    expect(log.lastLsn).toBe(0n);
    const lsns = await Promise.all(
      Array.from({ length: 25 }, (_, i) => log.append(payloadForLsn(BigInt(i + 1)))),
    );
    expect(lsns).toEqual(Array.from({ length: 25 }, (_, i) => BigInt(i + 1)));
    expect(log.lastLsn).toBe(25n);
    expectRecordsExactly(await readAll(log), 1n, 25n);
    expectRecordsExactly(await readAll(log, 10n), 11n, 25n);
    expect(await readAll(log, 25n)).toEqual([]);
    await log.close();
  });

  test("the caller may reuse its payload buffer as soon as append returns", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir: join(dir, "created", "on-open") });
    const shared = new Uint8Array(8).fill(1);
    const first = log.append(shared);
    shared.fill(2);
    const second = log.append(shared);
    expect(await Promise.all([first, second])).toEqual([1n, 2n]);
    expect((await readAll(log)).map((record) => record.payload[0])).toEqual([1, 2]);
    await log.close();
  });

  test("...also when it is a Buffer, whose slice() is a view (msgpackr answers Buffers)", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    const shared = Buffer.alloc(8, 1);
    const first = log.append(shared);
    shared.fill(2);
    const second = log.append(shared.subarray(0, 4));
    shared.fill(3);
    expect(await Promise.all([first, second])).toEqual([1n, 2n]);
    expect((await readAll(log)).map((record) => [...record.payload])).toEqual([
      [1, 1, 1, 1, 1, 1, 1, 1],
      [2, 2, 2, 2],
    ]);
    await log.close();
  });

  test("reopen keeps the records and continues numbering", async () => {
    const dir = await freshDir();
    const first = await openLog({ dir });
    await appendSequential(first, 7);
    await first.close();
    const second = await openLog({ dir });
    expect(second.lastLsn).toBe(7n);
    expect(second.stats().recoveredTruncatedBytes).toBe(0);
    await appendSequential(second, 3);
    expectRecordsExactly(await readAll(second), 1n, 10n);
    await second.close();
  });

  test("rejects empty payloads and appends after close", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    const empty = await log.append(new Uint8Array(0)).catch((error: unknown) => error);
    expect((empty as NeedleError).code).toBe("INVALID_ARGUMENT");
    await log.close();
    const closed = await log.append(new Uint8Array(1)).catch((error: unknown) => error);
    expect((closed as NeedleError).code).toBe("UNAVAILABLE");
  });

  test("close waits for queued appends to become durable", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    const pending = Array.from({ length: 10 }, (_, i) => log.append(payloadForLsn(BigInt(i + 1))));
    await log.close();
    expect(await Promise.all(pending)).toHaveLength(10);
    const reopened = await openLog({ dir });
    expectRecordsExactly(await readAll(reopened), 1n, 10n);
    await reopened.close();
  });
});

describe("group commit", () => {
  test("appends made in one tick share one fsync", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(payloadForLsn(BigInt(i + 1)))));
    expect(log.stats().batchSyncs).toBe(1);
    expect(log.stats().appendedRecords).toBe(50);
    await log.close();
  });

  test("appends arriving while an fsync is in flight are written together with one fsync", async () => {
    const dir = await freshDir();
    let releaseFirstSync: () => void = () => undefined;
    let firstSyncReached: () => void = () => undefined;
    const firstSyncStarted = new Promise<void>((resolve) => {
      firstSyncReached = resolve;
    });
    const firstSyncGate = new Promise<void>((resolve) => {
      releaseFirstSync = resolve;
    });
    let syncs = 0;
    const log = await openLog(
      { dir },
      {
        beforeSync: async () => {
          syncs += 1;
          if (syncs === 1) {
            firstSyncReached();
            await firstSyncGate;
          }
        },
      },
    );
    const first = log.append(payloadForLsn(1n));
    await firstSyncStarted;
    const later = Array.from({ length: 30 }, (_, i) => log.append(payloadForLsn(BigInt(i + 2))));
    expect(log.lastLsn).toBe(0n); // nothing acknowledged while the first fsync is held
    releaseFirstSync();
    expect(await first).toBe(1n);
    expect(await Promise.all(later)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 2)));
    expect(log.stats().batchSyncs).toBe(2);
    expect(syncs).toBe(2);
    expectRecordsExactly(await readAll(log), 1n, 31n);
    await log.close();
  });

  test("a batch is split at groupCommitBytesMax", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    const bigBytes = Math.floor(groupCommitBytesMax * 0.6);
    const payloads = [1, 2, 3].map((fill) => new Uint8Array(bigBytes).fill(fill));
    await Promise.all(payloads.map((payload) => log.append(payload)));
    expect(log.stats().batchSyncs).toBe(3);
    const records = await readAll(log);
    expect(records.map((record) => record.payload[0])).toEqual([1, 2, 3]);
    await log.close();
  });

  test("a failed fsync fails the waiting appends and every later one; the failed batch is cut off", async () => {
    const dir = await freshDir();
    let syncs = 0;
    const log = await openLog(
      { dir },
      {
        beforeSync: () => {
          syncs += 1;
          if (syncs === 3) throw new Error("injected EIO");
        },
      },
    );
    await appendSequential(log, 2);
    const failing = [log.append(payloadForLsn(3n)), log.append(payloadForLsn(4n))];
    for (const outcome of await Promise.allSettled(failing)) {
      expect(outcome.status).toBe("rejected");
      expect(((outcome as PromiseRejectedResult).reason as NeedleError).code).toBe("IO");
    }
    const later = await log.append(payloadForLsn(5n)).catch((error: unknown) => error);
    expect((later as NeedleError).code).toBe("IO");
    expect(log.lastLsn).toBe(2n);
    await log.close();
    // The failed batch reached the file (only its fsync "failed"), but its callers were told it
    // failed: it must not come back. The next append reuses its LSNs.
    const reopened = await openLog({ dir });
    expect(reopened.lastLsn).toBe(2n);
    expectRecordsExactly(await readAll(reopened), 1n, 2n);
    await appendSequential(reopened, 2);
    expectRecordsExactly(await readAll(reopened), 1n, 4n);
    await reopened.close();
  });

  test("when the failed batch cannot be cut off at once, the next open in the process cuts it", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    await appendSequential(log, 3);
    // The batch of LSN 4 is written, its fsync fails, and so does the truncate meant to remove it.
    const faults = injectFaults(
      { operation: "sync", path: dir, fault: "EIO" },
      { operation: "truncate", path: dir, fault: "EIO" },
    );
    try {
      const refused = await log.append(payloadForLsn(4n)).catch((error: unknown) => error);
      expect((refused as NeedleError).code).toBe("STORAGE_FAILED");
      expect(faults.failures).toBe(2);
    } finally {
      faults.remove();
    }
    await log.close();
    const segment = join(dir, segmentFileName(1n));
    const bytes = new Uint8Array(await readFile(segment));
    expect(recordOffsets(bytes).length).toBe(4); // the refused record is still in the file
    const reopened = await openLog({ dir });
    expect(reopened.lastLsn).toBe(3n);
    expectRecordsExactly(await readAll(reopened), 1n, 3n);
    await reopened.close();
  });
});

describe("segments", () => {
  test("rolls past segmentBytesMax, trims whole segments, and reopens after a trim", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir, segmentBytesMax: 2048 });
    await appendSequential(log, 60);
    const paths = await segmentPaths(dir);
    expect(paths.length).toBeGreaterThan(5);
    for (const path of paths.slice(0, -1)) {
      expect((await stat(path)).size).toBeGreaterThanOrEqual(2048);
      expect((await stat(path)).size).toBeLessThan(2048 + 720);
    }
    expectRecordsExactly(await readAll(log), 1n, 60n);

    await log.trimThrough(25n);
    const remaining = await segmentPaths(dir);
    const firsts = remaining.map((path) => parseSegmentFileName(path.slice(dir.length + 1))!);
    expect(firsts[0]! <= 26n).toBe(true); // LSN 26 is kept
    expect(firsts[1]! > 26n).toBe(true); // and everything wholly at or before 25 is gone
    expect(remaining.length).toBeLessThan(paths.length);
    expectRecordsExactly(await readAll(log, 25n), 26n, 60n);
    const trimmed = await log.replay(0n, () => undefined).catch((error: unknown) => error);
    expect((trimmed as NeedleError).code).toBe("FAILED_PRECONDITION");

    await log.trimThrough(60n); // never deletes the active segment
    expect((await segmentPaths(dir)).length).toBe(1);
    await log.close();
    const reopened = await openLog({ dir, segmentBytesMax: 2048 });
    expect(reopened.lastLsn).toBe(60n);
    await appendSequential(reopened, 5);
    const firstKept = parseSegmentFileName((await segmentPaths(dir))[0]!.slice(dir.length + 1))!;
    expectRecordsExactly(await readAll(reopened, firstKept - 1n), firstKept, 65n);
    await reopened.close();
  });

  test("a trim through every durable record rolls a big active segment away; LSNs go on after reopen", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    const big = new Uint8Array(64 * 1024).fill(7);
    for (let i = 0; i < 20; i++) await log.append(big); // 1.3 MB, one segment
    expect((await segmentPaths(dir)).length).toBe(1);
    await log.trimThrough(19n); // not every record: nothing rolls
    expect((await segmentPaths(dir)).length).toBe(1);
    // An append racing the roll waits for it and lands in the new segment.
    const [lsn] = await Promise.all([
      (async () => {
        await Bun.sleep(0);
        return log.append(Uint8Array.of(1));
      })(),
      log.trimThrough(20n),
    ]);
    expect(lsn).toBe(21n);
    const paths = await segmentPaths(dir);
    expect(paths.map((path) => parseSegmentFileName(path.slice(dir.length + 1)))).toEqual([21n]);
    expect((await stat(paths[0]!)).size).toBeLessThan(1024);
    await log.close();
    const reopened = await openLog({ dir });
    expect(reopened.lastLsn).toBe(21n);
    expect(await reopened.append(Uint8Array.of(2))).toBe(22n);
    expect((await readAll(reopened, 20n)).map((record) => [record.lsn, [...record.payload]])).toEqual([
      [21n, [1]],
      [22n, [2]],
    ]);
    await reopened.close();
    // A small active segment is not rolled (an idle log would roll at every trim).
    const small = await freshDir();
    const quiet = await openLog({ dir: small });
    await quiet.append(Uint8Array.of(3));
    await quiet.trimThrough(1n);
    expect(
      (await segmentPaths(small)).map((path) => parseSegmentFileName(path.slice(small.length + 1))),
    ).toEqual([1n]);
    await quiet.close();
  });

  test("a trim while a replay reads deletes nothing under it; a later trim catches up", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir, segmentBytesMax: 2048 });
    await appendSequential(log, 60);
    const before = await segmentPaths(dir);
    const seen: bigint[] = [];
    await log.replay(0n, async (lsn) => {
      seen.push(lsn);
      if (lsn === 2n) await log.trimThrough(50n); // from another actor, mid-replay
    });
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => BigInt(i + 1)));
    expect(await segmentPaths(dir)).toEqual(before);
    await log.trimThrough(50n);
    expect((await segmentPaths(dir)).length).toBeLessThan(before.length);
    await log.close();
  });

  test("an interrupted roll (short, headerless last segment) is removed", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir });
    await appendSequential(log, 4);
    await log.close();
    const interrupted = join(dir, segmentFileName(5n));
    await writeFile(interrupted, new Uint8Array([0x4e, 0x44, 0x4c]));
    const reopened = await openLog({ dir });
    expect(reopened.lastLsn).toBe(4n);
    expect(await segmentPaths(dir)).toEqual([join(dir, segmentFileName(1n))]);
    await appendSequential(reopened, 1);
    await reopened.close();
  });
});

describe("recovery of torn and corrupt logs", () => {
  /** A one-segment log with LSNs 1..count; returns its segment path and bytes. */
  async function oneSegmentLog(count: number): Promise<{ dir: string; path: string; bytes: Uint8Array }> {
    const dir = await freshDir();
    const log = await openLog({ dir });
    await appendSequential(log, count);
    await log.close();
    const path = join(dir, segmentFileName(1n));
    return { dir, path, bytes: new Uint8Array(await readFile(path)) };
  }

  test("a tail cut at every byte of the last records keeps exactly the whole records before the cut", async () => {
    const { dir, path, bytes } = await oneSegmentLog(6);
    const offsets = recordOffsets(bytes);
    expect(offsets.length).toBe(6);
    // Cut inside records 5 and 6 at every byte offset (record 4 ends where record 5 starts).
    for (let cut = offsets[4]!; cut < bytes.byteLength; cut++) {
      await writeFile(path, bytes.subarray(0, cut));
      const log = await openLog({ dir });
      const whole = offsets.filter((_start, index) => (offsets[index + 1] ?? bytes.byteLength) <= cut).length;
      expect(log.lastLsn).toBe(BigInt(whole));
      expect(log.stats().recoveredTruncatedBytes).toBe(cut - (offsets[whole] ?? bytes.byteLength));
      expectRecordsExactly(await readAll(log), 1n, BigInt(whole));
      // The log is writable right after the cut and the next record gets the next LSN.
      await appendSequential(log, 1);
      await log.close();
      const again = await openLog({ dir });
      expectRecordsExactly(await readAll(again), 1n, BigInt(whole + 1));
      await again.close();
    }
  });

  test("a flipped bit anywhere in the last segment: CORRUPTION when acknowledged records follow it", async () => {
    // The bit-flip matrix: one flipped bit at every byte of a one-segment log of 5 records, each
    // acknowledged before the next. Damage in the segment header or in any record before the
    // last is followed by valid log, so it must stop recovery naming the file; damage in the
    // last record is indistinguishable from a torn write and cuts that record only; padding is
    // not checked and changes nothing.
    const { dir, path, bytes } = await oneSegmentLog(5);
    const offsets = recordOffsets(bytes);
    const lastStart = offsets[4]!;
    const paddingStart = (start: number) =>
      start + recordHeaderBytes + new DataView(bytes.buffer).getUint32(start, true);
    const inPadding = (position: number) =>
      offsets.some(
        (start, index) =>
          position >= paddingStart(start) && position < (offsets[index + 1] ?? bytes.byteLength),
      );
    let corruptions = 0;
    let truncations = 0;
    for (let position = 0; position < bytes.byteLength; position++) {
      const damaged = bytes.slice();
      damaged[position]! ^= 1 << (position % 8);
      await writeFile(path, damaged);
      if (inPadding(position)) {
        const log = await openLog({ dir });
        expect(log.lastLsn).toBe(5n);
        await log.close();
      } else if (position < lastStart) {
        const error = await expectCorruption(openLog({ dir }), path);
        if (position >= segmentHeaderBytes) expect(error.message).toContain("follows at byte");
        corruptions++;
      } else {
        const log = await openLog({ dir });
        expect(log.lastLsn).toBe(4n);
        expectRecordsExactly(await readAll(log), 1n, 4n);
        await log.close();
        expect((await stat(path)).size).toBe(lastStart);
        truncations++;
      }
    }
    expect(corruptions).toBeGreaterThan(100);
    expect(truncations).toBeGreaterThan(5);
  });

  test("a flipped byte in a middle record of a non-last segment is CORRUPTION naming the file", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir, segmentBytesMax: 2048 });
    await appendSequential(log, 40);
    await log.close();
    const paths = await segmentPaths(dir);
    expect(paths.length).toBeGreaterThan(2);
    const victim = paths[1]!;
    const bytes = new Uint8Array(await readFile(victim));
    const offsets = recordOffsets(bytes);
    const middle = offsets[Math.floor(offsets.length / 2)]!;
    bytes[middle + 20]! ^= 0x01;
    await writeFile(victim, bytes);
    const error = await expectCorruption(openLog({ dir, segmentBytesMax: 2048 }), victim);
    expect(error.message).toContain(`byte ${middle}`);
    // Nothing was truncated or deleted.
    expect((await stat(victim)).size).toBe(bytes.byteLength);
    expect(await segmentPaths(dir)).toEqual(paths);
  });

  test("a short non-last segment and a damaged segment header are CORRUPTION", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir, segmentBytesMax: 2048 });
    await appendSequential(log, 40);
    await log.close();
    const paths = await segmentPaths(dir);
    const original = new Uint8Array(await readFile(paths[0]!));
    await truncate(paths[0]!, original.byteLength - 3);
    await expectCorruption(openLog({ dir }), paths[0]!);
    await writeFile(paths[0]!, original);

    const header = new Uint8Array(await readFile(paths[1]!));
    header[17]! ^= 0x01; // a byte of the first LSN
    await writeFile(paths[1]!, header);
    const error = await expectCorruption(openLog({ dir }), paths[1]!);
    expect(error.message).toContain("header");
  });

  test("a torn large record whose payload spells valid records is cut off, not called corruption", async () => {
    // A client controls the bytes of its vectors: a 4 MiB payload can hold byte sequences that
    // are valid log records with the very LSNs that would come next. A crash that tears this
    // record must still be a torn tail: nothing inside a record's extent is read as records.
    const dir = await freshDir();
    const log = await openLog({ dir });
    await appendSequential(log, 3);
    const payload = new Uint8Array(4 * 1024 * 1024);
    for (let at = 64 * 1024; at + 4096 < payload.byteLength; at += 64 * 1024) {
      let offset = at;
      for (let lsn = 5n; lsn < 9n; lsn++) offset = encodeRecordInto(payload, offset, lsn, payloadForLsn(lsn));
    }
    expect(await log.append(payload)).toBe(4n);
    await log.close();
    const path = join(dir, segmentFileName(1n));
    const bytes = new Uint8Array(await readFile(path));
    const bigStart = recordOffsets(bytes)[3]!;
    for (const cut of [bigStart + recordHeaderBytes + 100, bigStart + 3_500_000, bytes.byteLength - 1]) {
      await writeFile(path, bytes.subarray(0, cut));
      const reopened = await openLog({ dir });
      expect(reopened.lastLsn).toBe(3n);
      expect(reopened.stats().recoveredTruncatedBytes).toBe(cut - bigStart);
      expectRecordsExactly(await readAll(reopened), 1n, 3n);
      await reopened.close();
    }
  });

  test("a missing first segment is CORRUPTION naming the lost LSNs; a trimmed one is not", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir, segmentBytesMax: 2048 });
    await appendSequential(log, 40);
    await log.trimThrough(8n);
    await log.close();
    const kept = await segmentPaths(dir);
    const reopened = await openLog({ dir, segmentBytesMax: 2048 });
    expect(reopened.lastLsn).toBe(40n);
    await reopened.close();
    // Now a segment the trim did not remove goes missing.
    const firstKept = parseSegmentFileName(kept[0]!.slice(dir.length + 1))!;
    const nextFirst = parseSegmentFileName(kept[1]!.slice(dir.length + 1))!;
    await rm(kept[0]!);
    const error = await expectCorruption(openLog({ dir, segmentBytesMax: 2048 }), kept[1]!);
    expect(error.message).toContain(`LSNs ${firstKept}-${nextFirst - 1n} are missing`);
  });

  test("a log written before trim markers opens and gets one", async () => {
    const dir = await freshDir();
    const log = await openLog({ dir, segmentBytesMax: 2048 });
    await appendSequential(log, 40);
    await log.trimThrough(8n);
    await log.close();
    await rm(join(dir, trimMarkerName));
    const reopened = await openLog({ dir, segmentBytesMax: 2048 });
    expect(reopened.lastLsn).toBe(40n);
    await reopened.close();
    expect((await readdir(dir)).includes(trimMarkerName)).toBe(true);
  });

  test("segments in the version 1 record layout are read, and appends go to a new segment", async () => {
    const dir = await freshDir();
    // A log as an older Needle wrote it: one version 1 segment holding LSNs 1-3.
    const header = encodeSegmentHeader(1n);
    const view = new DataView(header.buffer);
    view.setUint32(8, 1, true);
    view.setUint32(24, Bun.hash.crc32(header.subarray(0, 24)), true);
    const body = new Uint8Array(4096);
    let end = 0;
    for (let lsn = 1n; lsn <= 3n; lsn++) end = encodeRecordV1Into(body, end, lsn, payloadForLsn(lsn));
    await writeFile(join(dir, segmentFileName(1n)), Buffer.concat([header, body.subarray(0, end)]));
    const log = await openLog({ dir });
    expect(log.lastLsn).toBe(3n);
    await appendSequential(log, 2);
    expectRecordsExactly(await readAll(log), 1n, 5n);
    await log.close();
    expect((await segmentPaths(dir)).map((path) => path.slice(dir.length + 1))).toEqual([
      segmentFileName(1n),
      segmentFileName(4n),
    ]);
    const reopened = await openLog({ dir });
    expectRecordsExactly(await readAll(reopened), 1n, 5n);
    await reopened.close();
  });
});

logSuite("RequestLog", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-log-suite-"));
  return { open: () => RequestLog.open({ dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
});
