/**
 * Conformance: the official client `@pinecone-database/pinecone` 9.0.0 against a real Needle
 * server process (scripts/needle.ts serve on a free port). Every control-plane and data-plane
 * call the client makes, the error cases, and results checked against an exact reference
 * computed here (brute-force float64 top-k, a naive filter evaluator, pagination unions,
 * stats after deletes). Modelled on what the client's own integration tests check.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pinecone } from "@pinecone-database/pinecone";
import { shortestFloat32 } from "../library/float32.ts";
import { lsnHeader, minLsnHeader } from "./app.ts";
import { makeDataDir, type RunningServer, seededRandom, startServer } from "./testing.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? 20261130);
console.log(`conformance seed ${seed} (NEEDLE_TEST_SEED to replay)`);
const random = seededRandom(seed);

type Metadata = Record<string, string | number | boolean | string[]>;
interface Row {
  id: string;
  values: number[];
  metadata: Metadata;
}
type MetricName = "cosine" | "euclidean" | "dotproduct";

const dimension = 8;
const rowCount = 240;
const genres = ["drama", "comedy", "action", "horror", "documentary"];
const labels = ["a", "b", "c", "d"];

function gaussian(): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Values rounded to float32 as the server stores them, so the reference sees the same numbers. */
function vector(): number[] {
  return Array.from({ length: dimension }, () => shortestFloat32(Math.fround(gaussian())));
}

function makeRows(prefix: string): Row[] {
  return Array.from({ length: rowCount }, (_, i) => {
    const metadata: Metadata = {
      genre: genres[Math.floor(random() * genres.length)]!,
      year: 1980 + Math.floor(random() * 45),
      labels: labels.filter(() => random() < 0.4),
      premium: random() < 0.3,
    };
    if (random() < 0.5) metadata.rating = Math.round(random() * 50) / 10;
    return { id: `${prefix}-${String(i).padStart(4, "0")}`, values: vector(), metadata };
  });
}

// ----------------------------------------------------------------------- reference model

function score(metric: MetricName, a: number[], b: number[]): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  let squared = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    normA += a[i]! * a[i]!;
    normB += b[i]! * b[i]!;
    squared += (a[i]! - b[i]!) ** 2;
  }
  if (metric === "cosine") return dot / Math.sqrt(normA * normB);
  if (metric === "dotproduct") return dot;
  return squared;
}

function topK(metric: MetricName, rows: Row[], query: number[], k: number): { id: string; score: number }[] {
  const scored = rows.map((row) => ({ id: row.id, score: score(metric, row.values, query) }));
  scored.sort((x, y) => (metric === "euclidean" ? x.score - y.score : y.score - x.score));
  return scored.slice(0, k);
}

type FilterValue = string | number | boolean;

/** A deliberately naive evaluator of Pinecone's filter language, independent of storage/filter. */
function matches(metadata: Metadata, filter: Record<string, unknown>): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === "$and") return (condition as Record<string, unknown>[]).every((f) => matches(metadata, f));
    if (key === "$or") return (condition as Record<string, unknown>[]).some((f) => matches(metadata, f));
    const operators =
      condition !== null && typeof condition === "object" && !Array.isArray(condition)
        ? (condition as Record<string, unknown>)
        : { $eq: condition };
    const value = metadata[key];
    const candidates: FilterValue[] = value === undefined ? [] : Array.isArray(value) ? value : [value];
    return Object.entries(operators).every(([op, operand]) => {
      switch (op) {
        case "$exists":
          return (value !== undefined) === operand;
        case "$eq":
          return candidates.some((c) => c === operand);
        case "$ne":
          return !candidates.some((c) => c === operand);
        case "$gt":
          return candidates.some((c) => typeof c === "number" && c > (operand as number));
        case "$gte":
          return candidates.some((c) => typeof c === "number" && c >= (operand as number));
        case "$lt":
          return candidates.some((c) => typeof c === "number" && c < (operand as number));
        case "$lte":
          return candidates.some((c) => typeof c === "number" && c <= (operand as number));
        case "$in":
          return candidates.some((c) => (operand as FilterValue[]).includes(c));
        case "$nin":
          return !candidates.some((c) => (operand as FilterValue[]).includes(c));
        default:
          throw new Error(`reference evaluator: unknown operator ${op}`);
      }
    });
  });
}

