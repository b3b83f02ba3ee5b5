/**
 * HTTP fuzz: a bounded, seeded stream of malformed and hostile requests against a live
 * server. Every answer must be 4xx/5xx with a JSON body, the process must keep serving, and
 * the stored data must be unchanged (stats, list and fetch compared before and after).
 * Every request is invalid by construction, so a 2xx is a failure.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeDataDir, type RunningServer, seededRandom, startServer } from "./testing.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`fuzz seed ${seed} (NEEDLE_TEST_SEED to replay)`);
const random = seededRandom(seed);
const requestCount = 400;
const concurrency = 4;
const dimension = 4;

let server: RunningServer;
let dataDir: ReturnType<typeof makeDataDir>;

interface Attempt {
  label: string;
  method: string;
  path: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const goodVector = () => Array.from({ length: dimension }, () => random());

function nested(depth: number): unknown {
  let filter: unknown = { genre: "x" };
  for (let i = 0; i < depth; i++) filter = { [pick(["$and", "$or"])]: [filter] };
  return filter;
}

/** Each generator returns a request that must be refused. */
const generators: (() => Attempt)[] = [
  () => {
    const good = JSON.stringify({ vectors: [{ id: "fz", values: goodVector() }] });
    return {
      label: "truncated JSON",
      method: "POST",
      path: "/index/fuzz/vectors/upsert",
      body: good.slice(0, Math.floor(random() * (good.length - 1))),
    };
  },
  () => ({
    label: "random bytes",
    method: "POST",
    path: pick(["/index/fuzz/vectors/upsert", "/index/fuzz/query", "/indexes", "/index/fuzz/vectors/delete"]),
    body: Uint8Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)),
  }),
  () => ({
    label: "non-finite number",
    method: "POST",
    path: "/index/fuzz/vectors/upsert",
    body: `{"vectors":[{"id":"fz","values":[${pick(["1e999", "-1e999", "1e308", "-3.5e38", '"NaN"', '"Infinity"', "null"])},0,0,0]}]}`,
  }),
  () => ({
    label: "wrong types",
    method: "POST",
    path: "/index/fuzz/vectors/upsert",
    body: JSON.stringify(
      pick([
        { vectors: "abc" },
        { vectors: [{ id: 7, values: goodVector() }] },
        { vectors: [{ id: "fz", values: "1,2,3,4" }] },
        { vectors: [{ id: "fz", values: goodVector(), metadata: [1, 2] }] },
        { vectors: [{ id: "fz", values: goodVector(), metadata: { a: { b: 1 } } }] },
        { vectors: [{ id: "fz", values: goodVector(), metadata: { a: [1, 2] } }] },
        { vectors: [{ id: "fz", values: goodVector() }], namespace: 12 },
        { vectors: [{ id: "", values: goodVector() }] },
        { vectors: [{ id: "fz\u00e9", values: goodVector() }] },
        { vectors: [{ id: "fz", values: goodVector().slice(0, 3) }] },
        { vectors: [{ id: "fz", values: [0, 0, 0, 0, 0] }] },
        { vectors: [{ id: "fz", sparseValues: { indices: [1, 1], values: [0.5, 0.5] } }] },
        { vectors: [{ id: "fz", values: goodVector(), sparseValues: { indices: [-1], values: [1] } }] },
        { vectors: [{ id: "fz", values: goodVector(), sparseValues: { indices: [2 ** 32], values: [1] } }] },
        { vectors: [] },
        { vectors: [{ id: "fz", values: goodVector() }], namespace: "n".repeat(513) },
        [1, 2, 3],
        "just a string",
        42,
      ]),
    ),
  }),
  () => ({
    label: "bad query",
    method: "POST",
    path: "/index/fuzz/query",
    body: JSON.stringify(
      pick([
        { topK: 0, vector: goodVector() },
        { topK: "10", vector: goodVector() },
        { topK: 1.5, vector: goodVector() },
        { topK: 10_001, vector: goodVector() },
        { topK: 3 },
        { topK: 3, vector: goodVector(), id: "a" },
        { topK: 3, vector: goodVector(), filter: { genre: { $regex: ".*" } } },
        { topK: 3, vector: goodVector(), filter: { genre: { $in: "x" } } },
        { topK: 3, vector: goodVector(), filter: { genre: { $gt: "x" } } },
        { topK: 3, vector: goodVector(), filter: { $and: "x" } },
        { topK: 3, vector: goodVector(), filter: nested(100 + Math.floor(random() * 2000)) },
        {
          topK: 3,
          vector: goodVector(),
          filter: { $or: Array.from({ length: 20_000 }, (_, i) => ({ g: `v${i}` })) },
        },
        {
          topK: 3,
          vector: goodVector(),
          filter: { g: { $in: Array.from({ length: 100_000 }, (_, i) => i) } },
        },
      ]),
    ),
  }),
  () => ({
    label: "bad deletes",
    method: "POST",
    path: "/index/fuzz/vectors/delete",
    body: JSON.stringify(
      pick([
        {},
        { ids: "fz-0" },
        { ids: [1, 2] },
        { ids: Array.from({ length: 1001 }, (_, i) => `fz-${i}`) },
        { deleteAll: true, ids: ["fz-0"] },
        { deleteAll: true, filter: { genre: "g1" } },
        { filter: { genre: { $bogus: 1 } } },
        { deleteAll: "yes" },
      ]),
    ),
  }),
  () => ({
    label: "bad updates",
    method: "POST",
    path: "/index/fuzz/vectors/update",
    body: JSON.stringify(
      pick([
        {},
        { id: "fz-0", filter: { genre: "g1" } },
        { id: "fz-0", values: [1, 2] },
        { id: "fz-0", values: [1, 2, 3, Number.MAX_VALUE] },
        { id: "fz-0", setMetadata: { a: null } },
        { id: "fz-0", setMetadata: { $bad: 1 } },
        { filter: { genre: { $bogus: 1 } }, setMetadata: { a: 1 } },
      ]),
    ),
  }),
  () => ({
    label: "oversized body",
    method: "POST",
    path: pick(["/index/fuzz/vectors/upsert", "/index/fuzz/query"]),
    body: `{"vectors":[{"id":"big","values":[1,2,3,4],"metadata":{"pad":"${"x".repeat(2 * 1024 * 1024 + 100)}"}}]}`,
  }),
  () => ({
    label: "wrong method",
    method: pick(["PUT", "DELETE", "PATCH", "GET"]),
    path: pick(["/index/fuzz/query", "/index/fuzz/vectors/upsert", "/index/fuzz/vectors/delete"]),
    body: undefined,
  }),
  () => ({ label: "wrong method on /indexes", method: pick(["PUT", "DELETE", "PATCH"]), path: "/indexes" }),
  () => ({
    label: "unknown or odd paths",
    method: pick(["GET", "POST"]),
    path: pick([
      "/nope",
      "/index",
      "/index/",
      "/index/fuzz",
      "/index/fuzz/vectors",
      "/index/NOT_VALID/query",
      "/index/%00/query",
      "/indexes/%2e%2e",
      "/index/fuzz/vectors/fetch/extra",
      "/vectors/upsert",
    ]),
    body: "{}",
  }),
  () => ({
    label: "bad fetch and list parameters",
    method: "GET",
    path: pick([
      "/index/fuzz/vectors/fetch",
      `/index/fuzz/vectors/fetch?${Array.from({ length: 1001 }, (_, i) => `ids=${i}`).join("&")}`,
      "/index/fuzz/vectors/fetch?ids=",
      "/index/fuzz/vectors/list?limit=0",
      "/index/fuzz/vectors/list?limit=abc",
      "/index/fuzz/vectors/list?limit=1e3",
      "/index/fuzz/namespaces?limit=-1",
      `/index/fuzz/vectors/list?namespace=${"n".repeat(600)}`,
    ]),
  }),
  () => ({
    label: "bad control-plane bodies",
    method: pick(["POST", "PATCH"]),
    path: pick(["/indexes", "/indexes/fuzz"]),
    body: JSON.stringify(
      pick([
        { name: "Bad Name", dimension: 4 },
        { name: "ok-name", dimension: 0 },
        { name: "ok-name", dimension: 20_001 },
        { name: "ok-name", dimension: 4, metric: "manhattan" },
        { name: "ok-name", schema: { fields: { _values: { type: "semantic_text" } } } },
        { deletion_protection: "maybe" },
        { tags: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, "v"])) },
        { tags: { "bad key!": "v" } },
      ]),
    ),
  }),
  () => ({
    label: "giant header on a bad request",
    method: "POST",
    path: "/index/fuzz/query",
    body: "{not json",
    headers: { "X-Filler": "f".repeat(4096 + Math.floor(random() * 4096)) },
  }),
  () => ({
    label: "bad min-LSN header",
    method: "POST",
    path: "/index/fuzz/query",
    body: JSON.stringify({ topK: 1, vector: goodVector() }),
    headers: { "X-Needle-Min-Lsn": pick(["-1", "abc", "1".repeat(30), "1.5"]) },
  }),
];

