/**
 * GET /metrics against the real engine: each metric is read before and after the thing that
 * should move it, so a metric wired to nothing (or to the wrong cause) fails.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine } from "../../actors/api.ts";
import { openEngine } from "../../actors/mod.ts";
import { createApp } from "./app.ts";

const key = "metrics-key";

/** The value of one sample (`name{labels} value`); labels must match exactly, in Prometheus' order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const rendered = Object.entries(labels)
    .map(([label, value]) => `${label}="${value}"`)
    .join(",");
  const head = rendered === "" ? `${name} ` : `${name}{${rendered}} `;
  const line = text.split("\n").find((candidate) => candidate.startsWith(head));
  return line === undefined ? undefined : Number(line.slice(head.length));
}

function vector(dimension: number, seed: number): number[] {
  return Array.from({ length: dimension }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));
}

describe("GET /metrics", () => {
  let dir: string;
  let engine: Engine;
  let app: ReturnType<typeof createApp>;
  const call = (method: string, path: string, body?: unknown, withKey = true) =>
    app.request(path, {
      method,
      headers: { ...(withKey ? { "Api-Key": key } : {}), "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const scrape = async () => {
    const response = await call("GET", "/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    return response.text();
  };
  const upsert = (from: number, count: number, namespace = "") =>
    call("POST", "/index/m/vectors/upsert", {
      namespace,
      vectors: Array.from({ length: count }, (_, i) => ({ id: `v${from + i}`, values: vector(8, from + i) })),
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "needle-metrics-"));
    engine = await openEngine({
      dir,
      flushRowsMax: 50,
      packedRowsMax: 0,
      compaction: { paused: true, l0MergeTrigger: 2 },
      log: () => {},
    });
    app = createApp(engine, { apiKeys: [key], publicUrl: "http://127.0.0.1:1" });
    const created = await call("POST", "/indexes", {
      name: "m",
      dimension: 8,
      metric: "cosine",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("needs the API key unless --metrics-public", async () => {
    expect((await call("GET", "/metrics", undefined, false)).status).toBe(401);
    const open = createApp(engine, { apiKeys: [key], publicUrl: "http://127.0.0.1:1", metricsPublic: true });
    const response = await open.request("/metrics");
    expect(response.status).toBe(200);
    expect(sample(await response.text(), "needle_index_records", { index: "m" })).toBeNumber();
  });

  test("requests are counted and timed per route pattern and status", async () => {
    const route = { method: "GET", route: "/indexes/:name", status: "200" };
    const missing = { method: "GET", route: "/indexes/:name", status: "404" };
    const before = await scrape();
    expect((await call("GET", "/indexes/m")).status).toBe(200);
    expect((await call("GET", "/indexes/m")).status).toBe(200);
    expect((await call("GET", "/indexes/nope")).status).toBe(404);
    expect((await call("GET", "/no/such/route")).status).toBe(404);
    const after = await scrape();
    const delta = (text: string, name: string, labels: Record<string, string>) =>
      (sample(after, name, labels) ?? 0) - (sample(text, name, labels) ?? 0);
    expect(delta(before, "needle_http_requests_total", route)).toBe(2);
    expect(delta(before, "needle_http_requests_total", missing)).toBe(1);
    expect(delta(before, "needle_http_request_duration_seconds_count", route)).toBe(2);
    expect(sample(after, "needle_http_request_duration_seconds_bucket", { le: "+Inf", ...route })).toBe(
      sample(after, "needle_http_requests_total", route),
    );
    // Unknown paths share one label value, so a scanner cannot blow up the series count.
    expect(after).toContain('route="unmatched",status="404"');
    expect(after).not.toContain("/no/such/route");
  });

  test("writes move records, memtable bytes, the log's bytes and the fsync histogram", async () => {
    const before = await scrape();
    expect((await upsert(0, 10)).status).toBe(200);
    const after = await scrape();
    const index = { index: "m" };
    expect(sample(after, "needle_index_records", index)).toBe(
      (sample(before, "needle_index_records", index) ?? 0) + 10,
    );
    expect(sample(after, "needle_index_memtable_bytes", index)!).toBeGreaterThan(
      sample(before, "needle_index_memtable_bytes", index) ?? 0,
    );
    expect(sample(after, "needle_index_request_log_bytes", index)!).toBeGreaterThan(
      sample(before, "needle_index_request_log_bytes", index) ?? 0,
    );
    expect(sample(after, "needle_fsync_duration_seconds_count")!).toBeGreaterThan(
      sample(before, "needle_fsync_duration_seconds_count") ?? 0,
    );
    expect(sample(after, "needle_index_namespaces", index)).toBe(1);
    expect(sample(after, "needle_index_namespaces_resident", index)).toBe(1);
    expect((await upsert(100, 3, "second")).status).toBe(200);
    const third = await scrape();
    expect(sample(third, "needle_index_namespaces", index)).toBe(2);
    expect(sample(third, "needle_index_namespaces_resident", index)).toBe(2);
  });

  test("flushes move slabs per level; a compaction moves the queue, the count and its duration", async () => {
    // 10 rows are in the memtable from the test before: 40 more fill it (a flush), 50 more again.
    expect((await upsert(10, 40)).status).toBe(200);
    expect((await upsert(50, 50)).status).toBe(200);
    let text = await scrape();
    for (let waited = 0; sample(text, "needle_index_compaction_queued", { index: "m" }) !== 1; waited += 10) {
      expect(waited).toBeLessThan(10_000);
      await Bun.sleep(10);
      text = await scrape();
    }
    const level0 = { index: "m", level: "0" };
    expect(sample(text, "needle_index_slabs", level0)).toBe(2);
    expect(sample(text, "needle_index_slab_rows", level0)).toBe(100);
    expect(sample(text, "needle_index_slab_bytes", level0)!).toBeGreaterThan(0);
    expect(sample(text, "needle_compaction_paused")).toBe(1);
    expect(sample(text, "needle_compactions_total")).toBe(0);
    expect(sample(text, "needle_index_compaction_last_duration_seconds", { index: "m" })).toBeUndefined();

    await engine.resumeCompaction();
    await engine.compactionSettled();
    text = await scrape();
    expect(sample(text, "needle_compactions_total")).toBe(1);
    expect(sample(text, "needle_compaction_paused")).toBe(0);
    expect(sample(text, "needle_index_compaction_queued", { index: "m" })).toBe(0);
    expect(sample(text, "needle_index_slabs", level0)).toBeUndefined();
    expect(sample(text, "needle_index_slabs", { index: "m", level: "1" })).toBe(1);
    expect(sample(text, "needle_index_compaction_last_duration_seconds", { index: "m" })!).toBeGreaterThan(0);
  });

  test("reads count cache hits of resident actors and misses of activations", async () => {
    const before = await scrape();
    const query = () => call("POST", "/index/m/query", { vector: vector(8, 3), topK: 3, namespace: "" });
    expect((await query()).status).toBe(200);
    expect((await query()).status).toBe(200);
    const after = await scrape();
    const hits = { kind: "namespace" };
    expect(sample(after, "needle_actor_cache_hits_total", hits)!).toBeGreaterThanOrEqual(
      (sample(before, "needle_actor_cache_hits_total", hits) ?? 0) + 2,
    );
    expect(sample(after, "needle_actor_cache_misses_total", { kind: "namespace" })!).toBeGreaterThanOrEqual(
      2,
    );
    expect(sample(after, "needle_actors_active", { kind: "namespace" })).toBe(2);
    expect(sample(after, "needle_process_resident_memory_bytes")!).toBeGreaterThan(0);
  });
});

test("a full mailbox's refusals are counted as OVERLOADED answers", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-metrics-overload-"));
  // Every write to the index's writer waits until released, so the namespace's mailbox fills.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding = false;
  const engine = await openEngine({
    dir,
    mailboxDepthMax: 2,
    log: () => {},
    deliveryFault: (target) => (holding && target.kind === "writer" ? held : undefined),
  });
  try {
    const app = createApp(engine, { apiKeys: [], publicUrl: "http://127.0.0.1:1" });
    const scrape = async () => (await app.request("/metrics", { headers: { Host: "127.0.0.1" } })).text();
    await engine.createIndex({ name: "o", dimension: 2, metric: "euclidean" } as never);
    await engine.upsert("o", "", [{ id: "a", values: new Float32Array([1, 2]) }]);
    const before = sample(await scrape(), "needle_actor_overloaded_total", { kind: "namespace" }) ?? 0;
    holding = true;
    const writes = Array.from({ length: 8 }, (_, i) =>
      engine.upsert("o", "", [{ id: `w${i}`, values: new Float32Array([i, i]) }]).then(
        () => "ok",
        (error: { code?: string }) => error.code,
      ),
    );
    await Bun.sleep(50);
    const during = await scrape();
    release();
    const outcomes = await Promise.all(writes);
    const refused = outcomes.filter((outcome) => outcome === "OVERLOADED").length;
    expect(refused).toBeGreaterThan(0);
    const after = await scrape();
    // Every refusal a client saw, and any that the actors' own messages (or the scrape's) met.
    expect(sample(after, "needle_actor_overloaded_total", { kind: "namespace" })!).toBeGreaterThanOrEqual(
      before + refused,
    );
    expect(sample(during, "needle_actor_mailbox_depth", { kind: "namespace" })!).toBeGreaterThan(0);
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
});
