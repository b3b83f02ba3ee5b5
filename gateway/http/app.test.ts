/**
 * Unit tests of the HTTP layer alone: a recording fake Engine (test-only) stands behind the
 * app so status codes, wire shapes, limits and headers can be checked without storage.
 * The conformance suite (conformance.test.ts) drives the real server with the official client.
 */
import { describe, expect, test } from "bun:test";
import type { Engine, IndexDescription } from "../../actors/api.ts";
import { NeedleError } from "../../storage/errors.ts";
import { consistencyHeader, createApp, lsnHeader, minLsnHeader } from "./app.ts";

const publicUrl = "http://127.0.0.1:5999";

interface Call {
  method: string;
  args: unknown[];
}

function description(name: string): IndexDescription {
  return {
    name,
    dimension: 3,
    metric: "cosine",
    vectorType: "dense",
    deletionProtection: "disabled",
    tags: { team: "a" },
    deployment: { type: "managed", cloud: "aws", region: "us-east-1" },
    readCapacity: { mode: "OnDemand" },
    createdAt: "2026-01-01T00:00:00Z",
    status: { ready: true, state: "Ready" },
    readCapacityStatus: { state: "Ready" },
  };
}

/** Every method records its call; `overrides` replace individual methods. */
function fakeEngine(overrides: Partial<Record<keyof Engine, (...args: unknown[]) => Promise<unknown>>> = {}) {
  const calls: Call[] = [];
  const defaults: Record<string, (...args: unknown[]) => Promise<unknown>> = {
    createIndex: async (request) => ({
      ...description((request as { name: string }).name),
      ...(request as object),
    }),
    describeIndex: async (name) => description(name as string),
    listIndexes: async () => [description("a"), description("b")],
    configureIndex: async (name) => description(name as string),
    deleteIndex: async () => undefined,
    upsert: async (_i, _n, records) => ({ lsn: 42n, upsertedCount: (records as unknown[]).length }),
    query: async (_i, namespace) => ({
      matches: [{ id: "x", score: 0.5, values: new Float32Array([1, 2, 3]), metadata: { genre: "a" } }],
      namespace,
      readUnits: 1,
      lsn: 7n,
    }),
    fetch: async (_i, namespace, ids) => ({
      records: (ids as string[]).map((id) => ({ id, values: new Float32Array([1, 0, 0]) })),
      namespace,
      readUnits: 1,
      lsn: 8n,
    }),
    fetchByMetadata: async (_i, namespace) => ({
      records: [],
      namespace,
      readUnits: 1,
      lsn: 9n,
      next: "tok",
    }),
    update: async () => ({ lsn: 43n, matchedRecords: 1 }),
    delete: async () => ({ lsn: 44n }),
    list: async (_i, namespace) => ({ ids: ["a", "b"], namespace, readUnits: 1 }),
    describeIndexStats: async () => ({
      namespaces: [{ name: "__default__", recordCount: 2 }],
      dimension: 3,
      metric: "cosine",
      vectorType: "dense",
      totalVectorCount: 2,
      indexFullness: 0,
    }),
    listNamespaces: async () => ({ namespaces: [{ name: "ns1", recordCount: 5 }], totalCount: 1 }),
    describeNamespace: async (_i, name) => ({ name, recordCount: 5 }),
    createNamespace: async (_i, name) => ({ name, recordCount: 0 }),
    deleteNamespace: async () => ({ lsn: 45n }),
    waitForLsn: async () => undefined,
    close: async () => undefined,
  };
  const engine: Record<string, unknown> = {};
  for (const [method, implementation] of Object.entries({ ...defaults, ...overrides })) {
    engine[method] = (...args: unknown[]) => {
      calls.push({ method, args });
      return implementation!(...args);
    };
  }
  return { engine: engine as unknown as Engine, calls };
}

