/**
 * Recall of indexed slabs (storage/compaction/DESIGN.md, steps 4-5), through the engine: a
 * namespace of clustered vectors is flushed into level-0 slabs and compacted into one IVF slab,
 * then queried in distribution (near stored rows) and out of it (uniform noise), unfiltered and
 * under filters from 0.1 % to 50 % of the rows, correlated with the clusters and against them.
 * Ground truth is an independent float64 brute force over the same records (testing/reference.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFilter } from "../storage/filter/mod.ts";
import { SlabReader } from "../storage/slab/mod.ts";
import type { Metric, VectorRecord } from "../storage/types.ts";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";
import { gaussian } from "../ffi/seeded-random.ts";
import { ReferenceNamespace, seededRandom } from "./testing/reference.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? 20261204);
const rows = 12_000;
const dim = 24;
const clusters = 40;
const metrics: Metric[] = ["cosine", "euclidean", "dotproduct"];

interface Fixture {
  engine: Engine;
  model: ReferenceNamespace;
  centers: Float32Array[];
  dir: string;
}

const fixtures = new Map<Metric, Fixture>();

function dataset(random: () => number) {
  const centers = Array.from({ length: clusters }, () =>
    Float32Array.from({ length: dim }, () => gaussian(random) * 3),
  );
  const records: VectorRecord[] = Array.from({ length: rows }, (_, i) => {
    const cluster = Math.floor(random() * clusters);
    const values = Float32Array.from(centers[cluster]!, (c) => c + gaussian(random));
    // `cluster` follows the vectors; `bucket` (0..999) does not.
    return { id: `r${i}`, values, metadata: { cluster, bucket: Math.floor(random() * 1000) } };
  });
  return { centers, records };
}

beforeAll(async () => {
  for (const metric of metrics) {
    const random = seededRandom(seed + metrics.indexOf(metric));
    const { centers, records } = dataset(random);
    const dir = await mkdtemp(join(tmpdir(), `needle-ann-${metric}-`));
    const engine = await openEngine({
      dir,
      flushRowsMax: 3_000,
      compaction: { l0MergeTrigger: 4, indexRowsMin: 5_000 },
      log: () => {},
    });
    await engine.createIndex({ name: "ann", dimension: dim, metric, vectorType: "dense" });
    for (let start = 0; start < rows; start += 1_000) {
      await engine.upsert("ann", "ns", records.slice(start, start + 1_000));
    }
    const model = new ReferenceNamespace();
    model.upsert(records);
    // Wait until every row sits in one compacted (indexed) slab.
    for (;;) {
      await engine.compactionSettled();
      const levels = (await engine.describeIndexStats("ann")).compaction!.levels;
      if (levels.length === 1 && levels[0]!.level === 1 && levels[0]!.liveRows === rows) break;
      await Bun.sleep(20);
    }
    fixtures.set(metric, { engine, model, centers, dir });
  }
}, 120_000);

afterAll(async () => {
  for (const { engine, dir } of fixtures.values()) {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/** Mean recall@10 of the engine's answers against the float64 brute force. */
async function recall(
  fixture: Fixture,
  metric: Metric,
  queries: Float32Array[],
  filter?: { raw: object; accept: (metadata: { cluster: number; bucket: number }) => boolean },
  searchEffort?: number,
): Promise<number> {
  let found = 0;
  let expected = 0;
  for (const vector of queries) {
    const result = await fixture.engine.query("ann", "ns", {
      vector,
      topK: 10,
      includeValues: false,
      includeMetadata: false,
      filter: filter ? parseFilter(filter.raw) : undefined,
      searchEffort,
    });
    const truth = fixture.model.topK(metric, 10, { vector }, (record) =>
      filter ? filter.accept(record.metadata as { cluster: number; bucket: number }) : true,
    );
    const got = new Set(result.matches.map((match) => match.id));
    found += truth.filter(([id]) => got.has(id)).length;
    expected += truth.length;
  }
  return expected === 0 ? 1 : found / expected;
}

function inDistribution(fixture: Fixture, random: () => number, count: number): Float32Array[] {
  const records = [...fixture.model.records.values()];
  return Array.from({ length: count }, () => {
    const base = records[Math.floor(random() * records.length)]!.values!;
    return Float32Array.from(base, (x) => x + gaussian(random) * 0.5);
  });
}

function outOfDistribution(random: () => number, count: number): Float32Array[] {
  return Array.from({ length: count }, () =>
    Float32Array.from({ length: dim }, () => (random() * 2 - 1) * 6),
  );
}

