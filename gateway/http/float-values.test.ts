/**
 * Values read back as written, over HTTP with the official client 9.x: `[0.5, 0.4]` comes back
 * as `[0.5, 0.4]` (not 0.4000000059604645) from fetch, query with includeValues,
 * fetchByMetadata and after an update, for dense and sparse values, from the memtable and from
 * a slab after a restart; the wire's JSON holds the short decimals.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Pinecone } from "@pinecone-database/pinecone";
import { makeDataDir, type RunningServer, startServer } from "./testing.ts";

let server: RunningServer;
let dataDir: ReturnType<typeof makeDataDir>;

beforeAll(async () => {
  dataDir = makeDataDir("float-values");
  server = await startServer(dataDir.dir);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  dataDir?.remove();
});

test("values and scores come back as the shortest decimal that reads back as the same float32", async () => {
  let pc = new Pinecone({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
  await pc.createIndex({
    name: "floats",
    dimension: 2,
    metric: "dotproduct",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    waitUntilReady: true,
  });
  let index = pc.index({ name: "floats" });
  await index.upsert({
    records: [
      {
        id: "a",
        values: [0.5, 0.4],
        sparseValues: { indices: [1, 7], values: [0.3, 0.7] },
        metadata: { tag: "x" },
      },
      { id: "b", values: [0.1, 0.2] },
    ],
  });
  const check = async () => {
    const fetched = await index.fetch({ ids: ["a"] });
    expect(fetched.records.a?.values).toEqual([0.5, 0.4]);
    expect(fetched.records.a?.sparseValues?.values).toEqual([0.3, 0.7]);
    const queried = await index.query({ vector: [1, 1], topK: 2, includeValues: true });
    expect(queried.matches.map((match) => match.values)).toEqual([
      [0.5, 0.4],
      [0.1, 0.2],
    ]);
    // The scores are float32 too: 0.5 + 0.4 in float32 is 0.9 (shortest), 0.1 + 0.2 is 0.3.
    expect(queried.matches.map((match) => match.score)).toEqual([0.9, 0.3]);
    const byMetadata = await index.fetchByMetadata({ filter: { tag: "x" } });
    expect(byMetadata.records.a?.values).toEqual([0.5, 0.4]);
    const raw = await fetch(`${server.url}/index/floats/vectors/fetch?ids=a`, {
      headers: { "Api-Key": "x" },
    });
    const text = await raw.text();
    expect(text).toContain("[0.5,0.4]");
    expect(text).toContain("[0.3,0.7]");
    expect(text).not.toContain("0.4000000059604645");
  };
  await check();
  await index.update({ id: "b", values: [0.7, 0.6] });
  expect((await index.fetch({ ids: ["b"] })).records.b?.values).toEqual([0.7, 0.6]);
  await index.update({ id: "b", values: [0.1, 0.2] });

  // From a slab, after a restart.
  expect(await server.stop()).toBe(0);
  server = await startServer(dataDir.dir);
  pc = new Pinecone({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
  // The client caches index hosts by name: name the new server's host.
  index = pc.index({ name: "floats", host: `${server.url}/index/floats` });
  await check();
}, 60_000);
