/**
 * Deployments and read capacity through the embedded library: the client's spellings (flat
 * Dedicated read capacity, podReplicas/podType), and what Dedicated means in Needle: its slabs
 * stay mapped (no reopen however small the slab budget) and its namespaces stay active (an idle
 * one flushes instead of leaving memory), also after a reopen, where it is warmed at start.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NeedleError } from "../../storage/errors.ts";
import { observeFileOperations } from "../../storage/files.ts";
import type { Needle } from "./database.ts";
import { open } from "./mod.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-deploy-"));
  dirs.push(dir);
  return dir;
}

const schema = {
  fields: { e: { type: "dense_vector" as const, dimension: 2, metric: "euclidean" as const } },
};

async function ready(db: Needle, name: string): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    if ((await db.describeIndex(name)).readCapacity?.status.state === "Ready") return;
    await Bun.sleep(10);
  }
  throw new Error(`${name} did not become Ready`);
}

/** Counts file operations of one kind on paths under `under` while `work` runs. */
async function counting(operation: string, under: string, work: () => Promise<void>): Promise<number> {
  let count = 0;
  const stop = observeFileOperations((seen, path) => {
    if (seen === operation && path.startsWith(under)) count++;
  });
  try {
    await work();
  } finally {
    stop();
  }
  return count;
}

test("the client's flat read capacity and podReplicas/podType spellings work", async () => {
  const db = await open(await freshDir(), { log: () => {} });
  const model = await db.createIndex({
    name: "flat",
    schema,
    readCapacity: { nodeType: "t1", manual: { replicas: 1, shards: 1 } },
  });
  expect(model.readCapacity).toMatchObject({
    mode: "Dedicated",
    dedicated: { nodeType: "t1", scaling: "Manual", manual: { replicas: 1, shards: 1 } },
  });
  await db.createIndex({
    name: "pod",
    dimension: 2,
    spec: { pod: { environment: "local", podType: "s1.x1" } },
  });
  const resized = await db.configureIndex("pod", { podReplicas: 2, podType: "s1.x4" });
  expect(resized.deployment).toEqual({
    deploymentType: "pod",
    environment: "local",
    podType: "s1.x4",
    replicas: 2,
    shards: 1,
  });
  expect(resized.spec).toEqual({
    pod: { environment: "local", podType: "s1.x4", pods: 2, replicas: 2, shards: 1 },
  });
  expect(resized.readCapacity).toBeUndefined();
  const onPod = (await db
    .configureIndex("pod", { readCapacity: { mode: "OnDemand" } })
    .catch((e) => e)) as NeedleError;
  expect(onPod.code).toBe("INVALID_ARGUMENT");
  expect(onPod.field).toBe("readCapacity");
  const missing = (await db
    .createIndex({ name: "copy", dimension: 2, sourceCollection: "films" })
    .catch((e) => e)) as NeedleError;
  expect(missing.code).toBe("NOT_FOUND");
  expect(missing.message).toBe("Resource films not found");
  await db.close();
});

test("a Dedicated index keeps its slabs mapped and its namespaces active; an OnDemand one does not", async () => {
  const dir = await freshDir();
  // A one-byte slab budget evicts every other slab; idle namespaces leave after 50 ms.
  // Packing off: passivation shows as a namespace reading its own manifest again.
  const options = {
    flushRowsMax: 4,
    flushIdleMs: 50,
    slabMemoryBudgetBytes: 1,
    packedRowsMax: 0,
    log: () => {},
  };
  let db = await open(dir, options);
  for (const name of ["hot", "cold"]) {
    await db.createIndex({ name, schema });
    for (const ns of ["a", "b"]) {
      await db
        .index(name)
        .namespace(ns)
        .upsert({
          records: Array.from({ length: 8 }, (_, i) => ({ id: `${ns}${i}`, values: [i, 1] })),
        });
    }
  }
  await db.close(); // every namespace is in slabs now
  db = await open(dir, options);
  await db.configureIndex("hot", {
    readCapacity: {
      mode: "Dedicated",
      dedicated: { nodeType: "b1", scaling: "Manual", manual: { replicas: 1, shards: 1 } },
    },
  });
  await ready(db, "hot");
  const queryAll = async (name: string) => {
    for (const ns of ["a", "b", "a", "b"]) {
      const { matches } = await db
        .index(name)
        .namespace(ns)
        .query({ vector: [1, 1], topK: 3 });
      expect(matches).toHaveLength(3);
    }
  };
  const slabs = (name: string) => join(dir, "indexes", name, "slabs");
  // Cold slabs are evicted by each other and mapped again; hot ones stay mapped.
  expect(await counting("mmap", slabs("cold"), () => queryAll("cold"))).toBeGreaterThan(0);
  expect(await counting("mmap", slabs("hot"), () => queryAll("hot"))).toBe(0);
  expect(await counting("mmap", slabs("hot"), () => queryAll("cold"))).toBe(0);
  // After idling, cold namespaces read their manifests again (they were passivated); hot ones
  // did not leave, and a write there flushes when idle without passivating.
  await db
    .index("hot")
    .namespace("a")
    .upsert({ records: [{ id: "late", values: [9, 9] }] });
  await Bun.sleep(2_300);
  const manifests = (name: string) => join(dir, "indexes", name, "namespaces");
  expect(await counting("read", manifests("cold"), () => queryAll("cold"))).toBeGreaterThan(0);
  expect(await counting("read", manifests("hot"), () => queryAll("hot"))).toBe(0);
  await db.close();

  // Reopened, the Dedicated index is warmed at start (Migrating, then Ready) and needs no mmap.
  db = await open(dir, options);
  await ready(db, "hot");
  expect(await counting("mmap", slabs("hot"), () => queryAll("hot"))).toBe(0);
  const late = await db
    .index("hot")
    .namespace("a")
    .fetch({ ids: ["late"] });
  expect(late.records.late?.values).toEqual([9, 9]);
  await db.close();
});

test("a filter with an empty condition equals no filter", async () => {
  const db = await open(await freshDir(), { log: () => {} });
  await db.createIndex({ name: "f", schema });
  const index = db.index("f");
  await index.upsert({
    records: [
      { id: "a", values: [1, 0], metadata: { genre: "x" } },
      { id: "b", values: [0, 1] },
    ],
  });
  const plain = await index.query({ vector: [1, 1], topK: 5 });
  const empty = await index.query({ vector: [1, 1], topK: 5, filter: { genre: {} } });
  expect(empty.matches).toEqual(plain.matches);
  const byMetadata = await index.fetchByMetadata({ filter: { genre: {} } });
  expect(Object.keys(byMetadata.records).sort()).toEqual(["a", "b"]);
  await db.close();
});
