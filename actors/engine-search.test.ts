/**
 * Exact search end to end: data spread over the memtable, several L0 slabs, overwrites and
 * deletes; every answer checked against an independent float64 reference (testing/reference.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFilter } from "../storage/filter/mod.ts";
import type { Metric, VectorRecord } from "../storage/types.ts";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";
import {
  compareTopK,
  denseScore,
  randomSparse,
  randomVector,
  ReferenceNamespace,
  seededRandom,
} from "./testing/reference.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
console.log(`engine-search seed=${seed} (NEEDLE_TEST_SEED=${seed} replays)`);

const dirs: string[] = [];
async function freshEngine(flushRowsMax = 120): Promise<Engine> {
  const dir = await mkdtemp(join(tmpdir(), "needle-engine-"));
  dirs.push(dir);
  // Several L0 slabs per namespace are the point here: packing small namespaces is off.
  return openEngine({ dir, flushRowsMax, flushIdleMs: 60_000, packedRowsMax: 0, log: () => {} });
}

/** How many slab files the last engine's index holds: the data must really span several. */
async function slabFiles(index: string): Promise<number> {
  const names = await readdir(join(dirs[dirs.length - 1]!, "indexes", index, "slabs")).catch(() => []);
  return names.filter((name) => name.endsWith(".slab")).length;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const colors = ["red", "green", "blue", "black"];

function makeRecord(random: () => number, id: string, dim: number, sparse: boolean): VectorRecord {
  const record: VectorRecord = {
    id,
    values: randomVector(random, dim),
    metadata: { color: colors[Math.floor(random() * colors.length)]!, rank: Math.floor(random() * 100) },
  };
  if (sparse) record.sparseValues = randomSparse(random, 200, 1 + Math.floor(random() * 8));
  return record;
}

async function populate(engine: Engine, reference: ReferenceNamespace, metric: Metric, sparse: boolean) {
  const random = seededRandom(seed + metric.length);
  const dim = 17;
  await engine.createIndex({ name: `idx-${metric}`, dimension: dim, metric, vectorType: "dense" });
  const index = `idx-${metric}`;
  let next = 0;
  for (let batch = 0; batch < 12; batch++) {
    const records = Array.from({ length: 50 }, () => makeRecord(random, `v${next++}`, dim, sparse));
    await engine.upsert(index, "ns", records);
    reference.upsert(records);
  }
  // Overwrites land in the memtable and kill rows in older slabs.
  const overwrites = Array.from({ length: 120 }, () =>
    makeRecord(random, `v${Math.floor(random() * next)}`, dim, sparse),
  );
  for (let i = 0; i < overwrites.length; i += 40) {
    await engine.upsert(index, "ns", overwrites.slice(i, i + 40));
    reference.upsert(overwrites.slice(i, i + 40));
  }
  const deleted = Array.from({ length: 80 }, () => `v${Math.floor(random() * next)}`);
  await engine.delete(index, "ns", { ids: deleted });
  reference.delete(deleted);
  // Delete by filter: every black record of rank below 20.
  const filter = parseFilter({ color: "black", rank: { $lt: 20 } });
  await engine.delete(index, "ns", { filter });
  reference.delete(
    [...reference.records.values()]
      .filter((r) => r.metadata?.color === "black" && (r.metadata.rank as number) < 20)
      .map((r) => r.id),
  );
  return { index, dim, random };
}

describe("exact search matches a float64 reference", () => {
  for (const metric of ["cosine", "euclidean", "dotproduct"] as Metric[]) {
    test(`${metric}: memtable + L0 slabs + overwrites + deletes`, async () => {
      const engine = await freshEngine();
      const reference = new ReferenceNamespace();
      const { index, dim, random } = await populate(engine, reference, metric, false);
      const stats = await engine.describeIndexStats(index);
      expect(stats.totalVectorCount).toBe(reference.records.size);
      expect(await slabFiles(index)).toBeGreaterThanOrEqual(3);
      let boundPruned = 0;
      for (let q = 0; q < 25; q++) {
        const vector = randomVector(random, dim);
        const filtered = q % 2 === 1;
        const filter = filtered ? parseFilter({ color: { $in: ["red", "blue"] } }) : undefined;
        const result = await engine.query(index, "ns", {
          topK: 10,
          vector,
          filter,
          includeValues: false,
          includeMetadata: true,
          explain: true,
        });
        for (const source of result.explain!.sources) boundPruned += source.boundPruned;
        const expected = reference.topK(metric, 10, { vector }, (r) =>
          filtered ? r.metadata?.color === "red" || r.metadata?.color === "blue" : true,
        );
        const problem = compareTopK(
          result.matches,
          expected,
          (id) => denseScore(metric, vector, reference.records.get(id)!.values!),
          metric === "euclidean",
        );
        expect(problem).toBe("");
        if (filtered)
          for (const m of result.matches) expect(["red", "blue"]).toContain(m.metadata?.color as string);
      }
      // The shared top-k bound: later slabs dropped candidates that could not beat the best k
      // so far, and every answer above is still exact.
      expect(boundPruned).toBeGreaterThan(0);
      await engine.close();
    });
  }

  test("hybrid (dense + sparse dot product) over memtable and slabs", async () => {
    const engine = await freshEngine();
    const reference = new ReferenceNamespace();
    const { index, dim, random } = await populate(engine, reference, "dotproduct", true);
    for (let q = 0; q < 25; q++) {
      const vector = randomVector(random, dim);
      const sparse = randomSparse(random, 200, 6);
      const result = await engine.query(index, "ns", {
        topK: 10,
        vector,
        sparseVector: sparse,
        includeValues: false,
        includeMetadata: false,
      });
      const expected = reference.topK("dotproduct", 10, { vector, sparse });
      const scoreOf = (id: string) =>
        reference.topK("dotproduct", 1, { vector, sparse }, (r) => r.id === id)[0]![1];
      expect(compareTopK(result.matches, expected, scoreOf, false)).toBe("");
    }
    await engine.close();
  });

  test("sparse-only index returns only overlapping rows, best first", async () => {
    const engine = await freshEngine(60);
    const random = seededRandom(seed + 99);
    await engine.createIndex({ name: "sparse", metric: "dotproduct", vectorType: "sparse" });
    const reference = new ReferenceNamespace();
    for (let batch = 0; batch < 5; batch++) {
      const records = Array.from({ length: 40 }, (_, i) => ({
        id: `s${batch * 40 + i}`,
        sparseValues: randomSparse(random, 300, 1 + Math.floor(random() * 10)),
      }));
      await engine.upsert("sparse", "", records);
      reference.upsert(records);
    }
    for (let q = 0; q < 20; q++) {
      const sparse = randomSparse(random, 300, 5);
      const result = await engine.query("sparse", "__default__", {
        topK: 15,
        sparseVector: sparse,
        includeValues: true,
        includeMetadata: false,
      });
      const expected = reference.topK("dotproduct", 15, { sparse });
      const scoreOf = (id: string) => reference.topK("dotproduct", 1, { sparse }, (r) => r.id === id)[0]![1];
      expect(compareTopK(result.matches, expected, scoreOf, false)).toBe("");
      for (const match of result.matches) expect(match.sparseValues).toBeDefined();
    }
    await engine.close();
  });
});