function json(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method,
    headers: { "content-type": "application/json", "Api-Key": "k", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

const get: RequestInit = { headers: { "Api-Key": "k" } };

describe("auth", () => {
  test("401 JSON when the key is missing or wrong; 200 with a configured key", async () => {
    const { engine } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k", "k2"], publicUrl });
    const missing = await app.request("/indexes");
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain("Api-Key");
    expect((await app.request("/indexes", { headers: { "Api-Key": "nope" } })).status).toBe(401);
    expect((await app.request("/index/a/vectors/list", { headers: { "Api-Key": "kk" } })).status).toBe(401);
    expect((await app.request("/indexes", get)).status).toBe(200);
    expect((await app.request("/indexes", { headers: { "Api-Key": "k2" } })).status).toBe(200);
  });

  test("no keys configured accepts any key", async () => {
    const { engine } = fakeEngine();
    const app = createApp(engine, { apiKeys: [], publicUrl });
    expect((await app.request("/indexes", { headers: { "Api-Key": "anything" } })).status).toBe(200);
  });
});

describe("control plane", () => {
  test("create in the 2026-07 shape: snake_case in, engine request out, IndexModel with host", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const response = await app.request(
      "/indexes",
      json("POST", {
        name: "movies",
        deployment: { deployment_type: "managed", cloud: "aws", region: "us-east-1" },
        schema: { fields: { _values: { type: "dense_vector", dimension: 3, metric: "euclidean" } } },
        deletion_protection: "enabled",
        tags: { team: "search" },
      }),
    );
    expect(response.status).toBe(201);
    const request = calls.find((call) => call.method === "createIndex")!.args[0] as Record<string, unknown>;
    expect(request).toMatchObject({
      name: "movies",
      dimension: 3,
      metric: "euclidean",
      vectorType: "dense",
      deletionProtection: "enabled",
      tags: { team: "search" },
      deployment: { type: "managed", cloud: "aws", region: "us-east-1" },
    });
    const model = (await response.json()) as Record<string, unknown>;
    expect(model.host).toBe(`${publicUrl}/index/movies`);
    expect(model.schema).toEqual({
      fields: { _values: { type: "dense_vector", dimension: 3, metric: "euclidean" } },
    });
    expect(model.deployment).toEqual({ deployment_type: "managed", cloud: "aws", region: "us-east-1" });
    expect(model.deletion_protection).toBe("enabled");
    expect(model.dimension).toBeUndefined();
  });

  test("the 2026-04 header gets the older model; create accepts its body", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const headers = { "X-Pinecone-Api-Version": "2026-04" };
    const response = await app.request(
      "/indexes",
      json(
        "POST",
        {
          name: "old",
          dimension: 3,
          metric: "dotproduct",
          spec: { serverless: { cloud: "gcp", region: "r" } },
        },
        headers,
      ),
    );
    expect(response.status).toBe(201);
    expect(calls[0]!.args[0]).toMatchObject({ dimension: 3, metric: "dotproduct", vectorType: "dense" });
    const model = (await response.json()) as Record<string, unknown>;
    expect(model.dimension).toBe(3);
    expect(model.vector_type).toBe("dense");
    expect(model.spec).toMatchObject({ serverless: { cloud: "gcp", region: "r" } });
    expect(model.schema).toBeUndefined();
    const listed = (await (
      await app.request("/indexes", { headers: { "Api-Key": "k", ...headers } })
    ).json()) as {
      indexes: Record<string, unknown>[];
    };
    expect(listed.indexes.map((index) => index.name)).toEqual(["a", "b"]);
    expect(listed.indexes[0]!.spec).toBeDefined();
  });

  test("a bad index name is a 400 naming the rule; nothing reaches the engine", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    for (const name of ["Bad_Name", "-x", "x-", "a".repeat(46), ""]) {
      const response = await app.request("/indexes", json("POST", { name, dimension: 3 }));
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string }; status: number };
      expect(body.status).toBe(400);
      expect(body.error.code).toBe("INVALID_ARGUMENT");
      if (name.length > 0 && name.length <= 45)
        expect(body.error.message).toContain("alphanumeric character");
    }
    expect(calls.length).toBe(0);
  });

  test("configure errors name the snake_case wire fields; nothing reaches the engine", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const empty = await app.request("/indexes/x", json("PATCH", {}));
    expect(empty.status).toBe(400);
    const body = (await empty.json()) as { error: { message: string; details: { field?: string }[] } };
    expect(body.error.message).toStartWith("deletion_protection:");
    expect(body.error.details[0]?.field).toBe("deletion_protection");
    expect(body.error.message).not.toContain("deletionProtection");
    const badPodType = await app.request("/indexes/x", json("PATCH", { deployment: { pod_type: "z1.x1" } }));
    expect(badPodType.status).toBe(400);
    expect(((await badPodType.json()) as { error: { message: string } }).error.message).toStartWith(
      "deployment.pod_type:",
    );
    expect(calls.filter((call) => call.method === "configureIndex").length).toBe(0);
    // Pod sizing reaches the engine, which knows whether the index is a pod index.
    const podSizing = await app.request(
      "/indexes/x",
      json("PATCH", { spec: { pod: { replicas: 2, pod_type: "p1.x2" } } }),
    );
    expect(podSizing.status).toBe(200);
    expect(calls.find((call) => call.method === "configureIndex")!.args[1]).toEqual({
      pod: { replicas: 2, podType: "p1.x2" },
    });
  });

  test("engine errors map to Pinecone statuses; deletion protection is 403 on the control plane", async () => {
    const { engine } = fakeEngine({
      deleteIndex: async () => {
        throw new NeedleError("FAILED_PRECONDITION", "Deletion protection is enabled for this index");
      },
      describeIndex: async () => {
        throw new NeedleError("NOT_FOUND", "index not found");
      },
      createIndex: async () => {
        throw new NeedleError("ALREADY_EXISTS", "exists");
      },
    });
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const deleted = await app.request("/indexes/x", { method: "DELETE", headers: { "Api-Key": "k" } });
    expect(deleted.status).toBe(403);
    expect(((await deleted.json()) as { error: { message: string } }).error.message).toContain(
      "Deletion protection",
    );
    expect((await app.request("/indexes/x", get)).status).toBe(404);
    expect((await app.request("/indexes", json("POST", { name: "x", dimension: 2 }))).status).toBe(409);
  });
});