const filters: Record<string, unknown>[] = [
  { genre: { $eq: "drama" } },
  { genre: "comedy" },
  { genre: { $ne: "action" } },
  { year: { $gte: 2000 } },
  { year: { $gt: 1990, $lt: 2005 } },
  { rating: { $lte: 2.5 } },
  { genre: { $in: ["horror", "documentary"] } },
  { genre: { $nin: ["drama", "comedy"] } },
  { labels: { $in: ["a"] } },
  { labels: "b" },
  { rating: { $exists: true } },
  { rating: { $exists: false } },
  { premium: true },
  { $and: [{ genre: "drama" }, { year: { $lt: 2000 } }] },
  { $or: [{ genre: "action" }, { premium: true }] },
  { $or: [{ $and: [{ labels: "c" }, { year: { $gte: 1995 } }] }, { rating: { $gt: 4 } }] },
];

// ----------------------------------------------------------------------- harness

let server: RunningServer;
let pc: Pinecone;
let dataDir: ReturnType<typeof makeDataDir>;

async function expectError(promise: Promise<unknown>, name: string, messagePart?: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(Error);
  expect((caught as Error).name).toBe(name);
  if (messagePart !== undefined) expect((caught as Error).message).toContain(messagePart);
}

async function raw(path: string, init: RequestInit = {}): Promise<Response> {
  return await fetch(`${server.url}${path}`, {
    ...init,
    headers: { "Api-Key": "x", "content-type": "application/json", ...(init.headers ?? {}) },
  });
}

async function upsertAll(
  index: ReturnType<Pinecone["index"]>,
  rows: Row[],
  namespace?: string,
): Promise<void> {
  for (let start = 0; start < rows.length; start += 100) {
    await index.upsert({ records: rows.slice(start, start + 100), ...(namespace ? { namespace } : {}) });
  }
}

