/**
 * Backups and restore jobs through the official client against the real server: the 9.x
 * methods and resource forms (`pc.backups.*`, `pc.restoreJobs.*`), the 8.x client's model,
 * pagination, and refusals that name the field.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Pinecone } from "@pinecone-database/pinecone";
import { Pinecone as PineconeV8 } from "pinecone-v8";
import { makeDataDir, type RunningServer, startServer } from "./testing.ts";

let server: RunningServer;
let data: ReturnType<typeof makeDataDir>;
let pc: Pinecone;

beforeAll(async () => {
  data = makeDataDir("backups-http");
  server = await startServer(data.dir);
  pc = new Pinecone({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
});
afterAll(async () => {
  await server.stop();
  data.remove();
});

const vector = (i: number) => [Math.sin(i), Math.cos(i), Math.sin(i * 0.5), 1];

test("the client's backup methods: create, list, describe, restore, query the restore, delete", async () => {
  await pc.createIndex({
    name: "docs",
    dimension: 4,
    metric: "euclidean",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    waitUntilReady: true,
  } as never);
  const index = pc.index("docs");
  await index.upsert({
    records: Array.from({ length: 30 }, (_, i) => ({ id: `d${i}`, values: vector(i), metadata: { n: i } })),
    namespace: "ns",
  } as never);

  const backup = await pc.createBackup({ indexName: "docs", name: "first", description: "before changes" });
  expect(backup).toMatchObject({
    sourceIndexName: "docs",
    name: "first",
    description: "before changes",
    status: "Ready",
    recordCount: 30,
    namespaceCount: 1,
  });
  expect(backup.sizeBytes).toBeGreaterThan(0);
  expect(backup.createdAt).toBeInstanceOf(Date);
  // Writes after the backup are not in it.
  await index.upsert({ records: [{ id: "late", values: vector(99) }], namespace: "ns" } as never);
  const second = await pc.backups.create("docs", { name: "second" });
  expect(second.recordCount).toBe(31);

  expect((await pc.describeBackup(backup.backupId)).name).toBe("first");
  const byIndex = await pc.listBackups({ indexName: "docs" });
  expect(byIndex.data?.map((b) => b.name).sort()).toEqual(["first", "second"]);
  const firstPage = await pc.backups.list({ limit: 1 });
  expect(firstPage.data?.length).toBe(1);
  expect(firstPage.pagination?.next).toBeDefined();
  const secondPage = await pc.backups.list({ limit: 1, paginationToken: firstPage.pagination!.next });
  expect(secondPage.data?.length).toBe(1);
  expect(secondPage.pagination?.next).toBeUndefined();

  const restore = await pc.createIndexFromBackup({
    backupId: backup.backupId,
    name: "docs-restored",
    tags: { from: "first" },
  });
  expect(restore.indexId).toBe("docs-restored");
  const job = await pc.describeRestoreJob(restore.restoreJobId);
  expect(job).toMatchObject({
    backupId: backup.backupId,
    targetIndexName: "docs-restored",
    status: "Completed",
    percentComplete: 100,
  });
  expect((await pc.restoreJobs.list()).data.map((j) => j.restoreJobId)).toContain(restore.restoreJobId);
  const described = await pc.describeIndex("docs-restored");
  expect(described.tags).toEqual({ from: "first" });

  const restored = pc.index("docs-restored");
  const query = { vector: vector(3.3), topK: 5, namespace: "ns", includeMetadata: true } as never;
  const expected = await index.query(query);
  const got = await restored.query(query);
  // The source has "late" too; it is far from this query, so the top 5 are the same.
  expect(got.matches).toEqual(expected.matches);
  expect((await restored.fetch({ ids: ["late", "d1"], namespace: "ns" } as never)).records).toHaveProperty(
    "d1",
  );
  expect((await restored.fetch({ ids: ["late"], namespace: "ns" } as never)).records).toEqual({});

  const resource = await pc.backups.createIndex(second.backupId, { name: "docs-second" });
  expect(resource.indexId).toBe("docs-second");
  expect((await pc.index("docs-second").describeIndexStats()).totalRecordCount).toBe(31);

  await pc.deleteBackup(backup.backupId);
  await expect(pc.describeBackup(backup.backupId)).rejects.toThrow(/status 404/);
  await pc.backups.delete(second.backupId);
  expect((await pc.listBackups()).data).toEqual([]);
});

test("refusals name the field: a restore into an existing index, a bad name, an unknown index", async () => {
  await pc.createIndex({
    name: "src",
    dimension: 4,
    metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    waitUntilReady: true,
  } as never);
  const backup = await pc.createBackup({ indexName: "src" });
  const restore = (name: string) =>
    fetch(`${server.url}/backups/${backup.backupId}/create-index`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name }),
    });
  let response = await restore("src");
  expect(response.status).toBe(409);
  response = await restore("Not_A_Name");
  expect(response.status).toBe(400);
  expect(JSON.stringify(await response.json())).toContain("name");
  response = await fetch(`${server.url}/indexes/nope/backups`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  expect(response.status).toBe(404);
  response = await fetch(`${server.url}/backups?limit=1000`);
  expect(response.status).toBe(400);
  expect(JSON.stringify(await response.json())).toContain("limit");
  response = await fetch(`${server.url}/indexes/src/backups`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "x", colour: "blue" }),
  });
  expect(response.status).toBe(400);
  expect(JSON.stringify(await response.json())).toContain("colour");
});

test("the 8.x client reads the older backup model (dimension and metric)", async () => {
  const v8 = new PineconeV8({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
  await pc.createIndex({
    name: "old",
    dimension: 4,
    metric: "dotproduct",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    waitUntilReady: true,
  } as never);
  const backup = await v8.createBackup({ indexName: "old", name: "v8" });
  expect(backup).toMatchObject({ sourceIndexName: "old", dimension: 4, metric: "dotproduct", name: "v8" });
  const restored = await v8.createIndexFromBackup({ backupId: backup.backupId, name: "old-restored" });
  expect((await v8.describeIndex(restored.indexId)).dimension).toBe(4);
});
