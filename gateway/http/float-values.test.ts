/**
 * Values read back as written, over HTTP with the official client 9.x: `[0.5, 0.4]` comes back
 * as `[0.5, 0.4]` (not 0.4000000059604645) from fetch, query with includeValues,
 * fetchByMetadata and after an update, for dense and sparse values, from the memtable and from
 * a slab after a restart; the wire's JSON holds the short decimals. A sweep of edge and random
 * float32s (negative zero, subnormals, the largest finite values) reads back bit for bit.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Pinecone } from "@pinecone-database/pinecone";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { shortestFloat32 } from "../library/float32.ts";
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

test("a sweep of edge and random float32s, negative zero included, reads back bit for bit", async () => {
  const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  const fromBits = (pattern: number) => {
    bits[0] = pattern >>> 0;
    return asFloat[0]!;
  };
  const edges = [0, -0, 0x1, 0x80000001, 0x7fffff, 0x800000, 0x7f7fffff, 0xff7fffff, 0x3f7fffff, 0x3f800001];
  const values = edges.map((edge, i) => (i < 2 ? edge : fromBits(edge)));
  while (values.length < 512) {
    const f = fromBits(Math.floor(random() * 2 ** 32));
    if (Number.isFinite(f)) values.push(f);
  }
  const pc = new Pinecone({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
  await pc.createIndex({
    name: "sweep",
    dimension: values.length,
    metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    waitUntilReady: true,
  });
  const index = pc.index({ name: "sweep", host: `${server.url}/index/sweep` });
  // Written as raw JSON: the client's JSON.stringify, like any, prints -0 as 0.
  const upsert = await fetch(`${server.url}/index/sweep/vectors/upsert`, {
    method: "POST",
    headers: { "Api-Key": "x", "Content-Type": "application/json" },
    body: JSON.stringify({ vectors: [{ id: "v", values }] }).replace('"values":[0,0,', '"values":[0,-0,'),
  });
  expect(upsert.status).toBe(200);
  const fetched = (await index.fetch({ ids: ["v"] })).records.v?.values ?? [];
  const queried = (await index.query({ id: "v", topK: 1, includeValues: true })).matches[0]?.values ?? [];
  for (const got of [fetched, queried]) {
    expect(got.length).toBe(values.length);
    for (let i = 0; i < values.length; i++) {
      // Bit for bit: Object.is tells -0 from 0.
      if (!Object.is(Math.fround(got[i]!), values[i]))
        throw new Error(`seed ${seed}: value ${i} ${values[i]} read back as ${got[i]}`);
      expect(Object.is(got[i], shortestFloat32(values[i]!))).toBe(true);
    }
  }
  const raw = await fetch(`${server.url}/index/sweep/vectors/fetch?ids=v`, { headers: { "Api-Key": "x" } });
  expect(await raw.text()).toContain('"values":[0,-0,');
}, 60_000);
