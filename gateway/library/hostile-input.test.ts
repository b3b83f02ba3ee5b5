/**
 * Inputs that broke the engine in review, through the embedded library: text with unpaired
 * surrogates, the name "__proto__" as id, namespace, metadata key and filter field, results
 * that handed out the stored objects, and updates that grew metadata past its limit. Each
 * goes through a flush to a slab and a reopen (log replay), where encoders can differ.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NeedleError } from "../../storage/errors.ts";
import { metadataBytesMax } from "../../storage/metadata.ts";
import { open } from "./mod.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-hostile-"));
  dirs.push(dir);
  return dir;
}

/** The own property `key` (a `.__proto__` read would give the prototype). */
function own<T>(object: Record<string, T>, key: string): T {
  return Object.getOwnPropertyDescriptor(object, key)?.value as T;
}

async function refusal(promise: Promise<unknown>): Promise<NeedleError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(NeedleError);
  return error as NeedleError;
}

test("unpaired surrogates are refused naming the field; astral text round-trips through a flush and filters", async () => {
  const dir = await freshDir();
  let db = await open(dir, { flushRowsMax: 2, log: () => {} });
  await db.createIndex({ name: "text", dimension: 2, metric: "cosine" });
  let index = db.index("text");
  const lone = "caf\uD800e";
  const cases: [object, string][] = [
    [{ id: "a", values: [1, 2], metadata: { genre: lone } }, "records[0].metadata.genre"],
    [{ id: "a", values: [1, 2], metadata: { [lone]: "x" } }, `records[0].metadata.${lone}`],
    [{ id: "a", values: [1, 2], metadata: { tags: ["ok", "\uDC00"] } }, "records[0].metadata.tags[1]"],
  ];
  for (const [record, field] of cases) {
    const error = await refusal(index.upsert({ records: [record as never] }));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.field).toBe(field);
    expect(error.message).toContain("well-formed");
  }
  const update = await refusal(index.update({ id: "a", metadata: { genre: lone } }));
  expect(update.field).toBe("metadata.genre");
  const filter = await refusal(
    index.query({ vector: [1, 2], topK: 1, filter: { genre: { $in: ["x", lone] } } }),
  );
  expect(filter.field).toBe("filter.genre.$in[1]");

  // Well-formed text beyond the BMP (surrogate pairs) is fine, in memtable, slab and after reopen.
  const astral = ["🎻 music", "𝄞 clef", "plain"];
  await index.upsert({
    records: astral.map((genre, i) => ({ id: `r${i}`, values: [1, i + 1], metadata: { genre } })),
  });
  for (let round = 0; round < 2; round++) {
    for (const genre of astral) {
      const { matches } = await index.query({
        vector: [1, 1],
        topK: 5,
        filter: { genre },
        includeMetadata: true,
      });
      expect(matches.map((match) => match.metadata?.genre)).toEqual([genre]);
    }
    await db.close();
    db = await open(dir, { log: () => {} });
    index = db.index("text");
  }
  await db.close();
});

test('"__proto__" is an ordinary id, namespace, metadata key and filter field, in memory, in slabs and after reopen', async () => {
  const dir = await freshDir();
  let db = await open(dir, { flushRowsMax: 1_000, log: () => {} });
  await db.createIndex({ name: "proto", dimension: 2, metric: "euclidean" });
  const metadata = JSON.parse('{"__proto__": ["polluted"], "constructor": "c", "n": 1}');
  let index = db.index("proto").namespace("__proto__");
  await index.upsert({
    records: [
      { id: "__proto__", values: [1, 2], metadata },
      { id: "b", values: [3, 4] },
    ],
  });

  const check = async (stage: string) => {
    const fetched = await index.fetch({ ids: ["__proto__", "b"] });
    expect(Object.hasOwn(fetched.records, "__proto__")).toBe(true);
    const stored = own(fetched.records, "__proto__");
    expect(Object.getPrototypeOf(fetched.records)).toBe(Object.prototype);
    expect(Object.hasOwn(stored.metadata!, "__proto__")).toBe(true);
    expect(JSON.stringify(stored.metadata)).toBe('{"__proto__":["polluted"],"constructor":"c","n":1}');
    expect(Object.getPrototypeOf(stored.metadata)).toBe(Object.prototype);
    const filtered = await index.query({
      vector: [0, 0],
      topK: 5,
      filter: JSON.parse('{"__proto__": {"$in": ["polluted"]}}'),
      includeMetadata: true,
    });
    expect(filtered.matches.map((match) => match.id)).toEqual(["__proto__"]);
    const stats = await db.index("proto").describeIndexStats();
    expect(Object.hasOwn(stats.namespaces ?? {}, "__proto__")).toBe(true);
    expect(own(stats.namespaces ?? {}, "__proto__")?.recordCount).toBe(2);
    expect(stage).toBeDefined();
  };
  await check("memtable");
  await db.close(); // flushes: slab metadata and the log both hold the key
  db = await open(dir, { log: () => {} });
  index = db.index("proto").namespace("__proto__");
  await check("slab");
  await index.update({ id: "__proto__", metadata: { n: 2 } });
  const updated = await index.fetch({ ids: ["__proto__"] });
  expect(JSON.stringify(own(updated.records, "__proto__").metadata)).toBe(
    '{"__proto__":["polluted"],"constructor":"c","n":2}',
  );
  await db.close();
  // Reopen without a flush of the update: it replays from the log.
  db = await open(dir, { log: () => {} });
  const replayed = await db
    .index("proto")
    .namespace("__proto__")
    .fetch({ ids: ["__proto__"] });
  expect(own(replayed.records, "__proto__").metadata?.n).toBe(2);
  expect(Object.hasOwn(own(replayed.records, "__proto__").metadata!, "__proto__")).toBe(true);
  const tag = await refusal(db.configureIndex("proto", { tags: JSON.parse('{"__proto__": "x"}') }));
  expect(tag.code).toBe("INVALID_ARGUMENT");
  await db.close();
});

