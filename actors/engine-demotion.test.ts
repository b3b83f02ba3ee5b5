/**
 * Slabs over the executor's budget keep their index portion and give back their raw rows
 * (actors/DESIGN.md decision 27): a budget that fits one mapped slab plus every slab's index
 * portion demotes all but the slab opened last. Queries over demoted slabs then read only the
 * rows their IVF partitions and int8 stage (or a selective filter) chose, from the file, with
 * no mapping, and say `cold` with the rows fetched; a query that needs every row (a flat slab)
 * streams them from the file in bounded chunks. Every answer, values and metadata included, equals the answer of the
 * same engine files opened with the default budget (everything mapped), which the ANN tests
 * hold against float64 ground truth.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gaussian } from "../ffi/seeded-random.ts";
import { observeFileOperations } from "../storage/files.ts";
import { SlabReader } from "../storage/slab/mod.ts";
import { parseFilter } from "../storage/filter/mod.ts";
import type { VectorRecord } from "../storage/types.ts";
import type { EngineOptions, QueryRequest, QueryResult } from "./api.ts";
import { openEngine } from "./mod.ts";
import { seededRandom } from "./testing/reference.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? 20261204);
const dim = 32;
const indexedRows = 5_200;
// Large enough that two flat slabs' raw rows outweigh an indexed one's: the budget below then
// fits exactly one mapped slab, whichever it is.
const flatRows = 4_000;
let dir: string;
let centers: Float32Array[];
const random = seededRandom(seed);

function records(prefix: string, count: number): VectorRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const cluster = i % centers.length;
    const values = Float32Array.from(centers[cluster]!, (c) => c + gaussian(random));
    return { id: `${prefix}${i}`, values, metadata: { cluster, tag: `t${i % 7}` } };
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-demotion-"));
  centers = Array.from({ length: 30 }, () => Float32Array.from({ length: dim }, () => gaussian(random) * 3));
  const engine = await openEngine({
    dir,
    flushRowsMax: 1_500,
    packedRowsMax: 0,
    compaction: { l0MergeTrigger: 4, indexRowsMin: 5_000 },
    log: () => {},
  });
  await engine.createIndex({ name: "d", dimension: dim, metric: "cosine", vectorType: "dense" });
  for (const ns of ["a", "b"]) {
    const batch = records(ns, indexedRows);
    for (let start = 0; start < batch.length; start += 1_000)
      await engine.upsert("d", ns, batch.slice(start, start + 1_000));
  }
  // Wait until both indexed namespaces sit in one IVF slab each.
  for (;;) {
    await engine.compactionSettled();
    const levels = (await engine.describeIndexStats("d")).compaction!.levels;
    if (levels.length === 1 && levels[0]!.level === 1 && levels[0]!.liveRows === 2 * indexedRows) break;
    await Bun.sleep(20);
  }
  await engine.close();
  const flat = await openEngine({
    dir,
    flushRowsMax: 10_000,
    packedRowsMax: 0,
    compaction: { paused: true },
    log: () => {},
  });
  for (const ns of ["f", "g"]) await flat.upsert("d", ns, records(ns, flatRows));
  await flat.close(); // f and g flush into one flat level-0 slab each
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function slabsDir(): string {
  return join(dir, "indexes", "d", "slabs");
}

async function slabFiles(): Promise<SlabReader[]> {
  const names = (await readdir(slabsDir())).filter((name) => name.endsWith(".slab"));
  return names.map((name) => SlabReader.openFile(join(slabsDir(), name)));
}

const settings = (extra: Partial<EngineOptions>): EngineOptions => ({
  dir,
  packedRowsMax: 0,
  compaction: { paused: true },
  log: () => {},
  ...extra,
});

const queries: { ns: string; request: QueryRequest }[] = [];
function queryFor(_ns: string, i: number, filter?: Record<string, unknown>): QueryRequest {
  const center = centers[i % centers.length]!;
  return {
    vector: Float32Array.from(center, (c) => c + gaussian(random) * 0.5),
    topK: 10,
    includeValues: true,
    includeMetadata: true,
    explain: true,
    ...(filter === undefined ? {} : { filter: parseFilter(filter) }),
  };
}

function comparable(result: QueryResult) {
  return result.matches.map(({ id, score, values, metadata }) => ({ id, score, values, metadata }));
}

function counting(operation: string, work: () => Promise<void>): Promise<number> {
  let count = 0;
  const stop = observeFileOperations((seen, path) => {
    if (seen === operation && path.startsWith(slabsDir())) count++;
  });
  return work()
    .then(() => count)
    .finally(stop);
}

test("demoted slabs answer exactly as mapped ones, reading only the rows they score", async () => {
  for (const ns of ["a", "b"]) {
    for (let i = 0; i < 8; i++) queries.push({ ns, request: queryFor(ns, i) });
    // A selective filter (one cluster and one tag: about 1/210 of the rows) scores its rows exactly.
    for (let i = 0; i < 4; i++) queries.push({ ns, request: queryFor(ns, i, { cluster: i, tag: "t3" }) });
    // A broad one stays on the IVF path.
    queries.push({ ns, request: queryFor(ns, 3, { tag: { $ne: "t1" } }) });
  }
  const flat = queryFor("f", 5);
  const baseline = await openEngine(settings({}));
  const expected: QueryResult[] = [];
  let flatExpected: QueryResult;
  try {
    for (const { ns, request } of queries) expected.push(await baseline.query("d", ns, request));
    flatExpected = await baseline.query("d", "f", flat);
  } finally {
    await baseline.close();
  }

  const readers = await slabFiles();
  expect(readers.length).toBe(4);
  const raws = readers
    .map((reader) => reader.info.byteLength - reader.indexPortionBytes)
    .sort((a, b) => a - b);
  const indexPortions = readers.reduce((sum, reader) => sum + reader.indexPortionBytes, 0);
  for (const reader of readers) reader.close();
  // Index portions are the smaller part of a slab (32-d: ids, codes, norms against floats and metadata).
  expect(indexPortions).toBeLessThan(raws.reduce((sum, bytes) => sum + bytes, 0));
  // Every index portion and one slab's raw rows fit; any two slabs' raw rows do not.
  const budget = indexPortions + raws[3]! + 1024;
  expect(budget).toBeLessThan(indexPortions + raws[0]! + raws[1]!);
  const engine = await openEngine(settings({ slabMemoryBudgetBytes: budget, demotedReadBytes: 64 * 1024 }));
  try {
    // Open every slab: each opening demotes the ones before it.
    for (const ns of ["a", "b", "f", "g"]) await engine.query("d", ns, queryFor(ns, 0));
    let memory = (await engine.observe()).slabMemory!;
    for (let waited = 0; memory.demotedSlabs < 3; waited += 10) {
      expect(waited).toBeLessThan(5_000);
      await Bun.sleep(10);
      memory = (await engine.observe()).slabMemory!;
    }
    expect(memory).toMatchObject({ openSlabs: 4, demotedSlabs: 3, budgetBytes: budget, evictions: 0 });
    expect(memory.openBytes).toBeLessThanOrEqual(budget);

    let fetchedMax = 0;
    const strategies = new Set<string>();
    const mapped = await counting("mmap", async () => {
      for (const [i, { ns, request }] of queries.entries()) {
        const answer = await engine.query("d", ns, request);
        expect(comparable(answer)).toEqual(comparable(expected[i]!));
        expect(answer.cold).toBe(true);
        const source = answer.explain!.sources.find((s) => s.source !== "memtable")!;
        expect(source.cold).toBe(true);
        expect(source.rowsFetched).toBeGreaterThan(0);
        expect(source.rowsFetched).toBe(source.rowsScored);
        fetchedMax = Math.max(fetchedMax, source.rowsFetched!);
        strategies.add(`${source.strategy}${source.rowsEstimated > 0 ? "+int8" : ""}`);
      }
    });
    expect(mapped).toBe(0); // no demoted slab was mapped again
    // Both ways a demoted slab reads rows: the IVF partitions' int8 candidates, and a selective filter's rows.
    expect([...strategies].sort()).toEqual(["ivf+int8", "prefilter"]);
    expect(fetchedMax).toBeLessThan(indexedRows / 4);

    // A flat slab's unfiltered query scores every row: a demoted one streams them from its
    // file in chunks (here 64 KiB: 512 rows of 32 floats) and is not mapped again.
    let streamed: QueryResult | undefined;
    const remapped = await counting("mmap", async () => {
      streamed = await engine.query("d", "f", flat);
    });
    expect(remapped).toBe(0);
    const source = streamed!.explain!.sources.find((s) => s.source !== "memtable")!;
    expect(source.cold).toBe(true);
    expect(source.rowsFetched).toBe(flatRows);
    expect(comparable(streamed!)).toEqual(comparable(flatExpected));
    memory = (await engine.observe()).slabMemory!;
    expect(memory).toMatchObject({ demotedSlabs: 3, evictions: 0 });
    expect(memory.openBytes).toBeLessThanOrEqual(budget);
  } finally {
    await engine.close();
  }
}, 60_000);
