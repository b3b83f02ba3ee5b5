/**
 * Durability and isolation of the embedded engine: data survives close and reopen; a flipped
 * byte in one namespace's slab is a typed CORRUPTION error naming the file while other
 * namespaces keep serving; a torn log tail is truncated without losing what came before.
 */
import { afterAll, expect, test } from "bun:test";
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { NeedleError } from "../storage/errors.ts";
import type { VectorRecord } from "../storage/types.ts";
import { namespaceDir } from "./layout.ts";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";
import { randomVector, seededRandom } from "./testing/reference.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-durable-"));
  dirs.push(dir);
  return dir;
}

function records(prefix: string, count: number, seed: number): VectorRecord[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    values: randomVector(random, 12),
    metadata: { i, tag: i % 2 === 0 ? "even" : "odd" },
  }));
}

const query = { topK: 5, vector: new Float32Array(12).fill(0.5), includeValues: true, includeMetadata: true };

test("close and reopen keeps every record, deletes and updates included", async () => {
  const dir = await tempDir();
  let engine = await openEngine({ dir, flushRowsMax: 64, log: () => {} });
  await engine.createIndex({ name: "keep", dimension: 12, metric: "cosine", vectorType: "dense" });
  await engine.upsert("keep", "ns", records("r", 300, 1));
  await engine.delete("keep", "ns", { ids: ["r1", "r2", "r3"] });
  await engine.update("keep", "ns", { id: "r10", setMetadata: { tag: "changed" } });
  const before = await engine.query("keep", "ns", query);
  await engine.close();

  engine = await openEngine({ dir, log: () => {} });
  const stats = await engine.describeIndexStats("keep");
  expect(stats.totalVectorCount).toBe(297);
  expect((await engine.fetch("keep", "ns", ["r1", "r2", "r3"])).records).toEqual([]);
  const updated = await engine.fetch("keep", "ns", ["r10"]);
  expect(updated.records[0]?.metadata).toEqual({ i: 10, tag: "changed" });
  const after = await engine.query("keep", "ns", query);
  expect(after.matches.map((m) => [m.id, m.score])).toEqual(before.matches.map((m) => [m.id, m.score]));
  await engine.close();
});

test("a flipped byte in one namespace's slab names the file; other namespaces keep serving", async () => {
  const dir = await tempDir();
  // A dedicated namespace's slab (packing off); packed slabs: the next test.
  const engine = await openEngine({ dir, flushRowsMax: 50, packedRowsMax: 0, log: () => {} });
  await engine.createIndex({ name: "iso", dimension: 12, metric: "euclidean", vectorType: "dense" });
  await engine.upsert("iso", "bad", records("x", 100, 2));
  await engine.upsert("iso", "good", records("y", 100, 3));
  const goodBefore = await engine.query("iso", "good", query);
  await engine.close();

  const prefix = basename(namespaceDir(dir, "iso", "bad"));
  const slabDir = join(dir, "indexes", "iso", "slabs");
  const victim = (await readdir(slabDir)).find((name) => name.startsWith(prefix))!;
  expect(victim).toBeDefined();
  await expectIsolated(dir, join(slabDir, victim), "bad", "good", goodBefore);
});

/**
 * Flips a byte in the middle of `file`, reopens, and checks that a query of `broken` is
 * CORRUPTION naming the file while `healthy` answers as before and takes writes.
 */
