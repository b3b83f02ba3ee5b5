/**
 * Cold reads: a query that had to load a slab (never opened since start, or evicted under the
 * slab cap) says so — `cold` on the answer and on each such source in explain, and the HTTP
 * header `X-Needle-Cold: 1` — and a query over slabs already in memory does not.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine, QueryRequest } from "../../actors/api.ts";
import { openEngine } from "../../actors/mod.ts";
import { coldHeader, createApp } from "./app.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function engineWithSlabs(
  options: { slabActorsResidentMax?: number } = {},
): Promise<{ engine: Engine; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "needle-cold-"));
  dirs.push(dir);
  const settings = { dir, flushRowsMax: 50, packedRowsMax: 0, compaction: { paused: true }, log: () => {} };
  let engine = await openEngine(settings);
  await engine.createIndex({ name: "c", dimension: 2, metric: "euclidean" } as never);
  for (let batch = 0; batch < 3; batch++)
    await engine.upsert(
      "c",
      "",
      Array.from({ length: 50 }, (_, i) => ({ id: `b${batch}-${i}`, values: new Float32Array([batch, i]) })),
    );
  await engine.close(); // flushed; a reopened engine has no slab in memory
  engine = await openEngine({ ...settings, ...options });
  return { engine, dir };
}

const probe: QueryRequest = {
  vector: new Float32Array([1, 1]),
  topK: 3,
  includeValues: false,
  includeMetadata: false,
  explain: true,
};

test("the first query after start is cold, per source and as a whole; the next is warm", async () => {
  const { engine } = await engineWithSlabs();
  try {
    const first = await engine.query("c", "", probe);
    expect(first.cold).toBe(true);
    const slabSources = first.explain!.sources.filter((source) => source.source !== "memtable");
    expect(slabSources.length).toBe(3);
    expect(slabSources.every((source) => source.cold === true)).toBe(true);
    const second = await engine.query("c", "", probe);
    expect(second.cold).toBeUndefined();
    expect(second.explain!.sources.some((source) => source.cold === true)).toBe(false);
    expect(second.matches).toEqual(first.matches);

    const app = createApp(engine, { apiKeys: ["k"], publicUrl: "http://127.0.0.1:1" });
    const response = await app.request("/index/c/query", {
      method: "POST",
      headers: { "Api-Key": "k", "Content-Type": "application/json" },
      body: JSON.stringify({ vector: [1, 1], topK: 3 }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get(coldHeader)).toBeNull(); // warm now
  } finally {
    await engine.close();
  }
});

test("under a slab cap of one, slabs are evicted and every query over three of them is cold", async () => {
  const { engine } = await engineWithSlabs({ slabActorsResidentMax: 1 });
  try {
    const app = createApp(engine, { apiKeys: ["k"], publicUrl: "http://127.0.0.1:1" });
    for (let i = 0; i < 3; i++) {
      const response = await app.request("/index/c/query", {
        method: "POST",
        headers: { "Api-Key": "k", "Content-Type": "application/json" },
        body: JSON.stringify({ vector: [i, 1], topK: 3 }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get(coldHeader)).toBe("1");
      // The cap's eviction runs after the activations: wait for it (bounded) before the next.
      for (let waited = 0; engine.activeActors("slab") > 1; waited += 5) {
        expect(waited).toBeLessThan(5_000);
        await Bun.sleep(5);
      }
    }
  } finally {
    await engine.close();
  }
});
