/**
 * Stats and listings from the index's catalog (storage/namespaces/DESIGN.md, build step 3):
 * after a clean reopen, `describeIndexStats`, `listNamespaces` (prefix, pagination) and
 * `describeNamespace` are exact against a model and activate no namespace; while writers,
 * deletes and flushes run, every answer taken between writes is exact; a catalog that is
 * missing or behind its manifests is rebuilt from them at open.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";
import { randomVector, seededRandom } from "./testing/reference.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
console.log(`engine-namespace-catalog seed=${seed} (NEEDLE_TEST_SEED=${seed} replays)`);
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const dim = 4;
const index = "tenants";

/** The model: per namespace its live ids, and whether it was created explicitly. */
class Model {
  readonly ids = new Map<string, Set<string>>();
  readonly explicit = new Set<string>();
  exists(name: string): boolean {
    return this.explicit.has(name) || (this.ids.get(name)?.size ?? 0) > 0;
  }
  names(prefix = ""): string[] {
    const names = new Set([...this.ids.keys(), ...this.explicit]);
    return [...names].filter((name) => name.startsWith(prefix) && this.exists(name)).sort();
  }
  count(name: string): number {
    return this.ids.get(name)?.size ?? 0;
  }
}

async function open(dir: string): Promise<Engine> {
  // Dedicated namespaces (packing off): their catalog can be rebuilt from their manifests.
  // Packed namespaces go through the same stats paths in engine-packed.test.ts.
  return openEngine({ dir, flushRowsMax: 5, flushIdleMs: 20, packedRowsMax: 0, log: () => {} });
}

async function applyRandom(engine: Engine, model: Model, random: () => number, namespaces: number) {
  const name = `t${Math.floor(random() * namespaces)}`;
  const action = random();
  const ids = model.ids.get(name) ?? new Set<string>();
  model.ids.set(name, ids);
  if (action < 0.6) {
    const records = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
      id: `r${Math.floor(random() * 6)}`,
      values: randomVector(random, dim),
    }));
    await engine.upsert(index, name, records);
    for (const record of records) ids.add(record.id);
  } else if (action < 0.8) {
    const id = `r${Math.floor(random() * 6)}`;
    await engine.delete(index, name, { ids: [id] });
    ids.delete(id);
  } else if (action < 0.9) {
    if (!model.exists(name)) {
      await engine.createNamespace(index, name);
      model.explicit.add(name);
    }
  } else if (model.exists(name)) {
    await engine.deleteNamespace(index, name);
    model.ids.delete(name);
    model.explicit.delete(name);
  }
}

async function expectExact(engine: Engine, model: Model): Promise<void> {
  const stats = await engine.describeIndexStats(index);
  const expected = model.names().filter((name) => model.count(name) > 0);
  expect(stats.namespaces.map((ns) => ns.name).sort()).toEqual(expected);
  for (const ns of stats.namespaces) expect(ns.recordCount).toBe(model.count(ns.name));
  expect(stats.totalVectorCount).toBe(expected.reduce((sum, name) => sum + model.count(name), 0));
  for (const prefix of ["", "t1", "t2"]) {
    const listed: { name: string; recordCount: number }[] = [];
    let token: string | undefined;
    for (;;) {
      const page = await engine.listNamespaces(index, { prefix, limit: 7, paginationToken: token });
      listed.push(...page.namespaces);
      expect(page.totalCount).toBe(model.names(prefix).length);
      if (page.next === undefined) break;
      token = page.next;
    }
    expect(listed.map((ns) => ns.name)).toEqual(model.names(prefix));
    for (const ns of listed) expect(ns.recordCount).toBe(model.count(ns.name));
  }
}

test(`stats, listings and describeNamespace are exact and activate no clean namespace (seed ${seed})`, async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-catalog-engine-"));
  dirs.push(dir);
  const random = seededRandom(seed);
  const model = new Model();
  let engine = await open(dir);
  await engine.createIndex({ name: index, dimension: dim, metric: "cosine", vectorType: "dense" });
  // Writes, deletes, creations and drops, with answers checked between them while flushes
  // (5 rows, 20 ms idle) move namespaces between dirty and clean.
  for (let step = 0; step < 400; step++) {
    await applyRandom(engine, model, random, 60);
    if (step % 40 === 39) await expectExact(engine, model);
  }
  await engine.close();

  engine = await open(dir);
  expect(engine.activeActors("namespace")).toBe(0);
  await expectExact(engine, model);
  for (const name of model.names().slice(0, 10)) {
    expect(await engine.describeNamespace(index, name)).toEqual({ name, recordCount: model.count(name) });
  }
  let missing: unknown;
  try {
    await engine.describeNamespace(index, "no-such-tenant");
  } catch (error) {
    missing = error;
  }
  expect((missing as { code?: string }).code).toBe("NOT_FOUND");
  expect(engine.activeActors("namespace")).toBe(0);
  await engine.close();

  // A data directory whose catalog is gone (or from before it): rebuilt from the manifests.
  await rm(join(dir, "indexes", index, "catalog"), { recursive: true, force: true });
  engine = await open(dir);
  await expectExact(engine, model);
  expect(engine.activeActors("namespace")).toBe(0);
  await engine.close();
});
