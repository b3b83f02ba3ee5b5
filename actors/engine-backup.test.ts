/**
 * Backups and restores in the embedded engine: a backup taken while writes keep arriving
 * holds exactly the writes through its LSN (checked against an independent float64 model of
 * the acknowledged writes up to that LSN, record by record and query by query); it survives
 * the source's compaction and deletion; a restore into an existing name, an unknown or
 * malformed id are refused; a half-made backup left by a crash is removed at open.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";
import {
  compareTopK,
  denseScore,
  randomVector,
  ReferenceNamespace,
  seededRandom,
} from "./testing/reference.ts";

const dim = 8;
let dir: string;
let engine: Engine;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-backup-"));
  engine = await openEngine({ dir, flushRowsMax: 64, packedRowsMax: 0, log: () => {} });
});
afterEach(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

type Write = {
  lsn: bigint;
  namespace: string;
  upsert?: { id: string; values: Float32Array }[];
  remove?: string[];
};

/** The model of every namespace after the writes with LSN <= `through`, in LSN order. */
function modelAt(writes: Write[], through: bigint): Map<string, ReferenceNamespace> {
  const namespaces = new Map<string, ReferenceNamespace>();
  for (const write of [...writes].sort((a, b) => (a.lsn < b.lsn ? -1 : 1))) {
    if (write.lsn > through) continue;
    let ns = namespaces.get(write.namespace);
    if (!ns) {
      ns = new ReferenceNamespace();
      namespaces.set(write.namespace, ns);
    }
    if (write.upsert) ns.upsert(write.upsert);
    if (write.remove) ns.delete(write.remove);
  }
  return namespaces;
}

