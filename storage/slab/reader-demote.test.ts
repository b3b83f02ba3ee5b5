/**
 * A demoted reader (SlabReader.demote) keeps the index portion in memory and reads float32
 * rows, sparse values and metadata from the file by position: everything it answers equals
 * what the mapped reader of the same file answers, it no longer maps anything, and what it
 * holds is the index portion only.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NeedleError } from "../errors.ts";
import { injectFaults, observeFileOperations } from "../files.ts";
import { encodeSlab } from "./encode.ts";
import { SlabReader } from "./reader.ts";
import { randomInt, randomRecords, seededRandom } from "./testing.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? 20261204);
console.log(`demoted slab reader tests: seed ${seed} (set NEEDLE_TEST_SEED to replay)`);
const directory = mkdtempSync(join(tmpdir(), "needle-slab-demote-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function writeSlab(name: string, dim: number, rows: number, random: () => number): string {
  const records = randomRecords(random, { rows, dim, sparse: "some", metadata: "some" });
  const bytes = encodeSlab({
    slabId: name,
    namespace: "ns",
    level: 1,
    dim,
    metric: "cosine",
    records,
    minLsn: 1n,
    maxLsn: 2n,
    sourceSlabs: [],
    createdAt: 0,
  });
  const path = join(directory, `${name}.slab`);
  writeFileSync(path, bytes);
  return path;
}

function counting(operation: string, path: string, work: () => void): number {
  let count = 0;
  const stop = observeFileOperations((seen, at) => {
    if (seen === operation && at === path) count++;
  });
  try {
    work();
  } finally {
    stop();
  }
  return count;
}

for (const dim of [0, 1, 7, 64]) {
  test(`dim ${dim}: a demoted reader answers every row as the mapped one, by positional reads`, () => {
    const random = seededRandom(seed + dim);
    const path = writeSlab(`d${dim}`, dim, 300, random);
    const mapped = SlabReader.openFile(path);
    const demoted = SlabReader.openFile(path);
    const mappedBytes = demoted.residentBytes;
    expect(mappedBytes).toBe(demoted.info.byteLength);
    demoted.demote();
    demoted.demote(); // idempotent
    expect(demoted.demoted).toBe(true);
    expect(demoted.residentBytes).toBe(mapped.indexPortionBytes);
    expect(demoted.residentBytes).toBeLessThan(mappedBytes);

    const rows = mapped.info.rowCount;
    const all = { values: true, metadata: true };
    let reads = 0;
    const maps = counting("mmap", path, () => {
      reads = counting("read", path, () => {
        for (let row = 0; row < rows; row++) {
          expect(demoted.id(row)).toBe(mapped.id(row));
          expect(demoted.rowOf(mapped.id(row))).toBe(row);
          expect(demoted.values(row)).toEqual(mapped.values(row));
          expect(demoted.sparseValues(row)).toEqual(mapped.sparseValues(row));
          expect(demoted.metadata(row)).toEqual(mapped.metadata(row));
        }
        // Batches in any order, with repeats, as the namespace asks for its final top k.
        const asked = Array.from({ length: 40 }, () => randomInt(random, rows));
        expect(demoted.records(asked, all)).toEqual(mapped.records(asked, all));
        expect(demoted.records(asked, { values: false, metadata: true })).toEqual(
          asked.map((row) => mapped.record(row, { values: false, metadata: true })),
        );
        if (dim > 0) {
          const chosen = Uint32Array.from(new Set(asked)).sort();
          expect(demoted.rowVectors(chosen)).toEqual(mapped.rowVectors(chosen));
        }
      });
    });
    expect(maps).toBe(0);
    if (dim > 0) expect(reads).toBeGreaterThan(0);
    expect(Array.from(demoted.inverseNorms)).toEqual(Array.from(mapped.inverseNorms));
    expect(Array.from(demoted.int8Codes)).toEqual(Array.from(mapped.int8Codes));
    expect(Array.from(demoted.idsFrom(""))).toEqual(Array.from(mapped.idsFrom("")));
    expect(demoted.metadataIndexBytes).toEqual(mapped.metadataIndexBytes);

    // What a demoted reader no longer has is refused loudly, never answered from nothing.
    for (const use of [() => demoted.vectors, () => demoted.sparseColumns, () => demoted.touchPages()]) {
      try {
        use();
        throw new Error("expected a refusal");
      } catch (error) {
        expect(error).toBeInstanceOf(NeedleError);
        expect((error as NeedleError).code).toBe("INTERNAL");
      }
    }
    // Rows out of range are refused as before.
    expect(() => demoted.rowVectors([rows])).toThrow(/row out of range/);
  });
}

test("a failing read of a demoted slab is STORAGE_FAILED naming the file", () => {
  const path = writeSlab("faulty", 8, 50, seededRandom(seed));
  const reader = SlabReader.openFile(path);
  reader.demote();
  const faults = injectFaults({ operation: "read", path, fault: "EIO" });
  try {
    reader.values(3);
    throw new Error("expected a storage error");
  } catch (error) {
    expect(error).toBeInstanceOf(NeedleError);
    // EIO is the device failing: STORAGE_FAILED, as for every other file read (storage/fsync.ts).
    expect((error as NeedleError).code).toBe("STORAGE_FAILED");
    expect((error as NeedleError).message).toContain(path);
  } finally {
    faults.remove();
  }
  expect(reader.values(3)).toEqual(SlabReader.openFile(path).values(3));
});

test("a reader built from bytes cannot demote (it has no file to read from)", () => {
  const path = writeSlab("bytes", 4, 10, seededRandom(seed + 1));
  const reader = SlabReader.fromBytes(new Uint8Array(readFileSync(path)), "memory");
  expect(() => reader.demote()).toThrow(/only a slab opened from a file/);
});

test("a demoted slab whose file was deleted under it (its namespace deleted meanwhile) answers NOT_FOUND", () => {
  const path = writeSlab("deleted", 4, 10, seededRandom(seed + 2));
  const reader = SlabReader.openFile(path);
  const id = reader.id(1);
  reader.demote();
  rmSync(path);
  expect(reader.id(1)).toBe(id); // the index portion stays in memory
  expect(reader.rowOf(id)).toBe(1);
  try {
    reader.values(1);
    throw new Error("expected NOT_FOUND");
  } catch (error) {
    expect(error).toBeInstanceOf(NeedleError);
    expect((error as NeedleError).code).toBe("NOT_FOUND");
  }
});

test("the async reads of a demoted reader (rowVectorsAsync, recordsAsync) equal the mapped answers, one file read per call", async () => {
  const random = seededRandom(seed + 3);
  const path = writeSlab("async", 12, 200, random);
  const mapped = SlabReader.openFile(path);
  const demoted = SlabReader.openFile(path);
  demoted.demote();
  const asked = Array.from({ length: 30 }, () => randomInt(random, 200));
  const chosen = Uint32Array.from(new Set(asked)).sort();
  const all = { values: true, metadata: true };
  let records: Awaited<ReturnType<SlabReader["recordsAsync"]>> = [];
  let vectors: Float32Array = new Float32Array(0);
  // Each call opens the file once for all its ranges; nothing falls back to a blocking read.
  const reads = await (async () => {
    let count = 0;
    const stop = observeFileOperations((seen, at) => {
      if (seen === "read" && at === path) count++;
    });
    try {
      records = await demoted.recordsAsync(asked, all);
      vectors = await demoted.rowVectorsAsync(chosen);
    } finally {
      stop();
    }
    return count;
  })();
  expect(reads).toBe(2);
  expect(records).toEqual(mapped.records(asked, all));
  expect(vectors).toEqual(mapped.rowVectors(chosen));
  // Concurrent calls never see each other's bytes.
  const [first, second] = await Promise.all([
    demoted.recordsAsync(asked.slice(0, 10), all),
    demoted.recordsAsync(asked.slice(10), { values: false, metadata: true }),
  ]);
  expect(first).toEqual(mapped.records(asked.slice(0, 10), all));
  expect(second).toEqual(mapped.records(asked.slice(10), { values: false, metadata: true }));
});