async function send(attempt: Attempt): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${attempt.path}`, {
    method: attempt.method,
    headers: { "Api-Key": "x", "content-type": "application/json", ...(attempt.headers ?? {}) },
    ...(attempt.body !== undefined && attempt.method !== "GET" ? { body: attempt.body } : {}),
  });
  return { status: response.status, text: await response.text() };
}

async function snapshot(): Promise<string> {
  const stats = await (
    await send({ label: "", method: "POST", path: "/index/fuzz/describe_index_stats", body: "{}" })
  ).text;
  const list = await (await send({ label: "", method: "GET", path: "/index/fuzz/vectors/list?limit=100" }))
    .text;
  const ids = Array.from({ length: 30 }, (_, i) => `ids=fz-${i}`).join("&");
  const fetched = await (await send({ label: "", method: "GET", path: `/index/fuzz/vectors/fetch?${ids}` }))
    .text;
  const indexes = await (await send({ label: "", method: "GET", path: "/indexes" })).text;
  return JSON.stringify({
    stats: JSON.parse(stats),
    list: JSON.parse(list),
    fetched: JSON.parse(fetched),
    indexes: JSON.parse(indexes),
  });
}

beforeAll(async () => {
  dataDir = makeDataDir("fuzz");
  server = await startServer(dataDir.dir);
  const created = await send({
    label: "",
    method: "POST",
    path: "/indexes",
    body: JSON.stringify({ name: "fuzz", dimension }),
  });
  expect(created.status).toBe(201);
  const vectors = Array.from({ length: 25 }, (_, i) => ({
    id: `fz-${i}`,
    values: goodVector(),
    metadata: { genre: `g${i % 3}` },
  }));
  const upserted = await send({
    label: "",
    method: "POST",
    path: "/index/fuzz/vectors/upsert",
    body: JSON.stringify({ vectors }),
  });
  expect(upserted.status).toBe(200);
}, 60_000);

afterAll(async () => {
  if (server !== undefined) expect(await server.stop()).toBe(0);
  dataDir?.remove();
}, 60_000);

test(`${requestCount} hostile requests: all refused with JSON, server alive, data unchanged`, async () => {
  const before = await snapshot();
  const attempts = Array.from({ length: requestCount }, () => pick(generators)());
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < attempts.length) {
      const attempt = attempts[next++]!;
      const { status, text } = await send(attempt);
      let isJson = true;
      try {
        JSON.parse(text);
      } catch {
        isJson = false;
      }
      if (status < 400 || status > 599 || !isJson) {
        failures.push(
          `${attempt.label}: ${attempt.method} ${attempt.path.slice(0, 80)} -> ${status} ${text.slice(0, 120)}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  expect(failures).toEqual([]);
  // Still serving, and nothing changed.
  expect((await send({ label: "", method: "GET", path: "/indexes" })).status).toBe(200);
  expect(await snapshot()).toBe(before);
}, 120_000);