async function expectIsolated(
  dir: string,
  file: string,
  broken: string,
  healthy: string,
  healthyBefore: Awaited<ReturnType<Engine["query"]>>,
): Promise<void> {
  const bytes = await readFile(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
  await writeFile(file, bytes);
  const engine = await openEngine({ dir, log: () => {} });
  let caught: unknown;
  try {
    await engine.query("iso", broken, query);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(NeedleError);
  expect((caught as NeedleError).code).toBe("CORRUPTION");
  expect((caught as NeedleError).message).toContain(basename(file));
  const after = await engine.query("iso", healthy, query);
  expect(after.matches.map((m) => m.id)).toEqual(healthyBefore.matches.map((m) => m.id));
  // Writes to the healthy namespace still work.
  const before = (await engine.describeNamespace("iso", healthy)).recordCount;
  await engine.upsert("iso", healthy, records("z", 2, 4));
  expect((await engine.describeNamespace("iso", healthy)).recordCount).toBe(before + 2);
  await engine.close();
}

test("a damaged packed slab names its file; namespaces packed in other files keep serving", async () => {
  const dir = await tempDir();
  let engine = await openEngine({ dir, log: () => {} });
  await engine.createIndex({ name: "iso", dimension: 12, metric: "euclidean", vectorType: "dense" });
  for (let n = 0; n < 20; n++) await engine.upsert("iso", `bad${n}`, records(`x${n}-`, 3, n));
  await engine.close(); // the bad tenants are packed into one file
  engine = await openEngine({ dir, log: () => {} });
  for (let n = 0; n < 20; n++) await engine.upsert("iso", `good${n}`, records(`y${n}-`, 3, 100 + n));
  const goodBefore = await engine.query("iso", "good7", query);
  await engine.close(); // the good ones into another
  const slabDir = join(dir, "indexes", "iso", "slabs");
  const packed = (await readdir(slabDir)).filter((name) => name.includes("pack")).sort();
  expect(packed).toHaveLength(2);
  await expectIsolated(dir, join(slabDir, packed[0]!), "bad3", "good7", goodBefore);
});

test("a torn log tail is truncated and nothing before it is lost", async () => {
  const dir = await tempDir();
  let engine = await openEngine({ dir, flushRowsMax: 100_000, log: () => {} });
  await engine.createIndex({ name: "torn", dimension: 12, metric: "dotproduct", vectorType: "dense" });
  for (let batch = 0; batch < 5; batch++) await engine.upsert("torn", "", records(`t${batch}-`, 20, batch));
  // Simulate a crash: drop the engine without close (no flush), then tear the log's tail.
  const logDir = join(dir, "indexes", "torn", "log");
  const segments = (await readdir(logDir)).filter((name) => name.endsWith(".wal")).sort();
  const last = join(logDir, segments[segments.length - 1]!);
  const copy = await readFile(last);
  await engine.close();
  // close() flushed; restore the unflushed state by removing the namespace manifests and slabs,
  // so recovery has to come from the log, then append a torn half-record.
  await rm(join(dir, "indexes", "torn", "namespaces"), { recursive: true, force: true });
  await rm(join(dir, "indexes", "torn", "catalog"), { recursive: true, force: true });
  await rm(join(dir, "indexes", "torn", "slabs"), { recursive: true, force: true });
  await writeFile(last, copy);
  await appendFile(last, new Uint8Array([0x20, 0, 0, 0, 7, 7, 7]));

  engine = await openEngine({ dir, log: () => {} });
  expect((await engine.describeIndexStats("torn")).totalVectorCount).toBe(100);
  const fetched = await engine.fetch("torn", "__default__", ["t4-19", "t0-0"]);
  expect(fetched.records.map((r) => r.id)).toEqual(["t4-19", "t0-0"]);
  await engine.close();
});

test("reopening after the log was trimmed replays only what is left (regression: trimmed-log reopen)", async () => {
  const dir = await tempDir();
  const options = { dir, flushRowsMax: 40, logSegmentBytesMax: 4096, log: () => {} };
  let engine = await openEngine(options);
  await engine.createIndex({ name: "trim", dimension: 12, metric: "cosine", vectorType: "dense" });
  for (let batch = 0; batch < 30; batch++) await engine.upsert("trim", "a", records(`a${batch}-`, 10, batch));
  await engine.upsert("trim", "b", records("b", 5, 99));
  await engine.close();
  // The log must really have been trimmed for this test to mean anything: segments are named
  // by their first LSN, and the oldest one left starts well after LSN 1.
  const firstSegment = (await readdir(join(dir, "indexes", "trim", "log"))).sort()[0]!;
  expect(Number.parseInt(firstSegment, 10)).toBeGreaterThan(1);

  engine = await openEngine(options);
  expect((await engine.describeIndexStats("trim")).totalVectorCount).toBe(305);
  const answer = await engine.query("trim", "a", query);
  expect(answer.matches).toHaveLength(5);
  await engine.upsert("trim", "a", records("late", 3, 7));
  expect((await engine.describeNamespace("trim", "a")).recordCount).toBe(303);
  await engine.close();
});
