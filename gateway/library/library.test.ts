/**
 * A full round trip through `open(dir)`: the embedded library on the real engine, checked
 * against brute-force float64 references computed here. Seeded; the seed is printed and can be
 * replayed with NEEDLE_TEST_SEED.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Needle } from "./database.ts";
import { open } from "./mod.ts";
import { expectMatchesReference, refusal, tolerance } from "./reference.ts";
import type { PineconeRecord, RecordSparseValues } from "./types.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`library.test.ts seed=${seed} (replay with NEEDLE_TEST_SEED=${seed})`);

const random = seededRandom(seed);
const vector = (dimension: number) => Array.from({ length: dimension }, () => random() * 2 - 1);

const dimension = 8;
const metrics = ["cosine", "euclidean", "dotproduct"] as const;

let dir: string;
let db: Needle;
const denseRecords: PineconeRecord[] = Array.from({ length: 150 }, (_, i) => ({
  id: `r${String(i).padStart(3, "0")}`,
  values: vector(dimension),
  metadata: { group: i % 3, name: `record ${i}`, tags: i % 2 === 0 ? ["even"] : ["odd"] },
}));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-library-"));
  db = await open(dir, { log: () => {} });
});

afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe("control plane", () => {
  test("creates an index per metric and a sparse index, shaped like the client's IndexModel", async () => {
    for (const metric of metrics) {
      const model = await db.createIndex({
        name: `dense-${metric}`,
        dimension,
        metric,
        spec: { serverless: { cloud: "aws", region: "us-east-1" } },
        waitUntilReady: true,
      });
      expect(model.name).toBe(`dense-${metric}`);
      expect(model.host).toBe(`embedded://dense-${metric}`);
      expect(model.status.ready).toBe(true);
      expect(model.deletionProtection).toBe("disabled");
      expect(model.deployment).toEqual({ deploymentType: "managed", cloud: "aws", region: "us-east-1" });
      expect(model.schema.fields).toEqual({ _values: { type: "dense_vector", dimension, metric } });
      // Legacy accessors work but stay out of the enumerable (2026-07) shape, as in the client.
      expect(model.dimension).toBe(dimension);
      expect(model.metric).toBe(metric);
      expect(model.vectorType).toBe("dense");
      expect("serverless" in model.spec && model.spec.serverless.cloud).toBe("aws");
      expect(Object.keys(model)).not.toContain("dimension");
      expect(Object.keys(model)).not.toContain("spec");
    }
    const sparse = await db.createIndex({
      name: "sparse",
      schema: { fields: { _sparse_values: { type: "sparse_vector" } } },
    });
    expect(sparse.schema.fields).toEqual({ _sparse_values: { type: "sparse_vector" } });
    expect(sparse.vectorType).toBe("sparse");
    expect(sparse.metric).toBe("dotproduct");
    expect(sparse.dimension).toBeUndefined();

    const names = (await db.listIndexes()).indexes?.map((index) => index.name).sort();
    expect(names).toEqual(["dense-cosine", "dense-dotproduct", "dense-euclidean", "sparse"]);
    expect((await db.indexes.describe("sparse")).name).toBe("sparse");
  });

  test("duplicate names conflict unless suppressConflicts; bad names and missing indexes are refused", async () => {
    expect((await refusal(db.createIndex({ name: "sparse", vectorType: "sparse", spec: {} }))).code).toBe(
      "ALREADY_EXISTS",
    );
    expect(
      await db.createIndex({ name: "sparse", vectorType: "sparse", suppressConflicts: true }),
    ).toBeUndefined();
    const badName = await refusal(db.createIndex({ name: "Bad_Name", dimension: 3 }));
    expect(badName.code).toBe("INVALID_ARGUMENT");
    expect(badName.message).toContain("alphanumeric character");
    expect((await refusal(db.describeIndex("missing"))).code).toBe("NOT_FOUND");
    expect((await refusal(db.index("missing").fetch({ ids: ["a"] }))).code).toBe("NOT_FOUND");
  });
});

describe("data plane", () => {
  test("upsert then query: top-k agrees with a float64 brute force for every metric", async () => {
    for (const metric of metrics) {
      const index = db.index(`dense-${metric}`);
      await index.upsert({ records: denseRecords.slice(0, 100) });
      expect(index.lastWrite?.upsertedCount).toBe(100);
      await index.upsert(denseRecords.slice(100)); // the older clients' array form
      expect(index.lastWrite?.upsertedCount).toBe(50);
      expect(db.lastLsn(`dense-${metric}`)).toBe(index.lastWrite?.lsn as bigint);

      for (let round = 0; round < 4; round++) {
        const query = vector(dimension);
        const topK = 1 + Math.floor(random() * 20);
        const response = await index.query({ vector: query, topK });
        expect(response.namespace).toBe("__default__");
        expect(typeof response.usage?.readUnits).toBe("number");
        expectMatchesReference(metric, response, denseRecords, query, topK);
        expect(
          response.matches.every((match) => match.values?.length === 0 && match.metadata === undefined),
        ).toBe(true);
      }

      const query = vector(dimension);
      const filtered = await index.query({
        vector: query,
        topK: 10,
        filter: { group: { $eq: 1 } },
        includeMetadata: true,
        includeValues: true,
      });
      const groupOne = denseRecords.filter((record) => record.metadata?.group === 1);
      expectMatchesReference(metric, filtered, groupOne, query, 10);
      for (const match of filtered.matches) {
        expect(match.metadata?.group).toBe(1);
        expect(match.values).toHaveLength(dimension);
        const stored = denseRecords.find((record) => record.id === match.id);
        expect(match.values?.map(Math.fround)).toEqual((stored?.values ?? []).map(Math.fround));
      }
    }
  });

  test("reads carry the LSN they reflect (non-enumerable) and accept minLsn", async () => {
    const index = db.index("dense-cosine");
    const written = db.lastLsn("dense-cosine");
    expect(typeof written).toBe("bigint");
    const response = await index.query({ vector: vector(dimension), topK: 1, minLsn: written });
    const lsn = (response as unknown as { lsn: bigint }).lsn;
    expect(lsn >= (written as bigint)).toBe(true);
    expect(Object.keys(response).sort()).toEqual(["matches", "namespace", "usage"]);
    const bad = await refusal(
      index.query({ vector: vector(dimension), topK: 1, minLsn: 5 as unknown as bigint }),
    );
    expect(bad.field).toBe("minLsn");
  });

  test("query by id finds the record itself first (cosine, euclidean)", async () => {
    for (const metric of ["cosine", "euclidean"] as const) {
      const response = await db.index(`dense-${metric}`).query({ id: "r042", topK: 3 });
      expect(response.matches[0]?.id).toBe("r042");
    }
  });

  test("fetch, update metadata and values, dry run, delete by ids / filter / all", async () => {
    const index = db.index({ name: "dense-cosine", namespace: "ns1" });
    const records = denseRecords.slice(0, 6).map((record) => ({ ...record, id: `n-${record.id}` }));
    await index.upsert({ records });

    const fetched = await index.fetch({ ids: ["n-r000", "n-r001", "absent"] });
    expect(Object.keys(fetched.records).sort()).toEqual(["n-r000", "n-r001"]);
    expect(fetched.namespace).toBe("ns1");
    expect(fetched.records["n-r000"]?.values?.map(Math.fround)).toEqual(
      (records[0]?.values ?? []).map(Math.fround),
    );
    expect(fetched.records["n-r000"]?.metadata).toEqual(records[0]?.metadata ?? {});
    expect(typeof (fetched as unknown as { lsn: bigint }).lsn).toBe("bigint");

    await index.update({ id: "n-r000", metadata: { color: "red" } });
    const newValues = vector(dimension);
    await index.update({ id: "n-r001", values: newValues });
    const updated = await index.fetch(["n-r000", "n-r001"]);
    expect(updated.records["n-r000"]?.metadata).toEqual({ ...(records[0]?.metadata ?? {}), color: "red" });
    expect(updated.records["n-r001"]?.values?.map(Math.fround)).toEqual(newValues.map(Math.fround));

    await index.update({ filter: { color: { $eq: "red" } }, metadata: { color: "blue" }, dryRun: true });
    expect(index.lastWrite?.matchedRecords).toBe(1);
    expect((await index.fetch({ ids: ["n-r000"] })).records["n-r000"]?.metadata?.color).toBe("red");

    await index.deleteOne({ id: "n-r000" });
    await index.deleteOne("n-r001");
    await index.deleteMany({ ids: ["n-r002"] });
    await index.deleteMany({ filter: { group: { $eq: 0 } } }); // n-r003 has group 0
    const left = await index.fetch({ ids: records.map((record) => record.id) });
    expect(Object.keys(left.records).sort()).toEqual(["n-r004", "n-r005"]);

    await index.deleteAll();
    expect(Object.keys((await index.fetch({ ids: ["n-r004", "n-r005"] })).records)).toEqual([]);
  });

  test("listPaginated walks a prefix across pages", async () => {
    const index = db.index("dense-euclidean").namespace("paged");
    const docs = Array.from({ length: 23 }, (_, i) => ({
      id: `doc#${String(i).padStart(2, "0")}`,
      values: vector(dimension),
    }));
    const others = Array.from({ length: 5 }, (_, i) => ({ id: `other#${i}`, values: vector(dimension) }));
    await index.upsert({ records: [...docs, ...others] });

    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await index.listPaginated({ prefix: "doc#", limit: 10, paginationToken: token });
      expect(page.namespace).toBe("paged");
      expect(page.vectors?.length).toBeLessThanOrEqual(10);
      seen.push(...(page.vectors ?? []).map((item) => item.id as string));
      token = page.pagination?.next;
      pages++;
    } while (token !== undefined && pages < 10);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(docs.map((doc) => doc.id));
    expect((await refusal(index.listPaginated({ limit: 101 }))).field).toBe("limit");
  });

  test("fetchByMetadata returns matching records with pagination", async () => {
    const index = db.index("dense-dotproduct");
    const first = await index.fetchByMetadata({ filter: { group: { $eq: 2 } }, limit: 30 });
    const expected = denseRecords.filter((record) => record.metadata?.group === 2).map((record) => record.id);
    const ids = Object.keys(first.records);
    expect(ids.length).toBe(30);
    let token = first.pagination?.next;
    while (token !== undefined) {
      const page = await index.fetchByMetadata({
        filter: { group: { $eq: 2 } },
        limit: 30,
        paginationToken: token,
      });
      ids.push(...Object.keys(page.records));
      token = page.pagination?.next;
    }
    expect(ids.sort()).toEqual(expected.sort());
  });

  test("sparse index: sparse records, sparse queries against a brute force, dense values refused", async () => {
    const index = db.index("sparse");
    const sparseRecords = Array.from({ length: 40 }, (_, i) => {
      const indices = Array.from(new Set(Array.from({ length: 6 }, () => Math.floor(random() * 50))));
      return { id: `s${i}`, sparseValues: { indices, values: indices.map(() => random()) } };
    });
    await index.upsert({ records: sparseRecords });
    const queryIndices = [1, 7, 13, 21, 34, 49];
    const query: RecordSparseValues = { indices: queryIndices, values: queryIndices.map(() => random()) };
    const response = await index.query({ sparseVector: query, topK: 5 });
    const dot = (sparse: RecordSparseValues) => {
      let sum = 0;
      sparse.indices.forEach((at, k) => {
        const q = query.indices.indexOf(at);
        if (q >= 0) sum += Math.fround(sparse.values[k] as number) * Math.fround(query.values[q] as number);
      });
      return sum;
    };
    const reference = sparseRecords
      .map((record) => dot(record.sparseValues))
      .sort((a, b) => b - a)
      .slice(0, 5);
    // Records sharing no index with the query score 0 and may be left out.
    const positive = reference.filter((value) => value > 0);
    expect(response.matches.length).toBeGreaterThanOrEqual(positive.length);
    positive.forEach((value, position) => {
      expect(Math.abs((response.matches[position]?.score as number) - value)).toBeLessThan(tolerance);
    });
    const fetched = await index.fetch({ ids: ["s0"] });
    const stored = fetched.records.s0?.sparseValues;
    const order = sparseRecords[0]?.sparseValues.indices
      .map((at, k) => [at, k] as const)
      .sort((a, b) => a[0] - b[0]);
    expect(stored?.indices).toEqual(order?.map(([at]) => at));
    expect(fetched.records.s0?.values).toEqual([]);

    const dense = await refusal(index.upsert({ records: [{ id: "d", values: [1, 2, 3] }] }));
    expect(dense.field).toBe("records[0].values");
  });

  test("describeIndexStats counts namespaces after deletes", async () => {
    const index = db.index("dense-cosine");
    await index.deleteMany({ ids: ["r000", "r001", "r002"] });
    const stats = await index.describeIndexStats();
    expect(stats.dimension).toBe(dimension);
    expect(stats.namespaces?.__default__?.recordCount).toBe(denseRecords.length - 3);
    expect(stats.totalRecordCount).toBe(
      Object.values(stats.namespaces ?? {}).reduce((sum, namespace) => sum + namespace.recordCount, 0),
    );
    const filtered = await index.describeIndexStats({ filter: { group: { $eq: 0 } } });
    // r000 (group 0) was deleted; 50 records of group 0 remain minus that one.
    expect(filtered.namespaces?.__default__?.recordCount).toBe(49);
  });

  test("namespaces: list, describe, create, delete", async () => {
    const index = db.index("dense-euclidean");
    const created = await index.createNamespace({ name: "empty" });
    expect(created).toEqual({ name: "empty", recordCount: "0" });
    const listed = await index.listNamespaces();
    const names = (listed.namespaces ?? []).map((namespace) => namespace.name).sort();
    expect(names).toEqual(["__default__", "empty", "paged"]);
    expect(listed.totalCount).toBe(3);
    expect(await index.describeNamespace("paged")).toEqual({ name: "paged", recordCount: "28" });
    expect((await index.describeNamespace("")).recordCount).toBe(String(denseRecords.length));

    const firstPage = await index.listNamespaces({ limit: 2 });
    expect(firstPage.namespaces).toHaveLength(2);
    expect(firstPage.pagination?.next).toBeDefined();

    await index.deleteNamespace("paged");
    expect((await refusal(index.describeNamespace("paged"))).code).toBe("NOT_FOUND");
  });

  test("createNamespace validates and echoes its schema; bad deletionProtection uses Pinecone's words", async () => {
    const index = db.index("dense-euclidean");
    const created = await index.createNamespace({
      name: "schema-echo",
      schema: { fields: { genre: { filterable: true } } },
    });
    expect(created).toEqual({
      name: "schema-echo",
      recordCount: "0",
      schema: { fields: { genre: { filterable: true } } },
    });
    const bad = await refusal(
      index.createNamespace({
        name: "schema-bad",
        schema: { fields: { genre: { filterable: "yes" } } } as never,
      }),
    );
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.field).toBe("schema.fields.genre.filterable");
    expect((await refusal(index.describeNamespace("schema-bad"))).code).toBe("NOT_FOUND");
    await index.deleteNamespace("schema-echo");

    const bogus = await refusal(
      db.configureIndex("dense-euclidean", { deletionProtection: "bogus" as never }),
    );
    expect(bogus.code).toBe("INVALID_ARGUMENT");
    expect(bogus.message).toContain(
      "Invalid deletion_protection, value should be either enabled or disabled",
    );
    expect((await db.describeIndex("dense-euclidean")).deletionProtection).toBe("disabled");
  });

  test("bad input is refused with the field named and changes nothing", async () => {
    const index = db.index("dense-dotproduct");
    const before = await index.describeIndexStats();
    const batch = Array.from({ length: 10 }, (_, i) => ({ id: `bad-${i}`, values: vector(dimension) }));
    (batch[5]?.values as number[])[3] = Number.NaN;
    const nan = await refusal(index.upsert({ records: batch }));
    expect(nan.code).toBe("INVALID_ARGUMENT");
    expect(nan.field).toBe("records[5].values[3]");

    const wrongDimension = batch.map((record) => ({ ...record, values: vector(dimension) }));
    wrongDimension[7] = { id: "bad-7", values: vector(dimension + 1) };
    expect((await refusal(index.upsert({ records: wrongDimension }))).field).toBe("records[7].values");
    expect((await refusal(index.query({ vector: vector(3), topK: 1 }))).field).toBe("vector");
    expect((await refusal(index.query({ vector: vector(dimension), topK: 10_001 }))).field).toBe("topK");
    expect((await refusal(index.update({ id: "r010", metadata: { nested: { a: 1 } } as never }))).field).toBe(
      "metadata.nested",
    );

    expect(await index.describeIndexStats()).toEqual(before);
    expect(Object.keys((await index.fetch({ ids: batch.map((record) => record.id) })).records)).toEqual([]);
  });

  test("unserved client methods refuse with UNIMPLEMENTED", async () => {
    expect((await refusal(db.index("dense-cosine").searchRecords({}))).code).toBe("UNIMPLEMENTED");
  });
});

describe("lifecycle", () => {
  test("deletion protection blocks deleteIndex until disabled", async () => {
    await db.createIndex({
      name: "protected",
      dimension: 2,
      deletionProtection: "enabled",
      tags: { team: "a" },
    });
    const refused = await refusal(db.deleteIndex("protected"));
    expect(refused.code).toBe("FAILED_PRECONDITION");
    expect(refused.message).toContain("Deletion protection is enabled for this index");
    const configured = await db.configureIndex({ name: "protected", tags: { owner: "b" } });
    expect(configured.tags).toEqual({ team: "a", owner: "b" });
    await db.configureIndex("protected", { deletionProtection: "disabled" });
    await db.deleteIndex("protected");
    expect((await refusal(db.describeIndex("protected"))).code).toBe("NOT_FOUND");
  });

  test("close and reopen keeps every index and record", async () => {
    const index = db.index("dense-cosine");
    const statsBefore = await index.describeIndexStats();
    const sample = denseRecords.slice(10, 20).map((record) => record.id);
    const fetchedBefore = await index.fetch({ ids: sample });
    const query = vector(dimension);
    const answerBefore = await index.query({ vector: query, topK: 5 });

    await db.close();
    await db.close(); // idempotent
    expect((await refusal(db.describeIndex("dense-cosine"))).code).toBe("FAILED_PRECONDITION");

    db = await open(dir, { log: () => {} });
    const reopened = db.index("dense-cosine");
    expect(await reopened.describeIndexStats()).toEqual(statsBefore);
    expect((await reopened.fetch({ ids: sample })).records).toEqual(fetchedBefore.records);
    expect((await reopened.query({ vector: query, topK: 5 })).matches).toEqual(answerBefore.matches);
    expect((await db.describeIndex("sparse")).vectorType).toBe("sparse");
  });
});

test("compaction through the library: paused and resumed, an index's levels after a merge", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-library-compaction-"));
  // A namespace's own levels (packing small namespaces off).
  const db = await open(dir, {
    flushRowsMax: 50,
    packedRowsMax: 0,
    compaction: { paused: true, l0MergeTrigger: 2 },
  });
  try {
    await db.createIndex({ name: "merged", dimension: 4, metric: "euclidean", waitUntilReady: true });
    const index = db.index("merged");
    for (let batch = 0; batch < 2; batch++) {
      await index.upsert({
        records: Array.from({ length: 50 }, (_, i) => ({ id: `b${batch}-${i}`, values: vector(4) })),
      });
    }
    while ((await index.describeCompaction()).levels[0]?.slabs !== 2) await Bun.sleep(5);
    expect((await index.describeCompaction()).paused).toBe(true);
    // The namespace reports its second slab to the compactor after the flush's swap: on a busy
    // machine the slab can be visible before the report lands (a fresh-clone CI run saw []).
    for (let waited = 0; (await db.compactionStatus()).queued.length === 0 && waited < 5_000; waited += 5) {
      await Bun.sleep(5);
    }
    expect((await db.compactionStatus()).queued).toEqual(["merged/__default__"]);
    expect((await db.resumeCompaction()).paused).toBe(false);
    let levels = (await index.describeCompaction()).levels;
    while (levels[0]?.level === 0) {
      await Bun.sleep(5);
      levels = (await index.describeCompaction()).levels;
    }
    expect(levels).toEqual([{ level: 1, slabs: 1, rows: 100, liveRows: 100, bytes: levels[0]!.bytes }]);
    expect((await index.describeIndexStats()).totalRecordCount).toBe(100);
    const q = vector(4);
    const { response, explain } = await index.queryExplained({ vector: q, topK: 5 });
    expect(response).toEqual(await index.query({ vector: q, topK: 5 }));
    expect(explain.sources.map((source) => source.level).sort()).toEqual([-1, 1]);
    expect((await db.pauseCompaction()).paused).toBe(true);
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("backups through the library: the client's methods and 9.x forms, a restore that answers as the source did", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-library-backups-"));
  const db = await open(dir, { log: () => {} });
  try {
    await db.createIndex({ name: "src", dimension: 4, metric: "euclidean", waitUntilReady: true });
    const source = db.index("src");
    await source.upsert({
      records: Array.from({ length: 40 }, (_, i) => ({ id: `r${i}`, values: vector(4) })),
    });
    const backup = await db.createBackup({ indexName: "src", name: "first" });
    expect(backup).toMatchObject({ sourceIndexName: "src", name: "first", status: "Ready", recordCount: 40 });
    expect(backup.createdAt).toBeInstanceOf(Date);
    expect(backup.lsn).toBe(db.lastLsn("src")!);
    // After the backup: not in it.
    await source.upsert({ records: [{ id: "late", values: [9, 9, 9, 9] }] });

    const restored = await db.createIndexFromBackup({ backupId: backup.backupId, name: "copy" });
    expect(restored.indexId).toBe("copy");
    expect((await db.describeRestoreJob(restored.restoreJobId)).status).toBe("Completed");
    expect((await db.restoreJobs.list()).data.map((job) => job.restoreJobId)).toEqual([
      restored.restoreJobId,
    ]);
    const copy = db.index("copy");
    expect((await copy.describeIndexStats()).totalRecordCount).toBe(40);
    const q = vector(4);
    const fromCopy = await copy.query({ vector: q, topK: 5 });
    const fromSource = await source.query({ vector: q, topK: 6 });
    expect(fromCopy.matches.map((m) => m.id)).toEqual(
      fromSource.matches
        .filter((m) => m.id !== "late")
        .slice(0, 5)
        .map((m) => m.id),
    );

    const second = await db.backups.create("src", { name: "second" });
    expect((await db.backups.listByIndex("src")).data?.map((b) => b.name).sort()).toEqual([
      "first",
      "second",
    ]);
    expect((await db.listBackups({ limit: 1 })).pagination?.next).toBe("1");
    await db.backups.delete(second.backupId);
    await db.deleteBackup(backup.backupId);
    expect((await db.listBackups()).data).toEqual([]);
    expect(await refusal(db.describeBackup(backup.backupId))).toMatchObject({ code: "NOT_FOUND" });
    expect(await refusal(db.createBackup({ indexName: "Bad_Name" }))).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
