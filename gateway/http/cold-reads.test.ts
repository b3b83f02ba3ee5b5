/**
 * Cold reads: a query that had to load a slab (never opened since start, or evicted under the
 * slab cap) says so — `cold` on the answer and on each such source in explain, and the HTTP
 * header `X-Needle-Cold: 1` — and a query over slabs already in memory does not.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine, QueryRequest } from "../../actors/api.ts";
import { openEngine } from "../../actors/mod.ts";
import { SlabReader } from "../../storage/slab/mod.ts";
import { coldHeader, createApp } from "./app.ts";
import { startServer } from "./testing.ts";

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

test("a server started with --slab-memory demotes past it: X-Needle-Cold on reads from disk, and /metrics shows it", async () => {
  // Three flat slabs of 50 two-dimensional rows: their index portions (about 1.2 KiB each)
  // fit in 4 KiB, the mapped files do not, so every slab ends up demoted.
  const { engine, dir } = await engineWithSlabs();
  await engine.close();
  const server = await startServer(dir, ["--slab-memory", "4kb", "--metrics-public"]);
  try {
    const query = async (vector: number[], filter?: object) =>
      fetch(`${server.url}/index/c/query`, {
        method: "POST",
        headers: { "Api-Key": "k", "Content-Type": "application/json" },
        body: JSON.stringify({ vector, topK: 3, includeMetadata: true, ...(filter ? { filter } : {}) }),
      });
    for (let i = 0; i < 3; i++) expect((await query([i, 1])).status).toBe(200);
    let metrics = "";
    for (let waited = 0; !/needle_slabs_open\{state="demoted"\} 3/.test(metrics); waited += 20) {
      expect(waited).toBeLessThan(5_000);
      await Bun.sleep(20);
      metrics = await (await fetch(`${server.url}/metrics`)).text();
    }
    expect(metrics).toContain("needle_slab_memory_budget_bytes 4096");
    expect(metrics).toMatch(/needle_slab_demotions_total [1-9]/);
    // Demoted flat slabs read their rows from their files for an unfiltered scan: the answer says so.
    const cold = await query([5, 5]);
    expect(cold.status).toBe(200);
    expect(cold.headers.get(coldHeader)).toBe("1");
    const body = (await cold.json()) as { matches: { id: string }[] };
    expect(body.matches.map((match) => match.id)).toEqual(["b2-5", "b2-4", "b2-6"]);
  } finally {
    expect(await server.stop()).toBe(0);
  }
  const refused = Bun.spawnSync(
    [process.execPath, "run", "scripts/needle.ts", "serve", "--port", "0", "--slab-memory", "lots"],
    { cwd: join(import.meta.dir, "../.."), stdout: "pipe", stderr: "pipe" },
  );
  expect(refused.exitCode).not.toBe(0);
  expect(refused.stderr.toString()).toContain(
    '--slab-memory must be a size such as 512, 64mb or 2gb, got "lots"',
  );
}, 30_000);

test("a hybrid query maps a demoted slab again (its sparse postings need the whole file) and answers as before", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-cold-hybrid-"));
  dirs.push(dir);
  const settings = { dir, flushRowsMax: 40, packedRowsMax: 0, compaction: { paused: true }, log: () => {} };
  let engine = await openEngine(settings);
  await engine.createIndex({ name: "h", dimension: 2, metric: "dotproduct" } as never);
  for (let batch = 0; batch < 3; batch++)
    await engine.upsert(
      "h",
      "",
      Array.from({ length: 40 }, (_, i) => ({
        id: `h${batch}-${i}`,
        values: new Float32Array([batch, i]),
        sparseValues: { indices: Uint32Array.of(i % 5, 10 + batch), values: Float32Array.of(1, i / 10) },
      })),
    );
  const hybrid: QueryRequest = {
    vector: new Float32Array([1, 0.5]),
    sparseVector: { indices: Uint32Array.of(2, 11), values: Float32Array.of(3, 2) },
    topK: 5,
    includeValues: true,
    includeMetadata: false,
    explain: true,
  };
  const expected = (await engine.query("h", "", hybrid)).matches;
  await engine.close();
  // Room for the three index portions and nothing more: every slab is demoted once it served.
  const slabs = join(dir, "indexes", "h", "slabs");
  const files = (await readdir(slabs)).filter((name) => name.endsWith(".slab"));
  expect(files.length).toBe(3);
  const budget = files.reduce(
    (sum, name) => sum + SlabReader.openFile(join(slabs, name)).indexPortionBytes,
    0,
  );
  engine = await openEngine({ ...settings, slabMemoryBudgetBytes: budget });
  try {
    for (let round = 0; round < 2; round++) {
      const answer = await engine.query("h", "", hybrid);
      expect(answer.matches).toEqual(expected);
      expect(answer.cold).toBe(true);
      const sources = answer.explain!.sources.filter((source) => source.source !== "memtable");
      expect(sources.length).toBe(3);
      for (const source of sources) expect(source.cold).toBe(true);
      // The second round finds the slabs demoted: each maps its file again, every row fetched.
      if (round === 1) for (const source of sources) expect(source.rowsFetched).toBe(40);
    }
  } finally {
    await engine.close();
  }
});
