/**
 * Deployments and read capacity with the official clients against a real server: Dedicated
 * read capacity through create, describe and configure (client 9.x, API 2026-07), pod indexes
 * through create, describe, configure and query (client 8.2, API 2026-04), creating from a
 * collection that does not exist, and empty filter conditions.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pinecone } from "@pinecone-database/pinecone";
import { Pinecone as PineconeV8 } from "pinecone-v8";
import { makeDataDir, type RunningServer, startServer } from "./testing.ts";

let server: RunningServer;
let dataDir: ReturnType<typeof makeDataDir>;
let pc: Pinecone;
let pc8: PineconeV8;

beforeAll(async () => {
  dataDir = makeDataDir("deployments");
  server = await startServer(dataDir.dir);
  pc = new Pinecone({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
  pc8 = new PineconeV8({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  if (server !== undefined) expect(await server.stop()).toBe(0);
  dataDir?.remove();
}, 60_000);

/** The pod part of an 8.x IndexModel's spec (a union the client types loosely). */
function podSpec(model: unknown): Record<string, unknown> | undefined {
  return ((model as { spec?: unknown } | undefined)?.spec as { pod?: Record<string, unknown> } | undefined)
    ?.pod;
}

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a refusal");
}

const embedding = { type: "dense_vector" as const, dimension: 4, metric: "cosine" as const };

describe("Dedicated read capacity (client 9.x)", () => {
  test("round-trips through create, describe and configure; status moves to Ready", async () => {
    await pc.indexes.create({
      name: "dedicated",
      deployment: { deploymentType: "managed", cloud: "aws", region: "us-east-1" },
      schema: { fields: { embedding } },
      readCapacity: {
        mode: "Dedicated",
        dedicated: { nodeType: "b1", scaling: "Manual", manual: { replicas: 2, shards: 1 } },
      },
      waitUntilReady: true,
    });
    const described = await pc.indexes.describe("dedicated");
    const capacity = described.readCapacity!;
    expect(capacity.mode).toBe("Dedicated");
    if (capacity.mode !== "Dedicated") throw new Error("unreachable");
    expect(capacity.dedicated).toEqual({
      nodeType: "b1",
      scaling: "Manual",
      manual: { replicas: 2, shards: 1 },
    });
    expect(capacity.status.state).toBe("Ready");
    // One executor holds it in the embedded mode, and the status says so.
    expect(capacity.status.currentReplicas).toBe(1);

    await pc.indexes.configure("dedicated", {
      readCapacity: {
        mode: "Dedicated",
        dedicated: { nodeType: "t1", scaling: "Manual", manual: { replicas: 3, shards: 1 } },
      },
    });
    let again = await pc.indexes.describe("dedicated");
    for (let tries = 0; again.readCapacity?.status.state !== "Ready" && tries < 200; tries++) {
      await Bun.sleep(10);
      again = await pc.indexes.describe("dedicated");
    }
    expect(again.readCapacity).toMatchObject({
      mode: "Dedicated",
      dedicated: { nodeType: "t1", manual: { replicas: 3, shards: 1 } },
      status: { state: "Ready" },
    });

    await pc.indexes.configure("dedicated", { readCapacity: { mode: "OnDemand" } });
    expect((await pc.indexes.describe("dedicated")).readCapacity).toEqual({
      mode: "OnDemand",
      status: { state: "Ready" },
    });
  });

  test("what Needle cannot honour is refused naming the field", async () => {
    const shards = await refusal(
      pc.indexes.create({
        name: "sharded",
        schema: { fields: { embedding } },
        readCapacity: {
          mode: "Dedicated",
          dedicated: { nodeType: "b1", scaling: "Manual", manual: { replicas: 1, shards: 4 } },
        },
      }),
    );
    expect(shards.name).toBe("PineconeBadRequestError");
    expect(shards.message).toContain("read_capacity.dedicated.manual.shards");
    expect(shards.message).toContain("does not shard");
    await expect(pc.indexes.describe("sharded")).rejects.toThrow();
  });

  test("pod sizing on a serverless index is refused in Pinecone's words", async () => {
    await pc.indexes.create({ name: "svl", schema: { fields: { embedding } } });
    const refused = await refusal(pc.indexes.configure("svl", { deployment: { replicas: 2 } }));
    expect(refused.message).toContain(
      "Configuring replicas and pod type is not supported for serverless indexes",
    );
  });
});

