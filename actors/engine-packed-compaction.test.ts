/**
 * Packed-slab compaction (actors/index/packed-compaction.ts): tenants flushing at different
 * times leave many small packed files; once they are idle, the files merge into few, with
 * every tenant's records, flushed state and listing unchanged, queries exact while the merge
 * runs, and no file left that the catalog does not name.
 */
import { expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";
import { cosineTopKProblem, randomVector, ReferenceNamespace, seededRandom } from "./testing/reference.ts";
import { scratchDirs, testSeed } from "./testing/scratch.ts";

const seed = testSeed("engine-packed-compaction");
const scratchDir = scratchDirs("needle-packed-compaction");
const dim = 4;
const index = "churn";
const tenants = 300;

function open(dir: string): Promise<Engine> {
  return openEngine({ dir, flushIdleMs: 10, log: () => {} });
}

async function packedFilesOnDisk(dir: string): Promise<number> {
  const names = await readdir(join(dir, "indexes", index, "slabs"));
  return names.filter((name) => name.includes("pack")).length;
}

/** Waits (polling the actor count, bounded) until the idle sweep has passivated every namespace. */
async function untilIdle(engine: Engine): Promise<void> {
  for (let waited = 0; engine.activeActors("namespace") > 0 && waited < 200; waited++) await Bun.sleep(50);
  expect(engine.activeActors("namespace")).toBe(0);
}

async function expectExact(
  engine: Engine,
  model: ReferenceNamespace[],
  tenant: number,
  random: () => number,
) {
  const ns = model[tenant]!;
  const ids = [...ns.records.keys()].sort();
  const fetched = await engine.fetch(index, `t-${tenant}`, ids);
  expect(fetched.records.map((record) => record.id).sort()).toEqual(ids);
  for (const record of fetched.records) {
    expect(Array.from(record.values!)).toEqual(Array.from(ns.records.get(record.id)!.values!));
    expect(record.metadata).toEqual(ns.records.get(record.id)!.metadata);
  }
  const vector = randomVector(random, dim);
  const result = await engine.query(index, `t-${tenant}`, {
    topK: 3,
    vector,
    includeValues: false,
    includeMetadata: false,
  });
  expect(cosineTopKProblem(result.matches, ns, vector, 3)).toBe("");
}

test(`small packed files of churning tenants merge once they are idle (seed ${seed})`, async () => {
  const dir = await scratchDir();
  const random = seededRandom(seed);
  const model = Array.from({ length: tenants }, () => new ReferenceNamespace());
  let engine = await open(dir);
  await engine.createIndex({ name: index, dimension: dim, metric: "cosine", vectorType: "dense" });
  // Churn: rounds of a few dozen tenants each, apart enough for each round's idle flushes to
  // pack as a file of its own; some tenants write in many rounds, moving their runs each time.
  for (let round = 0; round < 12; round++) {
    const chosen = new Set(Array.from({ length: 40 }, () => Math.floor(random() * tenants)));
    if (round === 0) for (let tenant = 0; tenant < tenants; tenant++) chosen.add(tenant);
    await Promise.all(
      [...chosen].map(async (tenant) => {
        const records = Array.from({ length: 1 + Math.floor(random() * 2) }, () => ({
          id: `r${Math.floor(random() * 4)}`,
          values: randomVector(random, dim),
          metadata: { tenant, round },
        }));
        await engine.upsert(index, `t-${tenant}`, records);
        model[tenant]!.upsert(records);
      }),
    );
    await Bun.sleep(40);
  }
  await engine.close();

  // Reopened, every tenant is idle: the index merges the files it finds, while queries run.
  engine = await open(dir);
  const before = (await engine.describeIndexStats(index)).tenancy!;
  expect(before.packedFiles).toBeGreaterThan(3);
  for (let i = 0; i < 60; i++) {
    const tenant = Math.floor(random() * tenants);
    if (i % 4 === 0) {
      // A write: its flush (10 ms later) rewrites the tenant's run while the merge may run.
      const records = [{ id: `w${i}`, values: randomVector(random, dim), metadata: { tenant, round: -1 } }];
      await engine.upsert(index, `t-${tenant}`, records);
      model[tenant]!.upsert(records);
      await Bun.sleep(5);
    }
    await expectExact(engine, model, tenant, random);
  }
  // The tenants just read are resident and keep their runs (and files) until they are idle;
  // their passivations ask for another round.
  await untilIdle(engine);
  await engine.compactionSettled();
  const after = (await engine.describeIndexStats(index)).tenancy!;
  console.log(
    `engine-packed-compaction: ${before.packedFiles} packed files -> ${after.packedFiles} after ${after.packedCompactions} compactions`,
  );
  // About 450 live rows, all small: one file.
  expect(after.packedFiles).toBe(1);
  expect(after.packedCompactions).toBeGreaterThanOrEqual(1);
  for (let tenant = 0; tenant < tenants; tenant++) await expectExact(engine, model, tenant, random);
  const page = await engine.listNamespaces(index, { limit: 1000 });
  expect(page.namespaces.length).toBe(tenants);
  await engine.close();

  // After a clean reopen the same, and only files the catalog names are on disk.
  engine = await open(dir);
  for (let tenant = 0; tenant < tenants; tenant += 7) await expectExact(engine, model, tenant, random);
  await engine.compactionSettled();
  const final = (await engine.describeIndexStats(index)).tenancy!;
  expect(final.packedFiles).toBe(1);
  await engine.close();
  expect(await packedFilesOnDisk(dir)).toBe(final.packedFiles);
});
