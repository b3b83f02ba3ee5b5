/**
 * Residency under a scan of every tenant (storage/namespaces/DESIGN.md step 6): with caps on
 * resident namespaces and slab actors, reading (and writing some of) every one of many small
 * tenants keeps the number in memory at the cap plus one eviction batch, whatever the tenant
 * count; the least recently used go first; a dirty tenant's eviction flushes it, so nothing
 * written during the scan is lost; every answer is exact. Bounds are on counts, never on time.
 */
import { expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";
import { scratchDirs, testSeed } from "./testing/scratch.ts";
import { cosineTopKProblem, randomVector, ReferenceNamespace, seededRandom } from "./testing/reference.ts";

const seed = testSeed("engine-residency");
const scratchDir = scratchDirs("needle-residency");

const dim = 4;
const index = "tenants";
const tenants = 400;
const namespacesMax = 32;
const slabsMax = 48;
/** The cap plus one eviction batch (an eighth of the cap) plus the two actors one request holds. */
const slack = (max: number) => Math.ceil(max / 8) + 2;

function open(dir: string): Promise<Engine> {
  // Idle timers far away: only the caps passivate here.
  return openEngine({
    dir,
    flushIdleMs: 600_000,
    namespacesResidentMax: namespacesMax,
    slabActorsResidentMax: slabsMax,
    log: () => {},
  });
}

test(`a scan of every tenant stays under the residency caps and loses nothing (seed ${seed})`, async () => {
  const dir = await scratchDir();
  const random = seededRandom(seed);
  const model = Array.from({ length: tenants }, () => new ReferenceNamespace());
  let engine = await open(dir);
  await engine.createIndex({ name: index, dimension: dim, metric: "cosine", vectorType: "dense" });
  let maxNamespaces = 0;
  let maxSlabs = 0;
  const observe = () => {
    maxNamespaces = Math.max(maxNamespaces, engine.activeActors("namespace"));
    maxSlabs = Math.max(maxSlabs, engine.activeActors("slab"));
  };
  const upsert = async (tenant: number, count: number) => {
    const records = Array.from({ length: count }, () => ({
      id: `r${Math.floor(random() * 4)}`,
      values: randomVector(random, dim),
      metadata: { tenant },
    }));
    await engine.upsert(index, `t-${tenant}`, records);
    model[tenant]!.upsert(records);
    observe();
  };
  // Writes: four writers over every tenant.
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let tenant = next++; tenant < tenants; tenant = next++) await upsert(tenant, 1 + (tenant % 3));
    }),
  );
  expect(maxNamespaces).toBeLessThanOrEqual(namespacesMax + slack(namespacesMax) + 4);
  await engine.close();

  // A scan of every tenant in random order; every seventh also takes a write (its eviction
  // then flushes it).
  engine = await open(dir);
  expect(engine.activeActors("namespace")).toBe(0);
  maxNamespaces = 0;
  maxSlabs = 0;
  const order = Array.from({ length: tenants }, (_, tenant) => tenant).sort(() => random() - 0.5);
  for (const [step, tenant] of order.entries()) {
    if (step % 7 === 0) await upsert(tenant, 1);
    const vector = randomVector(random, dim);
    const result = await engine.query(index, `t-${tenant}`, {
      topK: 3,
      vector,
      includeValues: false,
      includeMetadata: false,
    });
    observe();
    const ns = model[tenant]!;
    expect(cosineTopKProblem(result.matches, ns, vector, 3)).toBe("");
  }
  console.log(
    `engine-residency: scan of ${tenants} tenants: at most ${maxNamespaces} namespaces (cap ${namespacesMax}) and ${maxSlabs} slab actors (cap ${slabsMax}) resident`,
  );
  expect(maxNamespaces).toBeLessThanOrEqual(namespacesMax + slack(namespacesMax));
  expect(maxSlabs).toBeLessThanOrEqual(slabsMax + slack(slabsMax));
  const { tenancy } = await engine.describeIndexStats(index);
  expect(tenancy!.residentMax).toBe(namespacesMax);
  // All but the last cap's worth were sent away, least recently used first.
  expect(tenancy!.evicted).toBeGreaterThanOrEqual(tenants - namespacesMax - slack(namespacesMax));
  expect(tenancy!.cataloged).toBeGreaterThanOrEqual(tenants - namespacesMax - slack(namespacesMax));
  await engine.close();

  // Nothing written during the scan was lost to an eviction.
  engine = await open(dir);
  for (let tenant = 0; tenant < tenants; tenant++) {
    const ids = [...model[tenant]!.records.keys()].sort();
    const fetched = await engine.fetch(index, `t-${tenant}`, ids);
    expect(fetched.records.map((record) => record.id).sort()).toEqual(ids);
    for (const record of fetched.records) {
      expect(Array.from(record.values!)).toEqual(Array.from(model[tenant]!.records.get(record.id)!.values!));
    }
  }
  await engine.close();
}, 60_000);

test("the request log is trimmed while new tenants keep arriving (resident tenants hold only their own records)", async () => {
  const dir = await scratchDir();
  const engine = await openEngine({
    dir,
    flushIdleMs: 600_000,
    namespacesResidentMax: 50,
    logSegmentBytesMax: 64 * 1024,
    log: () => {},
  });
  await engine.createIndex({ name: index, dimension: dim, metric: "cosine", vectorType: "dense" });
  const random = seededRandom(seed + 1);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let tenant = next++; tenant < 2000; tenant = next++) {
        await engine.upsert(index, `n-${tenant}`, [{ id: "a", values: randomVector(random, dim) }]);
      }
    }),
  );
  // About 25 segments were written; what the resident (unflushed) tenants wrote spans the
  // last one or two. Trims run in the background: wait (bounded) for them to catch up.
  const segments = async () =>
    (await readdir(join(dir, "indexes", index, "log"))).filter((name) => name.endsWith(".wal")).length;
  for (let waited = 0; (await segments()) > 3 && waited < 100; waited++) await Bun.sleep(20);
  expect(await segments()).toBeLessThanOrEqual(3);
  await engine.close();
}, 60_000);
