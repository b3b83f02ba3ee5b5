/**
 * Graduation of a packed namespace whose run has no live row left: every packed row was
 * overwritten before the namespace outgrew packing (what a bulk import resumed after a crash
 * does: it upserts again the batches after its last saved progress). The run must leave
 * without a slab; building one of zero rows failed every flush of the namespace ("a slab
 * holds at least one record"), found by the API import's SIGKILL test.
 */
import { expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEngine } from "./mod.ts";

const rows = (from: number, count: number, salt: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: `r${from + i}`,
    values: new Float32Array([from + i, salt]),
  }));

test("a packed run whose rows were all overwritten graduates without a slab; nothing is lost", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-graduation-"));
  const settings = { dir, flushRowsMax: 100, packedRowsMax: 1000, log: () => {} };
  let engine = await openEngine(settings);
  try {
    await engine.createIndex({ name: "g", dimension: 2, metric: "euclidean" } as never);
    await engine.upsert("g", "", rows(0, 100, 1)); // a flush: packed (100 rows <= 1000)
    const packed = () => engine.describeIndexStats("g").then((stats) => stats.tenancy?.packedFiles ?? 0);
    for (let waited = 0; (await packed()) === 0; waited += 5) {
      expect(waited).toBeLessThan(10_000);
      await Bun.sleep(5);
    }
    // Every packed row overwritten, and enough new ones that the namespace outgrows packing.
    await engine.upsert("g", "", [...rows(0, 100, 2), ...rows(100, 1000, 2)]);
    await engine.close(); // flushes: the graduation happens here
    engine = await openEngine(settings);
    expect((await engine.describeNamespace("g", "")).recordCount).toBe(1100);
    const fetched = await engine.fetch("g", "", ["r0", "r99", "r1099"]);
    expect(fetched.records.map((record) => Array.from(record.values!))).toEqual([
      [0, 2],
      [99, 2],
      [1099, 2],
    ]);
    // Writes and flushes go on.
    await engine.upsert("g", "", rows(2000, 150, 3));
    expect((await engine.describeNamespace("g", "")).recordCount).toBe(1250);
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
});