describe.each(metrics)("IVF recall (%s)", (metric) => {
  test("the namespace is one indexed slab whose calibrated search probes a fraction of it", async () => {
    const fixture = fixtures.get(metric)!;
    const slabs = new Bun.Glob("indexes/ann/slabs/*.slab").scanSync({ cwd: fixture.dir });
    const readers = [...slabs].map((path) => SlabReader.openFile(join(fixture.dir, path)));
    try {
      const indexed = readers.filter((reader) => reader.info.level === 1);
      expect(indexed.length).toBe(1);
      const index = indexed[0]!.vectorIndex!;
      console.log(
        `ivf ${metric}: ${index.partitionCount} partitions, ${index.probes} probed by default (calibrated recall ${index.recallInDistribution.toFixed(3)} / ${index.recallOutOfDistribution.toFixed(3)}), int8 rescoring ${index.rescoreFactor} x k`,
      );
      expect(index.partitionCount).toBeGreaterThan(100);
      expect(index.probes).toBeLessThan(index.partitionCount / 3);
      expect(index.recallInDistribution).toBeGreaterThanOrEqual(0.98);
      expect(index.recallOutOfDistribution).toBeGreaterThanOrEqual(0.98);
    } finally {
      for (const reader of readers) reader.close();
    }
  });

  test("recall@10 >= 0.95 in and out of distribution, unfiltered", async () => {
    const fixture = fixtures.get(metric)!;
    const random = seededRandom(seed + 100);
    const inside = await recall(fixture, metric, inDistribution(fixture, random, 60));
    const outside = await recall(fixture, metric, outOfDistribution(random, 60));
    console.log(`ivf ${metric}: recall@10 in distribution ${inside.toFixed(3)}, out ${outside.toFixed(3)}`);
    expect(inside).toBeGreaterThanOrEqual(0.95);
    expect(outside).toBeGreaterThanOrEqual(0.95);
  });

  test("searchEffort trades recall for work: 0.1 finds fewer true neighbours, 100 finds all", async () => {
    const fixture = fixtures.get(metric)!;
    const queries = outOfDistribution(seededRandom(seed + 300), 40);
    const low = await recall(fixture, metric, queries, undefined, 0.1);
    const normal = await recall(fixture, metric, queries);
    const exhaustive = await recall(fixture, metric, queries, undefined, 100);
    console.log(
      `ivf ${metric}: recall@10 at effort 0.1 ${low.toFixed(3)}, 1 ${normal.toFixed(3)}, 100 ${exhaustive.toFixed(3)}`,
    );
    expect(low).toBeLessThan(normal);
    expect(exhaustive).toBe(1);
  });

  test("explain names each source's index and strategy: ivf unfiltered, prefilter under a selective filter", async () => {
    const fixture = fixtures.get(metric)!;
    const vector = inDistribution(fixture, seededRandom(seed + 400), 1)[0]!;
    const ask = async (filter?: object) =>
      (
        await fixture.engine.query("ann", "ns", {
          vector,
          topK: 10,
          includeValues: false,
          includeMetadata: false,
          filter: filter ? parseFilter(filter) : undefined,
          explain: true,
        })
      ).explain!;
    const plain = await ask();
    const slab = plain.sources.find((source) => source.source !== "memtable")!;
    expect(slab).toMatchObject({ level: 1, index: "ivf", strategy: "ivf" });
    expect(slab.partitionsProbed).toBeGreaterThan(0);
    expect(slab.partitionsProbed).toBeLessThan(slab.partitions);
    expect(slab.rowsScored).toBeLessThan(rows / 3);
    // The int8 stage ranked the probed rows and only the best were scored exactly.
    expect(slab.rowsEstimated).toBeGreaterThan(slab.rowsScored);
    expect(slab.rowsScored).toBeGreaterThanOrEqual(10);
    expect(plain.sources.filter((source) => source.source === "memtable")).toEqual([
      expect.objectContaining({ level: -1, index: "flat", strategy: "exact", rowsScored: 0 }),
    ]);
    // 0.1 % of the rows match: all of them are scored exactly, no partition probed.
    const selective = (await ask({ bucket: { $lt: 1 } })).sources.find(
      (source) => source.source !== "memtable",
    )!;
    expect(selective).toMatchObject({ index: "ivf", strategy: "prefilter", partitionsProbed: 0 });
    const matching = [...fixture.model.records.values()].filter(
      (record) => (record.metadata as { bucket: number }).bucket < 1,
    ).length;
    expect(selective.rowsScored).toBe(matching);
    // Without explain, none.
    const quiet = await fixture.engine.query("ann", "ns", {
      vector,
      topK: 10,
      includeValues: false,
      includeMetadata: false,
    });
    expect(quiet.explain).toBeUndefined();
  });

  test("recall@10 >= 0.90 under filters from 0.1 % to 50 %, with and against the clusters", async () => {
    const fixture = fixtures.get(metric)!;
    const random = seededRandom(seed + 200);
    const queries = inDistribution(fixture, random, 25);
    const filters = [
      { name: "0.1 % random", raw: { bucket: { $lt: 1 } }, accept: (m: { bucket: number }) => m.bucket < 1 },
      { name: "1 % random", raw: { bucket: { $lt: 10 } }, accept: (m: { bucket: number }) => m.bucket < 10 },
      {
        name: "10 % random",
        raw: { bucket: { $lt: 100 } },
        accept: (m: { bucket: number }) => m.bucket < 100,
      },
      {
        name: "50 % random",
        raw: { bucket: { $lt: 500 } },
        accept: (m: { bucket: number }) => m.bucket < 500,
      },
      // A quarter of the clusters: the query's own cluster is usually not among them, so the
      // nearest eligible rows sit in partitions far from it.
      {
        name: "25 % of the clusters (mostly anti-correlated)",
        raw: { cluster: { $lt: clusters / 4 } },
        accept: (m: { cluster: number }) => m.cluster < clusters / 4,
      },
      {
        name: "2.5 % (one cluster)",
        raw: { cluster: { $eq: 7 } },
        accept: (m: { cluster: number }) => m.cluster === 7,
      },
    ];
    for (const filter of filters) {
      const measured = await recall(fixture, metric, queries, filter);
      console.log(`ivf ${metric}: recall@10 with ${filter.name}: ${measured.toFixed(3)}`);
      expect({ filter: filter.name, ok: measured >= 0.9 }).toEqual({ filter: filter.name, ok: true });
    }
  });
});