beforeAll(async () => {
  dataDir = makeDataDir("conformance");
  server = await startServer(dataDir.dir);
  pc = new Pinecone({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  if (server !== undefined) expect(await server.stop()).toBe(0);
  dataDir?.remove();
}, 60_000);

// ----------------------------------------------------------------------- control plane

describe("control plane", () => {
  test("create (legacy options and native schema), describe, list", async () => {
    const created = await pc.createIndex({
      name: "movies",
      dimension,
      metric: "cosine",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } },
      tags: { team: "search" },
      waitUntilReady: true,
    });
    expect(created).toBeDefined();
    expect(created!.name).toBe("movies");
    expect(created!.dimension).toBe(dimension);
    expect(created!.metric).toBe("cosine");
    expect(created!.status.ready).toBe(true);
    expect(created!.host).toBe(`${server.url}/index/movies`);
    expect(created!.tags).toEqual({ team: "search" });

    const native = await pc.indexes.create({
      name: "places",
      schema: { fields: { _values: { type: "dense_vector", dimension, metric: "euclidean" } } },
      deployment: { deploymentType: "managed", cloud: "gcp", region: "europe-west4" },
    });
    expect(native!.schema.fields._values).toMatchObject({
      type: "dense_vector",
      dimension,
      metric: "euclidean",
    });
    expect(native!.deployment).toMatchObject({
      deploymentType: "managed",
      cloud: "gcp",
      region: "europe-west4",
    });

    const sparse = await pc.createIndex({
      name: "terms",
      vectorType: "sparse",
      metric: "dotproduct",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    });
    expect(sparse!.vectorType).toBe("sparse");

    const described = await pc.describeIndex("places");
    expect(described.metric).toBe("euclidean");
    expect(described.dimension).toBe(dimension);
    expect(described.deletionProtection).toBe("disabled");

    const listed = await pc.listIndexes();
    expect((listed.indexes ?? []).map((index) => index.name).sort()).toEqual(["movies", "places", "terms"]);
  });

  test("duplicate 409 (and suppressConflicts), bad name 400, unknown 404", async () => {
    await expectError(
      pc.createIndex({
        name: "movies",
        dimension,
        spec: { serverless: { cloud: "aws", region: "us-east-1" } },
      }),
      "PineconeConflictError",
    );
    const suppressed = await pc.createIndex({
      name: "movies",
      dimension,
      spec: { serverless: { cloud: "aws", region: "us-east-1" } },
      suppressConflicts: true,
    });
    expect(suppressed).toBeUndefined();
    await expectError(
      pc.createIndex({
        name: "Bad_Name!",
        dimension,
        spec: { serverless: { cloud: "aws", region: "us-east-1" } },
      }),
      "PineconeBadRequestError",
      "alphanumeric character",
    );
    await expectError(pc.describeIndex("does-not-exist"), "PineconeNotFoundError");
    await expectError(pc.deleteIndex("does-not-exist"), "PineconeNotFoundError");
  });

  test("configure: deletion protection blocks delete; tags merge and remove", async () => {
    const protectedModel = await pc.indexes.configure("terms", { deletionProtection: "enabled" });
    expect(protectedModel.deletionProtection).toBe("enabled");
    await expectError(pc.deleteIndex("terms"), "PineconeBadRequestError", "Deletion protection");
    expect((await pc.describeIndex("terms")).name).toBe("terms");
    await pc.indexes.configure("terms", { deletionProtection: "disabled" });

    await pc.indexes.configure("movies", { tags: { env: "test" } });
    expect((await pc.describeIndex("movies")).tags).toEqual({ team: "search", env: "test" });
    await pc.indexes.configure("movies", { tags: { team: "" } });
    expect((await pc.describeIndex("movies")).tags).toEqual({ env: "test" });
  });

  test("removing the last tag leaves no tags, as Pinecone describes it", async () => {
    await pc.indexes.configure("places", { tags: { only: "one" } });
    expect((await pc.describeIndex("places")).tags).toEqual({ only: "one" });
    await pc.indexes.configure("places", { tags: { only: "" } });
    expect((await pc.describeIndex("places")).tags).toBeUndefined();
    const rawModel = (await (await raw("/indexes/places")).json()) as Record<string, unknown>;
    expect("tags" in rawModel).toBe(false);
  });

  test("configure errors carry Pinecone's messages and statuses", async () => {
    await expectError(
      pc.indexes.configure("places", { deletionProtection: "bogus" as "enabled" }),
      "PineconeBadRequestError",
      "Invalid deletion_protection, value should be either enabled or disabled",
    );
    await expectError(
      pc.indexes.configure("places", { podReplicas: 2 }),
      "PineconeBadRequestError",
      "Configuring replicas and pod type is not supported for serverless",
    );
    await expectError(
      pc.indexes.configure("does-not-exist", { deletionProtection: "enabled" }),
      "PineconeNotFoundError",
    );
    expect((await pc.describeIndex("places")).deletionProtection).toBe("disabled");
  });

  test("server-side limits the client does not pre-check", async () => {
    const tooDeep = await raw("/indexes", {
      method: "POST",
      body: JSON.stringify({
        name: "too-wide",
        schema: { fields: { _values: { type: "dense_vector", dimension: 20_001, metric: "cosine" } } },
      }),
    });
    expect(tooDeep.status).toBe(400);
    expect(await tooDeep.text()).toContain("20000");
    const tooManyTags = await raw("/indexes", {
      method: "POST",
      body: JSON.stringify({
        name: "tagged",
        dimension: 2,
        tags: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"])),
      }),
    });
    expect(tooManyTags.status).toBe(400);
    const longName = await raw("/indexes", {
      method: "POST",
      body: JSON.stringify({ name: "a".repeat(46), dimension: 2 }),
    });
    expect(longName.status).toBe(400);
  });
});

