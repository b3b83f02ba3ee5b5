/**
 * The HTTP surface against hostile or merely large use: keyless mode kept away from web pages
 * (cross-site simple requests, DNS rebinding), the 4 MB query result limit, a GET fetch of
 * 1,000 long ids, the server's idle timeout, and namespace names a URL path cannot carry.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pinecone } from "@pinecone-database/pinecone";
import type { Engine } from "../../actors/api.ts";
import packageJson from "../../package.json";
import { queryResultBytesMax } from "../schemas/limits.ts";
import { createApp, httpHeaderSizeFlag, requestTimeoutMsDefault, serverIdleTimeoutSeconds } from "./app.ts";
import { makeDataDir, type RunningServer, startServer } from "./testing.ts";

describe("keyless mode refuses what a web page could send", () => {
  const calls: string[] = [];
  const engine = new Proxy({} as Engine, {
    get: (_target, method: string) => async () => {
      calls.push(method);
      if (method === "delete") return { lsn: 1n };
      if (method === "listIndexes") return [];
      return undefined;
    },
  });
  const app = createApp(engine, { apiKeys: [], publicUrl: "http://127.0.0.1:5080" });
  const deleteAll = JSON.stringify({ deleteAll: true, namespace: "n" });

  test("a cross-site simple POST (text/plain, form, none) is 415 and reaches nothing", async () => {
    for (const contentType of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]) {
      const response = await app.request("http://127.0.0.1:5080/index/movies/vectors/delete", {
        method: "POST",
        headers: { "content-type": contentType, host: "127.0.0.1:5080" },
        body: deleteAll,
      });
      expect(response.status).toBe(415);
      expect(((await response.json()) as { message: string }).message).toContain("application/json");
    }
    const bare = await app.request("http://127.0.0.1:5080/indexes", { method: "POST", body: "{}" });
    expect(bare.status).toBe(415);
    expect(calls).toEqual([]);
  });

  test("a foreign Host (DNS rebinding) or Origin is 403; loopback names pass", async () => {
    for (const host of [
      "attacker.example",
      "attacker.example:5080",
      "10.0.0.7:5080",
      "127.0.0.1.attacker.example",
    ]) {
      const response = await app.request("http://127.0.0.1:5080/indexes", { headers: { host } });
      expect(response.status).toBe(403);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain("loopback");
    }
    const origin = await app.request("http://127.0.0.1:5080/index/movies/vectors/delete", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        host: "127.0.0.1:5080",
        origin: "https://attacker.example",
      },
      body: deleteAll,
    });
    expect(origin.status).toBe(403);
    expect(calls).toEqual([]);
    for (const host of ["127.0.0.1:5080", "localhost:5080", "LOCALHOST", "[::1]:5080", "127.3.2.1"]) {
      const response = await app.request("http://127.0.0.1:5080/indexes", { headers: { host } });
      expect(response.status).toBe(200);
    }
    const local = await app.request("http://127.0.0.1:5080/index/movies/vectors/delete", {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", origin: "http://localhost:3000" },
      body: deleteAll,
    });
    expect(local.status).toBe(200);
    expect(calls).toContain("delete");
  });

  test("with API keys, a request naming another host is served (the key is the guard)", async () => {
    const keyed = createApp(engine, { apiKeys: ["k"], publicUrl: "http://needle.internal:5080" });
    const response = await keyed.request("http://needle.internal:5080/indexes", {
      headers: { host: "needle.internal:5080", "Api-Key": "k" },
    });
    expect(response.status).toBe(200);
  });
});

test("namespaces '.' and '..' are refused: no URL path could name them again", async () => {
  const engine = new Proxy({} as Engine, { get: () => async () => ({ lsn: 1n, upsertedCount: 1 }) });
  const app = createApp(engine, { apiKeys: ["k"], publicUrl: "http://127.0.0.1:5080" });
  for (const namespace of [".", ".."]) {
    const response = await app.request("/index/movies/vectors/delete", {
      method: "POST",
      headers: { "content-type": "application/json", "Api-Key": "k" },
      body: JSON.stringify({ deleteAll: true, namespace }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { message: string; details: { field: string }[] };
    expect(body.details[0]!.field).toBe("namespace");
    expect(body.message).toContain("'.' or '..'");
  }
});

test("the server's idle timeout outlasts the gateway's request timeout; the start scripts raise the header limit", () => {
  expect(serverIdleTimeoutSeconds * 1000).toBeGreaterThan(requestTimeoutMsDefault);
  expect(packageJson.scripts.start).toContain(httpHeaderSizeFlag);
  expect(packageJson.scripts.needle).toContain(httpHeaderSizeFlag);
});

describe("a real server with large answers", () => {
  let server: RunningServer;
  let data: { dir: string; remove(): void };
  const dimension = 4;
  const recordCount = 200;
  const metadataText = "m".repeat(30_000);
  const headers = { "content-type": "application/json", "Api-Key": "k" };
  let base: string;

  beforeAll(async () => {
    data = makeDataDir("surface");
    server = await startServer(data.dir);
    base = `${server.url}/index/big`;
    const created = await fetch(`${server.url}/indexes`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "big", dimension, metric: "euclidean" }),
    });
    expect(created.status).toBe(201);
    for (let start = 0; start < recordCount; start += 50) {
      const vectors = Array.from({ length: 50 }, (_, i) => ({
        id: `r${String(start + i).padStart(4, "0")}`,
        values: [start + i, 1, 2, 3],
        metadata: { text: metadataText, group: "all" },
      }));
      const upserted = await fetch(`${base}/vectors/upsert`, {
        method: "POST",
        headers,
        body: JSON.stringify({ vectors }),
      });
      expect(upserted.status).toBe(200);
    }
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    data?.remove();
  });

  test("a query whose result would pass 4 MB is 400 naming topK; a smaller one is served", async () => {
    const query = (topK: number) =>
      fetch(`${base}/query`, {
        method: "POST",
        headers,
        body: JSON.stringify({ vector: [0, 1, 2, 3], topK, includeMetadata: true }),
      });
    const refused = await query(recordCount);
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { message: string; details: { field: string; limit: string }[] };
    expect(body.details[0]!.field).toBe("topK");
    expect(body.details[0]!.limit).toBe(`results of at most ${queryResultBytesMax} bytes`);
    const served = await query(100);
    expect(served.status).toBe(200);
    const text = await served.text();
    expect(text.length).toBeLessThan(queryResultBytesMax);
    expect((JSON.parse(text) as { matches: unknown[] }).matches).toHaveLength(100);
    // Without metadata the same topK is small and served.
    const lean = await fetch(`${base}/query`, {
      method: "POST",
      headers,
      body: JSON.stringify({ vector: [0, 1, 2, 3], topK: recordCount }),
    });
    expect(lean.status).toBe(200);
  });

  test("fetch_by_metadata pages end at 4 MB and paging still returns every record once", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const response = await fetch(`${base}/vectors/fetch_by_metadata`, {
        method: "POST",
        headers,
        body: JSON.stringify({ filter: { group: "all" }, limit: 10_000, paginationToken: token }),
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text.length).toBeLessThan(queryResultBytesMax + 64 * 1024);
      const page = JSON.parse(text) as { vectors: Record<string, unknown>; pagination?: { next: string } };
      seen.push(...Object.keys(page.vectors));
      token = page.pagination?.next;
      pages++;
    } while (token !== undefined);
    expect(pages).toBeGreaterThan(1);
    expect(seen.sort()).toEqual(
      Array.from({ length: recordCount }, (_, i) => `r${String(i).padStart(4, "0")}`),
    );
  });

  test("the official client fetches 1,000 long ids with one GET", async () => {
    const client = new Pinecone({ apiKey: "k", controllerHostUrl: server.url });
    const index = client.index({ name: "big", host: base });
    const long = (i: number) => `${"id-".padEnd(400, "x")}${i}`;
    await index.upsert({
      records: Array.from({ length: 3 }, (_, i) => ({ id: long(i), values: [i, 0, 0, 1] })),
    });
    const ids = Array.from({ length: 1000 }, (_, i) => long(i));
    const fetched = await index.fetch({ ids });
    expect(Object.keys(fetched.records).sort()).toEqual([long(0), long(1), long(2)].sort());
  });
});
