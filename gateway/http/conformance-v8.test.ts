/**
 * Conformance for the 2026-04 index model: the official client 8.2.0 (installed as the dev
 * alias `pinecone-v8`) sends `X-Pinecone-Api-Version: 2026-04` and expects `dimension`,
 * `metric`, `spec.serverless` and `vector_type` in IndexModel. A smaller suite than the 9.x
 * one: the data plane is the same wire on both versions.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pinecone } from "pinecone-v8";
import { shortestFloat32 } from "../library/float32.ts";
import { makeDataDir, type RunningServer, seededRandom, startServer } from "./testing.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? 8202604);
console.log(`conformance-v8 seed ${seed} (NEEDLE_TEST_SEED to replay)`);
const random = seededRandom(seed);
const dimension = 6;

let server: RunningServer;
let pc: Pinecone;
let dataDir: ReturnType<typeof makeDataDir>;

function vector(): number[] {
  return Array.from({ length: dimension }, () => shortestFloat32(Math.fround(random() * 2 - 1)));
}

async function errorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).name;
  }
  return "no error";
}

beforeAll(async () => {
  dataDir = makeDataDir("conformance-v8");
  server = await startServer(dataDir.dir);
  pc = new Pinecone({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  if (server !== undefined) expect(await server.stop()).toBe(0);
  dataDir?.remove();
}, 60_000);

describe("client 8.2 (API 2026-04)", () => {
  test("control plane in the older model", async () => {
    const created = await pc.createIndex({
      name: "legacy",
      dimension,
      metric: "dotproduct",
      spec: { serverless: { cloud: "aws", region: "us-west-2" } },
      deletionProtection: "enabled",
      tags: { owner: "v8" },
      waitUntilReady: true,
    });
    expect(created).toMatchObject({
      name: "legacy",
      dimension,
      metric: "dotproduct",
      vectorType: "dense",
      deletionProtection: "enabled",
      tags: { owner: "v8" },
      status: { ready: true },
    });
    expect(created!.host).toBe(`${server.url}/index/legacy`);
    expect((created!.spec as { serverless?: object }).serverless).toMatchObject({
      cloud: "aws",
      region: "us-west-2",
    });

    await pc.createIndex({
      name: "legacy-sparse",
      vectorType: "sparse",
      metric: "dotproduct",
      spec: { serverless: { cloud: "aws", region: "us-west-2" } },
    });
    const sparse = await pc.describeIndex("legacy-sparse");
    expect(sparse.vectorType).toBe("sparse");
    expect(sparse.dimension).toBeUndefined();

    const listed = await pc.listIndexes();
    expect((listed.indexes ?? []).map((index) => index.name).sort()).toEqual(["legacy", "legacy-sparse"]);

    expect(await errorName(pc.deleteIndex("legacy"))).toBe("PineconeBadRequestError");
    const configured = await pc.configureIndex({ name: "legacy", deletionProtection: "disabled" });
    expect(configured.deletionProtection).toBe("disabled");
    expect(await errorName(pc.describeIndex("nope"))).toBe("PineconeNotFoundError");
    expect(
      await errorName(
        pc.createIndex({ name: "legacy", dimension, spec: { serverless: { cloud: "aws", region: "x" } } }),
      ),
    ).toBe("PineconeConflictError");
  });

  test("tags removed to none are absent; configure errors match Pinecone's", async () => {
    await pc.configureIndex({ name: "legacy-sparse", tags: { stage: "one" } });
    expect((await pc.describeIndex("legacy-sparse")).tags).toEqual({ stage: "one" });
    await pc.configureIndex({ name: "legacy-sparse", tags: { stage: "" } });
    expect((await pc.describeIndex("legacy-sparse")).tags).toBeUndefined();

    const refused = async (promise: Promise<unknown>) => {
      try {
        await promise;
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`;
      }
      return "no error";
    };
    // 8.2 refuses pod sizing itself for serverless indexes; older clients send `spec.pod`.
    const podSizing = await fetch(`${server.url}/indexes/legacy-sparse`, {
      method: "PATCH",
      headers: { "Api-Key": "x", "content-type": "application/json", "X-Pinecone-Api-Version": "2025-04" },
      body: JSON.stringify({ spec: { pod: { replicas: 2 } } }),
    });
    expect(podSizing.status).toBe(400);
    expect(await podSizing.text()).toContain(
      "Configuring replicas and pod type is not supported for serverless",
    );
    const bogus = await refused(
      pc.configureIndex({ name: "legacy-sparse", deletionProtection: "bogus" } as never),
    );
    expect(bogus).toStartWith("PineconeBadRequestError");
    expect(bogus).toContain("Invalid deletion_protection, value should be either enabled or disabled");
    expect((await pc.describeIndex("legacy-sparse")).deletionProtection).toBe("disabled");
  });

  test("data plane round trip: upsert, query (exact dot product), fetch, list, stats, delete", async () => {
    const index = pc.index("legacy");
    const rows = Array.from({ length: 50 }, (_, i) => ({
      id: `r${String(i).padStart(2, "0")}`,
      values: vector(),
      metadata: { even: i % 2 === 0 },
    }));
    await index.upsert({ records: rows });
    const query = vector();
    const dot = (values: number[]) => values.reduce((sum, value, i) => sum + value * query[i]!, 0);
    const expected = rows
      .filter((row) => row.metadata.even)
      .map((row) => ({ id: row.id, score: dot(row.values) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 5);
    const result = await index.query({ vector: query, topK: 5, filter: { even: true } });
    expect(result.matches.map((m) => m.id)).toEqual(expected.map((e) => e.id));

    const fetched = await index.fetch({ ids: ["r01", "r02", "zz"] });
    expect(Object.keys(fetched.records).sort()).toEqual(["r01", "r02"]);
    expect(fetched.records.r01!.values).toEqual(rows[1]!.values);

    const page = await index.listPaginated({ prefix: "r0", limit: 100 });
    expect((page.vectors ?? []).map((v) => v.id)).toEqual(rows.slice(0, 10).map((row) => row.id));

    await index.deleteMany({ ids: ["r00", "r01"] });
    const stats = await index.describeIndexStats();
    expect(stats.totalRecordCount).toBe(48);
    expect(stats.dimension).toBe(dimension);

    await pc.deleteIndex("legacy");
    expect(await errorName(pc.describeIndex("legacy"))).toBe("PineconeNotFoundError");
  });
});