test("results are copies: editing a fetched or queried record changes nothing stored", async () => {
  const dir = await freshDir();
  const db = await open(dir, { log: () => {} });
  await db.createIndex({ name: "alias", dimension: 2, metric: "dotproduct" });
  const index = db.index("alias");
  await index.upsert({
    records: [
      {
        id: "a",
        values: [1, 2],
        sparseValues: { indices: [3], values: [0.5] },
        metadata: { tags: ["x"], n: 1 },
      },
    ],
  });
  const fetched = await index.fetch({ ids: ["a"] });
  const record = fetched.records.a!;
  record.metadata!.n = 99;
  (record.metadata!.tags as string[]).push("y");
  record.values![0] = 42;
  record.sparseValues!.values[0] = 42;
  const { matches } = await index.query({
    vector: [1, 1],
    topK: 1,
    includeMetadata: true,
    includeValues: true,
  });
  matches[0]!.metadata!.n = 7;
  (matches[0]!.metadata!.tags as string[]).length = 0;
  const again = await index.fetch({ ids: ["a"] });
  expect(again.records.a!.metadata).toEqual({ tags: ["x"], n: 1 });
  expect(again.records.a!.values).toEqual([1, 2]);
  expect(again.records.a!.sparseValues).toEqual({ indices: [3], values: [0.5] });
  await db.close();
});

test("update cannot grow metadata past the limit an upsert has", async () => {
  const dir = await freshDir();
  const db = await open(dir, { flushRowsMax: 10, log: () => {} });
  await db.createIndex({ name: "grow", dimension: 2, metric: "cosine" });
  const index = db.index("grow");
  await index.upsert({
    records: [
      { id: "a", values: [1, 2], metadata: { base: "x" } },
      { id: "b", values: [2, 1] },
    ],
  });
  const chunk = "z".repeat(1_000);
  let refusedAt: number | undefined;
  for (let i = 0; i < 100 && refusedAt === undefined; i++) {
    try {
      await index.update({ id: "a", metadata: { [`k${i}`]: chunk } });
    } catch (error) {
      expect(error).toBeInstanceOf(NeedleError);
      const needleError = error as NeedleError;
      expect(needleError.code).toBe("INVALID_ARGUMENT");
      expect(needleError.field).toBe("setMetadata");
      expect(needleError.limit).toBe(`at most ${metadataBytesMax} bytes as JSON`);
      refusedAt = i;
    }
  }
  expect(refusedAt).toBeGreaterThan(30);
  expect(refusedAt).toBeLessThan(45);
  const stored = (await index.fetch({ ids: ["a"] })).records.a!.metadata!;
  expect(JSON.stringify(stored).length).toBeLessThanOrEqual(metadataBytesMax);
  expect(Object.keys(stored)).toHaveLength(refusedAt! + 1);
  // Update by filter: one record over the limit refuses the whole update; nothing changes.
  await index.update({ id: "b", metadata: { base: "x" } });
  const byFilter = await refusal(index.update({ filter: { base: "x" }, metadata: { more: chunk } }));
  expect(byFilter.field).toBe("setMetadata");
  expect((await index.fetch({ ids: ["b"] })).records.b!.metadata).toEqual({ base: "x" });
  await db.close();
});