// ----------------------------------------------------------------------- data plane

describe("data plane (dense, cosine)", () => {
  const rows = makeRows("m");
  const other = makeRows("o").slice(0, 50);

  beforeAll(async () => {
    const index = pc.index("movies");
    await upsertAll(index, rows);
    await upsertAll(index, other, "other");
  }, 60_000);

  test("query top-k equals the brute-force reference", async () => {
    const index = pc.index("movies");
    for (let q = 0; q < 8; q++) {
      const query = vector();
      const expected = topK("cosine", rows, query, 10);
      const result = await index.query({ vector: query, topK: 10 });
      expect(result.matches.map((m) => m.id)).toEqual(expected.map((e) => e.id));
      for (const [i, match] of result.matches.entries())
        expect(match.score!).toBeCloseTo(expected[i]!.score, 4);
    }
    const wide = await index.query({ vector: vector(), topK: 1000 });
    expect(wide.matches.length).toBe(rows.length);
  });

  test("filters match the naive evaluator", async () => {
    const index = pc.index("movies");
    for (const filter of filters) {
      const query = vector();
      const eligible = rows.filter((row) => matches(row.metadata, filter));
      const expected = topK("cosine", eligible, query, 15);
      const result = await index.query({ vector: query, topK: 15, filter, includeMetadata: true });
      expect({ filter, ids: result.matches.map((m) => m.id) }).toEqual({
        filter,
        ids: expected.map((e) => e.id),
      });
      for (const match of result.matches) expect(matches(match.metadata as Metadata, filter)).toBe(true);
    }
  });

  test("query by id, includeValues, includeMetadata, namespaces kept apart", async () => {
    const index = pc.index("movies");
    const target = rows[17]!;
    const byId = await index.query({ id: target.id, topK: 3, includeValues: true, includeMetadata: true });
    expect(byId.matches[0]!.id).toBe(target.id);
    expect(byId.matches[0]!.values).toEqual(target.values);
    expect(byId.matches[0]!.metadata).toEqual(target.metadata);
    const bare = await index.query({ vector: target.values, topK: 1 });
    expect(bare.matches[0]!.values ?? []).toEqual([]);
    expect(bare.matches[0]!.metadata).toBeUndefined();
    const inOther = await index.namespace("other").query({ vector: target.values, topK: 100 });
    expect(inOther.matches.map((m) => m.id).sort()).toEqual(other.map((row) => row.id).sort());
  });

  test("fetch returns exactly the ids that exist, with values and metadata", async () => {
    const index = pc.index("movies");
    const wanted = [rows[3]!, rows[99]!, rows[200]!];
    const fetched = await index.fetch({ ids: [...wanted.map((row) => row.id), "missing-id"] });
    expect(Object.keys(fetched.records).sort()).toEqual(wanted.map((row) => row.id).sort());
    for (const row of wanted) {
      expect(fetched.records[row.id]!.values).toEqual(row.values);
      expect(fetched.records[row.id]!.metadata).toEqual(row.metadata);
    }
  });

  test("list paginates over every id with the prefix, sorted, no pagination on the last page", async () => {
    const index = pc.index("movies");
    const prefix = "m-01";
    const expected = rows
      .map((row) => row.id)
      .filter((id) => id.startsWith(prefix))
      .sort();
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await index.listPaginated({
        prefix,
        limit: 7,
        ...(token ? { paginationToken: token } : {}),
      });
      seen.push(...(page.vectors ?? []).map((v) => v.id!));
      token = page.pagination?.next;
      pages++;
      expect(pages).toBeLessThan(50);
    } while (token !== undefined);
    expect(seen).toEqual(expected);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / 7));
  });

  test("fetchByMetadata paginates to exactly the filtered set", async () => {
    const index = pc.index("movies");
    const filter = { year: { $gte: 2000 } };
    const expected = rows
      .filter((row) => matches(row.metadata, filter))
      .map((row) => row.id)
      .sort();
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await index.fetchByMetadata({
        filter,
        limit: 25,
        ...(token ? { paginationToken: token } : {}),
      });
      seen.push(...Object.keys(page.records));
      token = page.pagination?.next;
    } while (token !== undefined);
    expect(seen.sort()).toEqual(expected);
  });

  test("update by id and by filter; fetch reflects it", async () => {
    const index = pc.index("movies");
    const target = rows[5]!;
    const newValues = vector();
    await index.update({ id: target.id, values: newValues, metadata: { genre: "western" } });
    target.values = newValues;
    target.metadata = { ...target.metadata, genre: "western" };
    const fetched = await index.fetch({ ids: [target.id] });
    expect(fetched.records[target.id]!.values).toEqual(newValues);
    expect(fetched.records[target.id]!.metadata).toEqual(target.metadata);

    const filter = { genre: { $eq: "documentary" } };
    const affected = rows.filter((row) => matches(row.metadata, filter));
    const response = await raw("/index/movies/vectors/update", {
      method: "POST",
      body: JSON.stringify({ filter, setMetadata: { reviewed: true }, namespace: "" }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { matchedRecords: number }).matchedRecords).toBe(affected.length);
    for (const row of affected) row.metadata.reviewed = true;
    const reviewed = await index.query({ vector: vector(), topK: 1000, filter: { reviewed: true } });
    expect(reviewed.matches.map((m) => m.id).sort()).toEqual(affected.map((row) => row.id).sort());
  });

  test("deletes (one, many, by filter, all in a namespace) and the stats that follow", async () => {
    const index = pc.index("movies");
    await index.deleteOne({ id: rows[0]!.id });
    await index.deleteMany({ ids: [rows[1]!.id, rows[2]!.id, "never-existed"] });
    const filter = { genre: "horror" };
    await index.deleteMany({ filter });
    const deleted = new Set([rows[0]!.id, rows[1]!.id, rows[2]!.id]);
    for (const row of rows) if (matches(row.metadata, filter)) deleted.add(row.id);
    await index.namespace("other").deleteAll();
    const live = rows.filter((row) => !deleted.has(row.id));

    const stats = await index.describeIndexStats();
    expect(stats.dimension).toBe(dimension);
    expect(stats.totalRecordCount).toBe(live.length);
    const namespaceCounts = Object.fromEntries(
      Object.entries(stats.namespaces ?? {})
        .map(([name, summary]) => [name, summary.recordCount])
        .filter(([, count]) => (count as number) > 0),
    );
    expect(namespaceCounts).toEqual({ __default__: live.length });
    const filtered = await index.describeIndexStats({ filter: { genre: "drama" } });
    expect(filtered.totalRecordCount).toBe(
      live.filter((row) => matches(row.metadata, { genre: "drama" })).length,
    );
    const everything = await index.query({ vector: vector(), topK: 1000 });
    expect(everything.matches.map((m) => m.id).sort()).toEqual(live.map((row) => row.id).sort());
    rows.splice(0, rows.length, ...live);
  });

  test("namespaces API: create, list, describe, delete", async () => {
    const index = pc.index("movies");
    const created = await index.createNamespace({ name: "fresh" });
    expect(created.name).toBe("fresh");
    await index.namespace("fresh").upsert({ records: other.slice(0, 3) });
    const described = await index.describeNamespace("fresh");
    expect(Number(described.recordCount)).toBe(3);
    const listed = await index.listNamespaces();
    expect((listed.namespaces ?? []).map((ns) => ns.name)).toContain("fresh");
    await index.deleteNamespace("fresh");
    await expectError(index.describeNamespace("fresh"), "PineconeNotFoundError");
  });

  test("createNamespace echoes the schema it was given (every field is filterable in Needle)", async () => {
    const index = pc.index("movies");
    const created = await index.createNamespace({
      name: "with-schema",
      schema: { fields: { genre: { filterable: true } } },
    });
    expect(created.name).toBe("with-schema");
    expect(created.schema?.fields?.genre?.filterable).toBe(true);
    const bad = await raw("/index/movies/namespaces", {
      method: "POST",
      body: JSON.stringify({ name: "bad-schema", schema: { fields: { genre: { filterable: "yes" } } } }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("schema.fields.genre.filterable");
    await expectError(index.describeNamespace("bad-schema"), "PineconeNotFoundError");
    await index.deleteNamespace("with-schema");
  });

  test("freshness headers: writes return an LSN, reads accept a minimum LSN", async () => {
    const write = await raw("/index/movies/vectors/upsert", {
      method: "POST",
      body: JSON.stringify({ vectors: [{ id: "fresh-1", values: vector() }] }),
    });
    expect(write.status).toBe(200);
    const lsn = write.headers.get(lsnHeader);
    expect(lsn).toMatch(/^\d+$/);
    const read = await raw("/index/movies/vectors/fetch?ids=fresh-1", { headers: { [minLsnHeader]: lsn! } });
    expect(read.status).toBe(200);
    expect(BigInt(read.headers.get(lsnHeader)!)).toBeGreaterThanOrEqual(BigInt(lsn!));
    expect(Object.keys(((await read.json()) as { vectors: object }).vectors)).toEqual(["fresh-1"]);
    await pc.index("movies").deleteOne({ id: "fresh-1" });
  });

  test("each data-plane limit answers 400 (413 for the body) naming what was exceeded", async () => {
    const cases: [string, string, unknown, string][] = [
      ["/index/movies/query", "POST", { topK: 10_001, vector: vector() }, "topK"],
      ["/index/movies/query", "POST", { topK: 1, vector: vector().slice(0, 3) }, "dimension"],
      ["/index/movies/query", "POST", { topK: 1, vector: vector(), id: "m-0005" }, "id"],
      [
        "/index/movies/vectors/upsert",
        "POST",
        { vectors: Array.from({ length: 1001 }, (_, i) => ({ id: `x${i}`, values: vector() })) },
        "1000",
      ],
      [
        "/index/movies/vectors/upsert",
        "POST",
        { vectors: [{ id: "i".repeat(513), values: vector() }] },
        "512",
      ],
      [
        "/index/movies/vectors/upsert",
        "POST",
        { vectors: [{ id: "big", values: vector(), metadata: { text: "x".repeat(41_000) } }] },
        "metadata",
      ],
      [
        "/index/movies/vectors/upsert",
        "POST",
        { vectors: [{ id: "nested", values: vector(), metadata: { a: { b: 1 } } }] },
        "metadata",
      ],
      [
        "/index/movies/vectors/upsert",
        "POST",
        { vectors: [{ id: "nul", values: vector(), metadata: { a: null } }] },
        "metadata",
      ],
      [
        "/index/movies/vectors/delete",
        "POST",
        { ids: Array.from({ length: 1001 }, (_, i) => `d${i}`) },
        "1000",
      ],
      [
        "/index/movies/vectors/fetch_by_metadata",
        "POST",
        { filter: { genre: "drama" }, limit: 10_001 },
        "limit",
      ],
      [
        "/index/movies/query",
        "POST",
        { topK: 1, vector: vector(), filter: { genre: { $regex: "x" } } },
        "$regex",
      ],
    ];
    for (const [path, method, body, part] of cases) {
      const response = await raw(path, { method, body: JSON.stringify(body) });
      const text = await response.text();
      expect({ path, part, status: response.status }).toEqual({ path, part, status: 400 });
      expect(text).toContain(part);
    }
    const fetchTooMany = await raw(
      `/index/movies/vectors/fetch?${Array.from({ length: 1001 }, (_, i) => `ids=f${i}`).join("&")}`,
    );
    expect(fetchTooMany.status).toBe(400);
    expect((await raw("/index/movies/vectors/list?limit=101")).status).toBe(400);
    expect((await raw("/index/movies/namespaces?limit=101")).status).toBe(400);
    const huge = JSON.stringify({
      vectors: Array.from({ length: 900 }, (_, i) => ({
        id: `h${i}`,
        values: vector(),
        metadata: { pad: "p".repeat(3000) },
      })),
    });
    const oversized = await raw("/index/movies/vectors/upsert", { method: "POST", body: huge });
    expect(oversized.status).toBe(413);
    const stats = await pc.index("movies").describeIndexStats();
    expect(stats.totalRecordCount).toBe(rows.length);
  });

  test("vectors that do not fit the index are 400 and the namespace keeps serving", async () => {
    const index = pc.index("movies");
    const namespace = "shape-checks";
    await index.upsert({ records: [{ id: "fits", values: vector() }], namespace });
    const zeros = Array.from({ length: dimension }, () => 0);
    const sparse = { indices: [1, 7], values: [0.5, 0.25] };
    const refusals: [string, () => Promise<unknown>, string][] = [
      [
        "sparse-only record on a dense index",
        () => index.upsert({ records: [{ id: "s", sparseValues: sparse }], namespace }),
        "vectors[0].values",
      ],
      [
        "sparse values on a cosine index",
        () => index.upsert({ records: [{ id: "h", values: vector(), sparseValues: sparse }], namespace }),
        "sparseValues",
      ],
      [
        "all-zero vector under cosine",
        () => index.upsert({ records: [{ id: "z", values: zeros }], namespace }),
        "zero",
      ],
      ["all-zero query under cosine", () => index.query({ vector: zeros, topK: 1, namespace }), "zero"],
      [
        "sparse query on a cosine index",
        () => index.query({ vector: vector(), sparseVector: sparse, topK: 1, namespace }),
        "sparseVector",
      ],
      ["all-zero update under cosine", () => index.update({ id: "fits", values: zeros, namespace }), "zero"],
      [
        "wrong dimension",
        () => index.upsert({ records: [{ id: "w", values: [1, 2, 3] }], namespace }),
        `Vector dimension 3 does not match the dimension of the index ${dimension}`,
      ],
    ];
    for (const [what, call, messagePart] of refusals) {
      let caught: unknown;
      try {
        await call();
      } catch (error) {
        caught = error;
      }
      expect({ what, name: (caught as Error | undefined)?.name }).toEqual({
        what,
        name: "PineconeBadRequestError",
      });
      expect((caught as Error).message).toContain(messagePart);
    }
    const fetched = await index.fetch({ ids: ["fits", "s", "h", "z", "w"], namespace });
    expect(Object.keys(fetched.records)).toEqual(["fits"]);
    expect((await index.query({ vector: vector(), topK: 5, namespace })).matches.map((m) => m.id)).toEqual([
      "fits",
    ]);
    await index.deleteNamespace(namespace);
  });

  test("Needle's compaction extension: in describe_index_stats over HTTP, dropped by the client; pause and resume", async () => {
    const paused = (await (await raw("/needle/compaction/pause", { method: "POST" })).json()) as {
      paused: boolean;
      queued: string[];
    };
    expect(paused.paused).toBe(true);
    expect(Array.isArray(paused.queued)).toBe(true);
    expect(((await (await raw("/needle/compaction")).json()) as { paused: boolean }).paused).toBe(true);
    const wire = (await (
      await raw("/index/movies/describe_index_stats", { method: "POST", body: "{}" })
    ).json()) as {
      compaction: { paused: boolean; levels: { level: number; slabs: number; rows: number }[] };
      totalVectorCount: number;
    };
    expect(wire.compaction.paused).toBe(true);
    for (const level of wire.compaction.levels) expect(level.rows).toBeGreaterThanOrEqual(0);
    const viaClient = (await pc.index("movies").describeIndexStats()) as Record<string, unknown>;
    expect(viaClient.compaction).toBeUndefined();
    expect(viaClient.totalRecordCount).toBe(wire.totalVectorCount);
    const resumed = (await (await raw("/needle/compaction/resume", { method: "POST" })).json()) as {
      paused: boolean;
    };
    expect(resumed.paused).toBe(false);
  });

  test("X-Needle-Explain: 1 adds how each source was searched; the client's query is unchanged", async () => {
    const body = JSON.stringify({ vector: vector(), topK: 3 });
    const explained = (await (
      await raw("/index/movies/query", { method: "POST", body, headers: { "X-Needle-Explain": "1" } })
    ).json()) as {
      matches: unknown[];
      explain: { lsn: string; sources: { source: string; strategy: string }[] };
    };
    expect(explained.matches.length).toBe(3);
    expect(typeof explained.explain.lsn).toBe("string");
    expect(explained.explain.sources.length).toBeGreaterThan(0);
    for (const source of explained.explain.sources)
      expect(["exact", "prefilter", "ivf"]).toContain(source.strategy);
    const plain = (await (await raw("/index/movies/query", { method: "POST", body })).json()) as object;
    expect("explain" in plain).toBe(false);
    const viaBody = (await (
      await raw("/index/movies/query", {
        method: "POST",
        body: JSON.stringify({ vector: vector(), topK: 3, explain: true }),
      })
    ).json()) as object;
    expect("explain" in viaBody).toBe(true);
  });

  test("unknown index on the data plane is 404", async () => {
    await expectError(
      pc.index("ghost", `${server.url}/index/ghost`).query({ vector: vector(), topK: 1 }),
      "PineconeNotFoundError",
    );
  });
});

describe("data plane (euclidean, sparse)", () => {
  test("euclidean scores are squared distances, ascending", async () => {
    const index = pc.index("places");
    const rows = makeRows("p").slice(0, 120);
    await upsertAll(index, rows);
    const query = vector();
    const expected = topK("euclidean", rows, query, 10);
    const result = await index.query({ vector: query, topK: 10 });
    expect(result.matches.map((m) => m.id)).toEqual(expected.map((e) => e.id));
    for (const [i, match] of result.matches.entries())
      expect(match.score!).toBeCloseTo(expected[i]!.score, 3);
  });

  test("sparse index: upsert sparse values, query by sparse vector (dot product)", async () => {
    const index = pc.index("terms");
    const sparseRows = Array.from({ length: 60 }, (_, i) => {
      const used = new Set<number>();
      while (used.size < 5) used.add(Math.floor(random() * 200));
      const indices = [...used];
      return {
        id: `s${i}`,
        sparseValues: { indices, values: indices.map(() => shortestFloat32(Math.fround(random()))) },
      };
    });
    await index.upsert({ records: sparseRows });
    const query = {
      indices: [3, 17, 42, 99, 150, 199],
      values: [0.5, 1, 0.25, 0.75, 1, 0.5].map(Math.fround),
    };
    const dot = (row: (typeof sparseRows)[number]) =>
      row.sparseValues.indices.reduce((sum, index, i) => {
        const at = query.indices.indexOf(index);
        return at < 0 ? sum : sum + row.sparseValues.values[i]! * query.values[at]!;
      }, 0);
    const expected = sparseRows
      .map((row) => ({ id: row.id, score: dot(row) }))
      .filter((entry) => entry.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, 5);
    const result = await index.query({ sparseVector: query, topK: 5 } as never);
    expect(result.matches.map((m) => m.id).slice(0, expected.length)).toEqual(expected.map((e) => e.id));
    const duplicate = await raw("/index/terms/vectors/upsert", {
      method: "POST",
      body: JSON.stringify({
        vectors: [{ id: "dup", sparseValues: { indices: [1, 1], values: [0.1, 0.2] } }],
      }),
    });
    expect(duplicate.status).toBe(400);
  });

  test("delete index; it is gone", async () => {
    await pc.deleteIndex("places");
    await expectError(pc.describeIndex("places"), "PineconeNotFoundError");
  });
});