describe("data plane", () => {
  test("upsert converts to Float32Array, answers camelCase and the LSN header", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const response = await app.request(
      "/index/a/vectors/upsert",
      json("POST", { vectors: [{ id: "v1", values: [1, 2, 3], metadata: { genre: "x" } }], namespace: "ns" }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get(lsnHeader)).toBe("42");
    expect(await response.json()).toEqual({ upsertedCount: 1 });
    // The index is described first (its dimension and metric), then written.
    expect(calls.map((call) => call.method)).toEqual(["describeIndex", "upsert"]);
    const [index, namespace, records] = calls[1]!.args as [string, string, { values: Float32Array }[]];
    expect(index).toBe("a");
    expect(namespace).toBe("ns");
    expect(records[0]!.values).toBeInstanceOf(Float32Array);
  });

  test("bad input is 400 naming the field, and nothing is stored", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const bodies: [string, string][] = [
      ['{"vectors": [{"id": "a", "values": [1e999, 0, 0]}]}', "values"],
      ['{"vectors": [{"id": "a", "values": ["NaN", 0, 0]}]}', "values"],
      [
        '{"vectors": [{"id": "a", "sparseValues": {"indices": [1, 1], "values": [0.5, 0.5]}}]}',
        "sparseValues",
      ],
      ['{"vectors": [{"id": "a", "values": [1, 2', "body"],
      ['{"vectors": "nope"}', "vectors"],
      ["[1, 2, 3]", "body"],
      [`{"vectors": [{"id": "${"x".repeat(513)}", "values": [1, 2, 3]}]}`, "id"],
      [
        JSON.stringify({ vectors: Array.from({ length: 1001 }, (_, i) => ({ id: `${i}`, values: [1] })) }),
        "vectors",
      ],
    ];
    for (const [body, field] of bodies) {
      const response = await app.request("/index/a/vectors/upsert", json("POST", body));
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { code: number; message: string };
      expect(answer.code).toBe(3);
      expect(answer.message).toContain(field);
    }
    const deep = JSON.stringify({ topK: 1, vector: [1, 2, 3], filter: nestedFilter(200) });
    expect((await app.request("/index/a/query", json("POST", deep))).status).toBe(400);
    expect(calls.length).toBe(0);
  });

  test("an oversized upsert is refused with 413 while it streams, without reading it all", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const chunkBytes = 64 * 1024;
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(chunkBytes).fill(0x20));
      },
    });
    const response = await app.request("/index/a/vectors/upsert", {
      method: "POST",
      headers: { "Api-Key": "k" },
      body: endless,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    // 2 MB / 64 KB = 32 chunks; the reader stops right after crossing the limit.
    expect(pulled).toBeLessThan(40);
    const declared = await app.request("/index/a/vectors/upsert", {
      method: "POST",
      headers: { "Api-Key": "k", "content-length": String(3 * 1024 * 1024) },
      body: "{}",
    });
    expect(declared.status).toBe(413);
    expect(calls.length).toBe(0);
  });

  test("query, fetch, list and stats render Pinecone's wire shapes", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const query = await app.request(
      "/index/a/query",
      json("POST", { topK: 1, vector: [1, 2, 3], includeValues: true }),
    );
    expect(query.headers.get(lsnHeader)).toBe("7");
    expect(await query.json()).toMatchObject({
      matches: [{ id: "x", score: 0.5, values: [1, 2, 3], metadata: { genre: "a" } }],
      namespace: "",
      usage: { readUnits: 1 },
    });
    const fetched = await app.request("/index/a/vectors/fetch?ids=p&ids=q&namespace=ns", get);
    expect(calls.at(-1)!.args).toEqual(["a", "ns", ["p", "q"]]);
    expect(Object.keys(((await fetched.json()) as { vectors: object }).vectors)).toEqual(["p", "q"]);
    const listed = (await (await app.request("/index/a/vectors/list?limit=2", get)).json()) as Record<
      string,
      unknown
    >;
    expect(listed.vectors).toEqual([{ id: "a" }, { id: "b" }]);
    expect("pagination" in listed).toBe(false);
    expect((await app.request("/index/a/vectors/list?limit=101", get)).status).toBe(400);
    const stats = await (await app.request("/index/a/describe_index_stats", json("POST", {}))).json();
    expect(stats).toEqual({
      namespaces: { __default__: { vectorCount: 2 } },
      dimension: 3,
      indexFullness: 0,
      totalVectorCount: 2,
      metric: "cosine",
      vectorType: "dense",
    });
    const namespaces = await (await app.request("/index/a/namespaces", get)).json();
    expect(namespaces).toEqual({ namespaces: [{ name: "ns1", record_count: "5" }], total_count: 1 });
    const deleted = await app.request(
      "/index/a/vectors/delete",
      json("POST", { deleteAll: true, namespace: "ns" }),
    );
    expect(await deleted.json()).toEqual({});
    expect(deleted.headers.get(lsnHeader)).toBe("44");
  });

  test("records and matches: sparse values as plain arrays, values [] when absent, exact keys", async () => {
    const sparse = { indices: new Uint32Array([2, 9]), values: new Float32Array([0.5, 0.25]) };
    const { engine } = fakeEngine({
      query: async (_i, namespace) => ({
        matches: [{ id: "m", score: 0.75, sparseValues: sparse }],
        namespace,
        readUnits: 1,
        lsn: 7n,
      }),
      fetch: async (_i, namespace) => ({
        records: [
          { id: "dense", values: new Float32Array([1, 0, 0]), metadata: { genre: "a", tags: ["x"] } },
          { id: "sparse-only", sparseValues: sparse },
        ],
        namespace,
        readUnits: 2,
        lsn: 8n,
      }),
    });
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const query = await app.request("/index/a/query", json("POST", { topK: 1, vector: [1, 2, 3] }));
    expect(await query.json()).toEqual({
      results: [],
      matches: [{ id: "m", score: 0.75, values: [], sparseValues: { indices: [2, 9], values: [0.5, 0.25] } }],
      namespace: "",
      usage: { readUnits: 1 },
    });
    const fetched = await app.request("/index/a/vectors/fetch?ids=dense&ids=sparse-only", get);
    expect(await fetched.json()).toEqual({
      vectors: {
        dense: { id: "dense", values: [1, 0, 0], metadata: { genre: "a", tags: ["x"] } },
        "sparse-only": {
          id: "sparse-only",
          values: [],
          sparseValues: { indices: [2, 9], values: [0.5, 0.25] },
        },
      },
      namespace: "",
      usage: { readUnits: 2 },
    });
  });

  test("a sparse index's 2026-07 model has the _sparse_values field and on-demand read capacity", async () => {
    const { engine } = fakeEngine({
      describeIndex: async (name) => ({
        ...description(name as string),
        dimension: undefined,
        metric: "dotproduct",
        vectorType: "sparse",
      }),
    });
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    const model = (await (await app.request("/indexes/s", get)).json()) as Record<string, unknown>;
    expect(model.schema).toEqual({ fields: { _sparse_values: { type: "sparse_vector" } } });
    expect(model.read_capacity).toEqual({ mode: "OnDemand", status: { state: "Ready" } });
  });

  test("reads wait for X-Needle-Min-Lsn; a malformed one is a 400", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    await app.request(
      "/index/a/query",
      json("POST", { topK: 1, vector: [1, 2, 3] }, { [minLsnHeader]: "17" }),
    );
    const wait = calls.find((call) => call.method === "waitForLsn")!;
    expect(wait.args[0]).toBe("a");
    expect(wait.args[1]).toBe(17n);
    const bad = await app.request(
      "/index/a/query",
      json("POST", { topK: 1, vector: [1, 2, 3] }, { [minLsnHeader]: "x" }),
    );
    expect(bad.status).toBe(400);
  });

  test("X-Needle-Consistency reaches the engine's reads; another value is a 400 naming the header", async () => {
    const { engine, calls } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    await app.request(
      "/index/a/query",
      json("POST", { topK: 1, vector: [1, 2, 3] }, { [consistencyHeader]: "Eventual" }),
    );
    const query = calls.find((call) => call.method === "query")!;
    expect((query.args[2] as { consistency?: string }).consistency).toBe("eventual");
    const bad = await app.request(
      "/index/a/query",
      json("POST", { topK: 1, vector: [1, 2, 3] }, { [consistencyHeader]: "sometimes" }),
    );
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain(consistencyHeader);
    // The other reads take the header too (a cluster answers them from a replica).
    const eventual = { [consistencyHeader]: "eventual", "Api-Key": "k" };
    await app.request("/index/a/vectors/fetch?ids=x", { headers: eventual });
    await app.request("/index/a/vectors/list", { headers: eventual });
    await app.request("/index/a/describe_index_stats", { headers: eventual });
    await app.request("/index/a/namespaces", { headers: eventual });
    await app.request("/index/a/namespaces/ns", { headers: eventual });
    await app.request(
      "/index/a/vectors/fetch_by_metadata",
      json("POST", { limit: 1 }, { [consistencyHeader]: "eventual" }),
    );
    for (const method of [
      "fetch",
      "list",
      "describeIndexStats",
      "listNamespaces",
      "describeNamespace",
      "fetchByMetadata",
    ]) {
      const call = calls.find((candidate) => candidate.method === method);
      expect(call?.args.at(-1)).toBe("eventual");
    }
  });

  test("retryable and fault errors: 429 and 503 carry Retry-After, corruption is 500", async () => {
    const cases: [NeedleError, number][] = [
      [new NeedleError("OVERLOADED", "mailbox full", { retryAfterSeconds: 2 }), 429],
      [new NeedleError("UNAVAILABLE", "restarting"), 503],
      [new NeedleError("CORRUPTION", "slab 7: bad checksum"), 500],
      [new NeedleError("NOT_FOUND", "no index"), 404],
      [new NeedleError("STORAGE_FULL", "/data/x.wal: write failed: ENOSPC", { file: "/data/x.wal" }), 507],
      [new NeedleError("STORAGE_FAILED", "/data/x.wal: fsync failed: EIO", { file: "/data/x.wal" }), 503],
    ];
    for (const [error, status] of cases) {
      const { engine } = fakeEngine({
        query: async () => {
          throw error;
        },
      });
      const app = createApp(engine, { apiKeys: ["k"], publicUrl });
      const response = await app.request("/index/a/query", json("POST", { topK: 1, vector: [1, 2, 3] }));
      expect(response.status).toBe(status);
      if (status === 429) expect(response.headers.get("Retry-After")).toBe("2");
      if (status === 503 || status === 507) expect(response.headers.get("Retry-After")).toBe("1");
      const message = ((await response.json()) as { message: string }).message;
      if (error.kind === "fault" || error.file !== undefined) {
        // Faults are told in words with the index and a request id; the details (files) are logged.
        expect(message).not.toContain(error.message);
        expect(message).not.toContain("/data/");
        expect(message).toContain("index a");
        expect(message).toContain(response.headers.get("X-Request-Id")!);
      } else {
        expect(message).toBe(error.message);
      }
    }
  });

  test("a request that never finishes answers 503 after the timeout", async () => {
    const { engine } = fakeEngine({ query: () => new Promise(() => {}) });
    const app = createApp(engine, { apiKeys: ["k"], publicUrl, requestTimeoutMs: 20 });
    const response = await app.request("/index/a/query", json("POST", { topK: 1, vector: [1, 2, 3] }));
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).not.toBeNull();
  });
});

describe("routes", () => {
  test("unserved features are 501, unknown routes 404, wrong methods 405, all JSON", async () => {
    const { engine } = fakeEngine();
    const app = createApp(engine, { apiKeys: ["k"], publicUrl });
    for (const [method, path] of [
      ["POST", "/embed"],
      ["POST", "/rerank"],
      ["GET", "/models"],
      ["POST", "/indexes/create-for-model"],
      ["POST", "/index/a/records/namespaces/ns/upsert"],
      ["GET", "/collections"],
      ["GET", "/assistant/assistants"],
    ] as const) {
      const response = await app.request(path, { method, headers: { "Api-Key": "k" } });
      expect(response.status).toBe(501);
      expect(JSON.stringify(await response.json())).toContain("Needle does not serve");
    }
    const unknown = await app.request("/nope", get);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toBeDefined();
    const wrongMethod = await app.request("/index/a/query", get);
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toBeDefined();
  });
});

function nestedFilter(depth: number): unknown {
  let filter: unknown = { genre: { $eq: "x" } };
  for (let i = 0; i < depth; i++) filter = { $and: [filter] };
  return filter;
}