async function expectIndexEquals(
  index: string,
  model: Map<string, ReferenceNamespace>,
  random: () => number,
) {
  const stats = await engine.describeIndexStats(index);
  const expectedCounts = [...model.entries()]
    .filter(([, ns]) => ns.records.size > 0)
    .map(([name, ns]) => ({ name, recordCount: ns.records.size }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  expect(stats.namespaces).toEqual(expectedCounts);
  for (const [name, ns] of model) {
    const ids = [...ns.records.keys()];
    for (let from = 0; from < ids.length; from += 500) {
      const fetched = await engine.fetch(index, name, ids.slice(from, from + 500));
      expect(fetched.records.length).toBe(Math.min(500, ids.length - from));
      for (const record of fetched.records)
        expect(Array.from(record.values!)).toEqual(Array.from(ns.records.get(record.id)!.values!));
    }
    for (let q = 0; q < 5; q++) {
      const vector = randomVector(random, dim);
      const answer = await engine.query(index, name, {
        vector,
        topK: 10,
        includeValues: false,
        includeMetadata: false,
      });
      const problem = compareTopK(
        answer.matches,
        ns.topK("euclidean", 10, { vector }),
        (id) => denseScore("euclidean", vector, ns.records.get(id)!.values!),
        true,
      );
      expect(problem).toBe("");
    }
  }
}

test("a backup under concurrent writes restores to exactly the writes through its LSN", async () => {
  const random = seededRandom(42);
  await engine.createIndex({ name: "src", dimension: dim, metric: "euclidean" } as never);
  const writes: Write[] = [];
  const write = async (i: number) => {
    const namespace = `ns${i % 3}`;
    if (i % 5 === 4) {
      const remove = [`r${i - 3}`, `r${i - 7}`];
      const { lsn } = await engine.delete("src", namespace, { ids: remove });
      writes.push({ lsn, namespace, remove });
    } else {
      const upsert = Array.from({ length: 7 }, (_, j) => ({
        id: `r${(i * 7 + j) % 400}`,
        values: randomVector(random, dim),
      }));
      const { lsn } = await engine.upsert("src", namespace, upsert);
      writes.push({ lsn, namespace, upsert });
    }
  };
  for (let i = 0; i < 150; i++) await write(i);
  // Two writers keep going while the backup is taken.
  let stop = false;
  const writers = [0, 1].map(async (w) => {
    for (let i = 150 + w; !stop; i += 2) await write(i);
  });
  await Bun.sleep(20);
  const backup = await engine.createBackup("src", { name: "nightly", description: "under load" });
  await Bun.sleep(20);
  stop = true;
  await Promise.all(writers);
  const after = writes.filter((w) => w.lsn > backup.lsn).length;
  const before = writes.filter((w) => w.lsn <= backup.lsn).length;
  expect(before).toBeGreaterThan(150); // writes kept coming up to the backup ...
  expect(after).toBeGreaterThan(0); // ... and after it: the test means something

  const model = modelAt(writes, backup.lsn);
  expect(backup.recordCount).toBe([...model.values()].reduce((sum, ns) => sum + ns.records.size, 0));
  expect(backup.namespaceCount).toBe([...model.values()].filter((ns) => ns.records.size > 0).length);
  expect(backup).toMatchObject({
    sourceIndexName: "src",
    name: "nightly",
    description: "under load",
    status: "Ready",
  });
  expect(await engine.describeBackup(backup.backupId)).toEqual(backup);
  expect((await engine.listBackups("src")).map((b) => b.backupId)).toEqual([backup.backupId]);

  const { job, index } = await engine.createIndexFromBackup(backup.backupId, { name: "restored" });
  expect(index).toMatchObject({ name: "restored", dimension: dim, metric: "euclidean" });
  expect(job).toMatchObject({ backupId: backup.backupId, targetIndexName: "restored", status: "Completed" });
  expect(await engine.describeRestoreJob(job.restoreJobId)).toEqual(job);
  await expectIndexEquals("restored", model, random);
  // The source went on: it holds the later writes too.
  await expectIndexEquals(
    "src",
    modelAt(
      writes,
      writes
        .map((w) => w.lsn)
        .sort((a, b) => (a < b ? -1 : 1))
        .at(-1)!,
    ),
    random,
  );
});

test("a backup outlives the source's compaction and deletion; restores survive a reopen", async () => {
  const random = seededRandom(7);
  await engine.createIndex({ name: "src", dimension: dim, metric: "euclidean" } as never);
  await engine.pauseCompaction();
  const ns = new ReferenceNamespace();
  for (let batch = 0; batch < 6; batch++) {
    const records = Array.from({ length: 64 }, (_, j) => ({
      id: `b${batch}-${j}`,
      values: randomVector(random, dim),
    }));
    await engine.upsert("src", "", records);
    ns.upsert(records);
  }
  const backup = await engine.createBackup("src", {});
  await engine.resumeCompaction();
  await engine.compactionSettled();
  expect((await engine.compactionStatus()).completed).toBeGreaterThan(0); // the slabs it linked were merged away
  await engine.deleteIndex("src");
  await engine.createIndexFromBackup(backup.backupId, { name: "again", tags: { from: "backup" } });
  expect((await engine.describeIndex("again")).tags).toEqual({ from: "backup" });
  await engine.close();
  engine = await openEngine({ dir, flushRowsMax: 64, packedRowsMax: 0, log: () => {} });
  await expectIndexEquals("again", new Map([["__default__", ns]]), random);
  expect((await engine.listBackups()).map((b) => b.sourceIndexName)).toEqual(["src"]);
  expect((await engine.listRestoreJobs()).length).toBe(1);
});

test("refusals: an existing name, unknown and malformed ids; a half-made backup is removed at open", async () => {
  await engine.createIndex({ name: "src", dimension: dim, metric: "euclidean" } as never);
  await engine.upsert("src", "", [{ id: "a", values: new Float32Array(dim).fill(1) }]);
  const backup = await engine.createBackup("src", {});
  await expect(engine.createIndexFromBackup(backup.backupId, { name: "src" })).rejects.toMatchObject({
    code: "ALREADY_EXISTS",
  });
  await expect(engine.describeBackup("00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({
    code: "NOT_FOUND",
  });
  await expect(engine.describeBackup("../../catalog")).rejects.toMatchObject({ code: "NOT_FOUND" });
  await expect(engine.describeRestoreJob("nope")).rejects.toMatchObject({ code: "NOT_FOUND" });
  await expect(engine.createBackup("missing", {})).rejects.toMatchObject({ code: "NOT_FOUND" });
  await engine.deleteBackup(backup.backupId);
  await expect(engine.describeBackup(backup.backupId)).rejects.toMatchObject({ code: "NOT_FOUND" });
  expect(await engine.listBackups()).toEqual([]);

  // What a crash in the middle of a backup leaves: a building directory, never listed.
  await mkdir(join(dir, "backups", ".building-0e9c3b4a-8d57-4a58-9d7e-2f0f2a7c1f00", "index"), {
    recursive: true,
  });
  expect(await engine.listBackups()).toEqual([]);
  await engine.close();
  engine = await openEngine({ dir, log: () => {} });
  expect(await readdir(join(dir, "backups"))).toEqual([]);
});

test("backups of two indexes at once leave compaction running; an operator's pause stays", async () => {
  for (const name of ["one", "two"]) {
    await engine.createIndex({ name, dimension: dim, metric: "euclidean" } as never);
    await engine.upsert(name, "", [{ id: "a", values: new Float32Array(dim).fill(1) }]);
  }
  const [one, two] = await Promise.all([engine.createBackup("one", {}), engine.createBackup("two", {})]);
  expect([one.recordCount, two.recordCount]).toEqual([1, 1]);
  expect((await engine.compactionStatus()).paused).toBe(false);
  // Paused by the operator before: still paused after a backup.
  await engine.pauseCompaction();
  await engine.createBackup("one", {});
  expect((await engine.compactionStatus()).paused).toBe(true);
});
