/**
 * Needle's NATS API end to end: a `needle` micro service on a test's own nats-server over a
 * real engine, driven through the TypeScript client (JSON and msgpack bodies) along the
 * library tests' scenario, answers checked against float64 brute-force references; raw
 * requests check the wire itself (what `nats req` sees: bodies, error headers, discovery).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headers as natsHeaders, type Msg } from "nats";
import { openEngine } from "../../actors/mod.ts";
import type { Engine } from "../../actors/api.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { natsServerForFile } from "../../storage/testing/nats-server.ts";
import { expectMatchesReference, refusal, type Metric } from "../library/reference.ts";
import type { PineconeRecord } from "../library/types.ts";
import { NeedleNatsClient } from "./client.ts";
import { type ApiService, lsnHeader, startApiService } from "./service.ts";
import { controlOperations, controlSubject, dataOperations, dataSubject } from "./subjects.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`nats service.test.ts seed=${seed} (replay with NEEDLE_TEST_SEED=${seed})`);
const random = seededRandom(seed);
const vector = (length: number) => Array.from({ length }, () => random() * 2 - 1);

const dimension = 8;
const metrics: Metric[] = ["cosine", "euclidean", "dotproduct"];
const records: PineconeRecord[] = Array.from({ length: 150 }, (_, i) => ({
  id: `r${String(i).padStart(3, "0")}`,
  values: vector(dimension),
  metadata: { group: i % 3, name: `record ${i}`, tags: i % 2 === 0 ? ["even"] : ["odd"] },
}));

// NATS's own default max_payload (1 MiB), so the test of an answer over it stays small.
const nats = natsServerForFile({ maxPayloadBytes: 1024 * 1024 });
let dir: string;
let engine: Engine;
let api: ApiService;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-nats-api-"));
  engine = await openEngine({ dir, log: () => {} });
  api = await startApiService(nats().connection, engine);
});

afterAll(async () => {
  await api.stop();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const lsnOf = (value: unknown) => (value as { lsn?: bigint }).lsn;

for (const encoding of ["json", "msgpack"] as const) {
  describe(`${encoding} bodies`, () => {
    const client = () => new NeedleNatsClient(nats().connection, { encoding });
    const name = (metric: string) => `${encoding}-${metric}`;

    test("control plane: create per metric and sparse, describe, list, conflicts and bad names", async () => {
      for (const metric of metrics) {
        const model = await client().createIndex({ name: name(metric), dimension, metric });
        expect(model.name).toBe(name(metric));
        expect(model.status.ready).toBe(true);
        // The wire carries the enumerable (2026-07) shape; legacy accessors stay in the library.
        expect(model.schema.fields).toEqual({ _values: { type: "dense_vector", dimension, metric } });
      }
      await client().createIndex({ name: name("sparse"), vectorType: "sparse", metric: "dotproduct" });
      expect((await client().describeIndex(name("sparse"))).schema.fields).toEqual({
        _sparse_values: { type: "sparse_vector" },
      });
      const listed = (await client().listIndexes()).indexes?.map((index) => index.name) ?? [];
      for (const metric of [...metrics, "sparse"]) expect(listed).toContain(name(metric));

      const conflict = await refusal(client().createIndex({ name: name("cosine"), dimension }));
      expect(conflict.code).toBe("ALREADY_EXISTS");
      const badName = await refusal(client().createIndex({ name: "Bad_Name", dimension: 3 }));
      expect(badName.code).toBe("INVALID_ARGUMENT");
      expect(badName.message).toContain("alphanumeric character");
      expect((await refusal(client().describeIndex("missing"))).code).toBe("NOT_FOUND");
      expect(
        (
          await refusal(
            client()
              .index("missing")
              .fetch({ ids: ["a"] }),
          )
        ).code,
      ).toBe("NOT_FOUND");
    });

    test("upsert then query agrees with a float64 brute force for every metric; LSNs in headers", async () => {
      for (const metric of metrics) {
        const index = client().index(name(metric));
        const first = await index.upsert({ records: records.slice(0, 100) });
        expect(first.upsertedCount).toBe(100);
        const second = await index.upsert({ records: records.slice(100) });
        expect(second.upsertedCount).toBe(50);
        expect(lsnOf(second)! > lsnOf(first)!).toBe(true);
        for (let round = 0; round < 4; round++) {
          const query = vector(dimension);
          const topK = 1 + Math.floor(random() * 20);
          const response = await index.query({ vector: query, topK, minLsn: lsnOf(second) });
          expect(response.namespace).toBe("__default__");
          expect(lsnOf(response)! >= lsnOf(second)!).toBe(true);
          expectMatchesReference(metric, response, records, query, topK);
        }
        const query = vector(dimension);
        const filtered = await index.query({
          vector: query,
          topK: 10,
          filter: { group: { $eq: 1 } },
          includeMetadata: true,
          includeValues: true,
        });
        const groupOne = records.filter((record) => record.metadata?.group === 1);
        expectMatchesReference(metric, filtered, groupOne, query, 10);
        for (const match of filtered.matches) {
          expect(match.metadata?.group).toBe(1);
          const stored = records.find((record) => record.id === match.id);
          expect(Array.from(match.values ?? [], Math.fround)).toEqual(
            (stored?.values ?? []).map(Math.fround),
          );
        }
        if (metric !== "dotproduct")
          expect((await index.query({ id: "r042", topK: 3 })).matches[0]?.id).toBe("r042");
      }
    });

    test("fetch, update, dry run, delete by ids / filter / all in a namespace", async () => {
      const index = client().index(name("cosine"));
      const namespace = "ns1";
      const mine = records.slice(0, 6).map((record) => ({ ...record, id: `n-${record.id}` }));
      await index.upsert({ records: mine, namespace });
      const fetched = await index.fetch({ ids: ["n-r000", "n-r001", "absent"], namespace });
      expect(Object.keys(fetched.records).sort()).toEqual(["n-r000", "n-r001"]);
      expect(fetched.namespace).toBe(namespace);
      expect(fetched.records["n-r000"]?.metadata).toEqual(mine[0]?.metadata ?? {});

      await index.update({ id: "n-r000", metadata: { color: "red" }, namespace });
      const dry = await index.update({
        filter: { color: { $eq: "red" } },
        metadata: { color: "blue" },
        dryRun: true,
        namespace,
      });
      expect(dry.matchedRecords).toBe(1);
      const after = await index.fetch({ ids: ["n-r000"], namespace });
      expect(after.records["n-r000"]?.metadata?.color).toBe("red");

      await index.deleteOne({ id: "n-r000", namespace });
      await index.deleteMany({ ids: ["n-r001", "n-r002"], namespace });
      await index.deleteMany({ filter: { group: { $eq: 0 } }, namespace }); // n-r003
      const left = await index.fetch({ ids: mine.map((record) => record.id), namespace });
      expect(Object.keys(left.records).sort()).toEqual(["n-r004", "n-r005"]);
      await index.deleteAll({ namespace });
      expect(Object.keys((await index.fetch({ ids: ["n-r004"], namespace })).records)).toEqual([]);
      // The default namespace was never touched.
      expect(Object.keys((await index.fetch({ ids: ["r000"] })).records)).toEqual(["r000"]);
    });

    test("listPaginated and fetchByMetadata walk their pages", async () => {
      const index = client().index(name("euclidean"));
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await index.listPaginated({ prefix: "r1", limit: 20, paginationToken: token });
        seen.push(...(page.vectors ?? []).map((item) => item.id as string));
        token = page.pagination?.next;
      } while (token !== undefined);
      expect(seen.sort()).toEqual(records.filter((record) => record.id.startsWith("r1")).map((r) => r.id));

      const ids: string[] = [];
      token = undefined;
      do {
        const page = await index.fetchByMetadata({
          filter: { group: { $eq: 2 } },
          limit: 30,
          paginationToken: token,
        });
        ids.push(...Object.keys(page.records));
        token = page.pagination?.next;
      } while (token !== undefined);
      expect(ids.sort()).toEqual(records.filter((record) => record.metadata?.group === 2).map((r) => r.id));
    });

    test("sparse index: sparse query scores, dense values refused naming the field", async () => {
      const index = client().index(name("sparse"));
      const sparse = Array.from({ length: 30 }, (_, i) => {
        const indices = Array.from(new Set(Array.from({ length: 5 }, () => Math.floor(random() * 40))));
        return { id: `s${i}`, sparseValues: { indices, values: indices.map(() => random()) } };
      });
      await index.upsert({ records: sparse });
      const query = { indices: [1, 5, 9, 17, 33], values: [0.5, 0.25, 0.75, 1, 0.125] };
      const response = await index.query({ sparseVector: query, topK: 5 });
      const dot = (record: (typeof sparse)[number]) =>
        record.sparseValues.indices.reduce((sum, at, k) => {
          const q = query.indices.indexOf(at);
          return q < 0
            ? sum
            : sum + Math.fround(record.sparseValues.values[k]!) * Math.fround(query.values[q]!);
        }, 0);
      const positive = sparse
        .map(dot)
        .filter((value) => value > 0)
        .sort((a, b) => b - a)
        .slice(0, 5);
      positive.forEach((value, position) => {
        expect(Math.abs((response.matches[position]?.score as number) - value)).toBeLessThan(1e-4);
      });
      const dense = await refusal(index.upsert({ records: [{ id: "d", values: [1, 2, 3] }] }));
      expect(dense.field).toBe("records[0].values");
    });

    test("stats and namespaces: counts, list, describe, create with schema, delete", async () => {
      const index = client().index(name("dotproduct"));
      await index.deleteMany({ ids: ["r000", "r001", "r002"] });
      const stats = await index.describeIndexStats();
      expect(stats.dimension).toBe(dimension);
      expect(stats.namespaces?.__default__?.recordCount).toBe(records.length - 3);
      const filtered = await index.describeIndexStats({ filter: { group: { $eq: 0 } } });
      expect(filtered.namespaces?.__default__?.recordCount).toBe(49);

      const created = await index.createNamespace({
        name: "empty",
        schema: { fields: { genre: { filterable: true } } },
      });
      expect(created).toEqual({
        name: "empty",
        recordCount: "0",
        schema: { fields: { genre: { filterable: true } } },
      });
      await index.upsert({ records: records.slice(0, 4), namespace: "four" });
      const listed = await index.listNamespaces();
      expect((listed.namespaces ?? []).map((namespace) => namespace.name).sort()).toEqual([
        "__default__",
        "empty",
        "four",
      ]);
      expect(await index.describeNamespace("four")).toEqual({ name: "four", recordCount: "4" });
      expect((await index.describeNamespace("")).recordCount).toBe(String(records.length - 3));
      await index.deleteNamespace("four");
      expect((await refusal(index.describeNamespace("four"))).code).toBe("NOT_FOUND");
    });

    test("bad input is refused naming the field and changes nothing", async () => {
      const index = client().index(name("dotproduct"));
      const before = await index.describeIndexStats();
      const batch = Array.from({ length: 10 }, (_, i) => ({ id: `bad-${i}`, values: vector(dimension) }));
      (batch[5]?.values as number[])[3] = Number.NaN; // JSON carries it as null
      const nan = await refusal(index.upsert({ records: batch }));
      expect(nan.code).toBe("INVALID_ARGUMENT");
      expect(nan.field).toBe("records[5].values[3]");
      const wrong = batch.map((record) => ({ ...record, values: vector(dimension) }));
      wrong[7] = { id: "bad-7", values: vector(dimension + 1) };
      expect((await refusal(index.upsert({ records: wrong }))).field).toBe("records[7].values");
      const topK = await refusal(index.query({ vector: vector(dimension), topK: 10_001 }));
      expect([topK.field, topK.limit]).toEqual(["topK", "at most 10000"]);
      expect(
        (await refusal(index.update({ id: "r010", metadata: { nested: { a: 1 } } as never }))).field,
      ).toBe("metadata.nested");
      const minLsn = await refusal(
        index.query({ vector: vector(dimension), topK: 1, minLsn: "-1" as never }),
      );
      expect(minLsn.field).toBe("minLsn");
      expect(await index.describeIndexStats()).toEqual(before);
    });

    test("deletion protection: configure, refused delete, then delete", async () => {
      const target = name("protected");
      await client().createIndex({ name: target, dimension: 2, deletionProtection: "enabled" });
      const refused = await refusal(client().deleteIndex(target));
      expect(refused.code).toBe("FAILED_PRECONDITION");
      const configured = await client().configureIndex(target, { deletionProtection: "disabled" });
      expect(configured.deletionProtection).toBe("disabled");
      await client().deleteIndex(target);
      expect((await refusal(client().describeIndex(target))).code).toBe("NOT_FOUND");
    });
  });
}

describe("the wire, as `nats req` sees it", () => {
  const raw = (subject: string, body: string | Uint8Array, contentType?: string): Promise<Msg> => {
    const headers = natsHeaders();
    if (contentType !== undefined) headers.set("Content-Type", contentType);
    return nats().connection.request(subject, body, { timeout: 5_000, headers });
  };

  test("a JSON query from a shell answers the library's shape with the LSN header", async () => {
    const vectorText = JSON.stringify(records[7]?.values);
    const reply = await raw(
      dataSubject("json-cosine", "query"),
      `{"namespace":"","vector":${vectorText},"topK":3,"includeMetadata":true}`,
    );
    expect(reply.headers?.get("Nats-Service-Error-Code") ?? "").toBe("");
    expect(reply.headers?.get("Content-Type")).toBe("application/json");
    expect(BigInt(reply.headers?.get(lsnHeader) ?? "0") > 0n).toBe(true);
    const body = reply.json<{ matches: { id: string; metadata: object }[]; namespace: string }>();
    expect(body.matches[0]?.id).toBe("r007");
    expect(body.matches[0]?.metadata).toEqual(records[7]?.metadata as object);
    expect(Object.keys(body).sort()).toEqual(["matches", "namespace", "usage"]);
    // No body at all is an empty options object: listIndexes needs none.
    const list = await raw(controlSubject("listIndexes"), "");
    expect(list.json<{ indexes: unknown[] }>().indexes.length).toBeGreaterThan(0);
  });

  test("errors carry the service framework's headers and a JSON body naming field, limit, received", async () => {
    const reply = await raw(dataSubject("json-cosine", "query"), `{"vector":[1,2,3],"topK":1}`);
    expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("400");
    const message = reply.headers?.get("Nats-Service-Error") ?? "";
    expect(message).toContain("vector");
    const body = reply.json<{ error: Record<string, unknown>; status: number }>();
    expect(body.status).toBe(400);
    expect(body.error).toMatchObject({ code: "INVALID_ARGUMENT", field: "vector", message });
    expect(body.error.limit).toBeDefined();
    expect(body.error.received).toBeDefined();

    const notJson = await raw(dataSubject("json-cosine", "query"), "{vector:");
    expect(notJson.headers?.get("Nats-Service-Error-Code")).toBe("400");
    expect(notJson.json<{ error: { field: string } }>().error.field).toBe("body");
    const notObject = await raw(dataSubject("json-cosine", "fetch"), "[1,2]");
    expect(notObject.json<{ error: { field: string; received: string } }>().error).toMatchObject({
      field: "body",
      received: "an array of 2",
    });
    const missing = await raw(controlSubject("describeIndex"), `{"name":"nope"}`);
    expect(missing.headers?.get("Nats-Service-Error-Code")).toBe("404");
    const protectedDelete = await raw(dataSubject("nope", "describeIndexStats"), "{}");
    expect(protectedDelete.headers?.get("Nats-Service-Error-Code")).toBe("404");
  });

  test("an answer over the server's max_payload is refused as 413 naming the limit", async () => {
    const index = new NeedleNatsClient(nats().connection).index("json-cosine");
    const padding = "x".repeat(39_000);
    const big = Array.from({ length: 40 }, (_, i) => ({
      id: `big-${i}`,
      values: vector(dimension),
      metadata: { padding },
    }));
    for (let at = 0; at < big.length; at += 10)
      await index.upsert({ records: big.slice(at, at + 10), namespace: "big" });
    const error = await refusal(index.fetch({ ids: big.map((record) => record.id), namespace: "big" }));
    expect(error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(error.limit).toBe(nats().connection.info?.max_payload as number);
    expect(Number(error.received)).toBeGreaterThan(40 * 39_000);
    const half = await index.fetch({ ids: big.slice(0, 10).map((record) => record.id), namespace: "big" });
    expect(Object.keys(half.records)).toHaveLength(10);
  });

  test("$SRV.PING and $SRV.INFO discover the service and every operation; $SRV.STATS counts", async () => {
    const services = nats().connection.services.client();
    const pings = [];
    for await (const ping of await services.ping("needle")) pings.push(ping);
    expect(pings).toHaveLength(1);
    const infos = [];
    for await (const info of await services.info("needle")) infos.push(info);
    expect(infos).toHaveLength(1);
    const subjects = infos[0]?.endpoints.map((endpoint) => endpoint.subject).sort();
    const expected = [
      ...controlOperations.map((operation) => controlSubject(operation)),
      ...dataOperations.map((operation) => dataSubject("*", operation)),
    ].sort();
    expect(subjects).toEqual(expected);
    const stats = [];
    for await (const entry of await services.stats("needle")) stats.push(entry);
    const query = stats[0]?.endpoints?.find((endpoint) => endpoint.subject === dataSubject("*", "query"));
    expect(query?.num_requests).toBeGreaterThan(10);
    expect((query?.data as { errors?: number } | undefined)?.errors).toBeGreaterThan(0);
  });
});