describe("pod indexes (client 8.2, API 2026-04)", () => {
  test("create, describe, configure and query a pod index", async () => {
    const created = await pc8.createIndex({
      name: "pods",
      dimension: 4,
      metric: "euclidean",
      spec: {
        pod: {
          environment: "us-east-1-aws",
          podType: "p1.x1",
          pods: 2,
          replicas: 2,
          shards: 1,
          metadataConfig: { indexed: ["genre"] },
        },
      },
      waitUntilReady: true,
    });
    expect(podSpec(created)).toMatchObject({
      environment: "us-east-1-aws",
      podType: "p1.x1",
      pods: 2,
      replicas: 2,
      shards: 1,
      metadataConfig: { indexed: ["genre"] },
    });
    const configured = await pc8.configureIndex({ name: "pods", podReplicas: 3, podType: "p1.x2" });
    expect(podSpec(configured)).toMatchObject({ podType: "p1.x2", replicas: 3, pods: 3 });
    const described = await pc8.describeIndex("pods");
    expect(podSpec(described)?.podType).toBe("p1.x2");
    expect(described.dimension).toBe(4);

    const shrink = await refusal(pc8.configureIndex({ name: "pods", podType: "p1.x1" }));
    expect(shrink.message).toContain("can only grow within its family");
    const family = await refusal(pc8.configureIndex({ name: "pods", podType: "s1.x2" }));
    expect(family.message).toContain("can only grow within its family");

    // The 2026-07 model shows the same index as a pod deployment with its filterable field.
    const modern = await pc.indexes.describe("pods");
    expect(modern.deployment).toEqual({
      deploymentType: "pod",
      environment: "us-east-1-aws",
      podType: "p1.x2",
      replicas: 3,
      shards: 1,
    });
    expect(modern.schema.fields.genre).toEqual({ filterable: true });

    const index = pc8.index("pods");
    await index.upsert({
      records: [
        { id: "a", values: [0, 0, 0, 1], metadata: { genre: "drama", year: 2001 } },
        { id: "b", values: [0, 0, 1, 1], metadata: { genre: "comedy", year: 2002 } },
      ],
    });
    const drama = await index.query({ vector: [0, 0, 0, 1], topK: 5, filter: { genre: "drama" } });
    expect(drama.matches.map((match) => match.id)).toEqual(["a"]);
    // `year` is not in metadataConfig.indexed: filters see it as absent, as Pinecone does.
    const year = await index.query({ vector: [0, 0, 0, 1], topK: 5, filter: { year: 2001 } });
    expect(year.matches).toEqual([]);
    const notYear = await index.query({ vector: [0, 0, 0, 1], topK: 5, filter: { year: { $ne: 2001 } } });
    expect(notYear.matches.map((match) => match.id).sort()).toEqual(["a", "b"]);
    const fetched = await index.fetch({ ids: ["a"] });
    expect(fetched.records.a?.metadata).toEqual({ genre: "drama", year: 2001 });
  });

  test("creating from a collection that does not exist is 404 Resource <name> not found", async () => {
    const error = await refusal(
      pc8.createIndex({
        name: "from-collection",
        dimension: 4,
        spec: {
          pod: {
            environment: "us-east-1-aws",
            podType: "p1.x1",
            pods: 1,
            sourceCollection: "non-existent-collection",
          },
        },
      }),
    );
    expect(error.name).toBe("PineconeNotFoundError");
    // The 8.x client does not show a 404's body; the wire carries Pinecone's words.
    const response = await fetch(`${server.url}/indexes`, {
      method: "POST",
      headers: { "content-type": "application/json", "X-Pinecone-Api-Version": "2026-04" },
      body: JSON.stringify({
        name: "from-collection",
        dimension: 4,
        spec: { pod: { environment: "e", pod_type: "p1.x1", source_collection: "non-existent-collection" } },
      }),
    });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      "Resource non-existent-collection not found",
    );
  });
});

test("an empty filter condition is no condition (client 9.x)", async () => {
  await pc.indexes.create({ name: "empties", schema: { fields: { embedding } } });
  const index = pc.index({ name: "empties" });
  await index.upsert({
    records: [
      { id: "x", values: [1, 0, 0, 0], metadata: { genre: "drama" } },
      { id: "y", values: [0, 1, 0, 0] },
    ],
  });
  const plain = await index.query({ vector: [1, 1, 0, 0], topK: 5 });
  const empty = await index.query({ vector: [1, 1, 0, 0], topK: 5, filter: { genre: {} } });
  expect(empty.matches.map((match) => match.id)).toEqual(plain.matches.map((match) => match.id));
  expect(empty.matches).toHaveLength(2);
  const mixed = await index.query({
    vector: [1, 1, 0, 0],
    topK: 5,
    filter: { genre: {}, lang: { $exists: false } },
  });
  expect(mixed.matches).toHaveLength(2);
});
