/**
 * Bulk imports through the official client (`startImport`, `describeImport`, `listImports`,
 * `cancelImport`) against the real server started with `--import-root`: Parquet files in
 * Pinecone's layout (top level: default namespace; subdirectories: namespaces) give exactly
 * the records written; URIs outside the root (by path or by a symbolic link) and other
 * schemes are refused naming `uri`; abort reports the bad row; a running import cancels.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { Pinecone } from "@pinecone-database/pinecone";
import { makeRecords, type SourceRecord, writeParquet } from "../import/testing.ts";
import { makeDataDir, type RunningServer, startServer } from "./testing.ts";

let server: RunningServer;
let data: ReturnType<typeof makeDataDir>;
let files: ReturnType<typeof makeDataDir>;
let pc: Pinecone;
const dimension = 8;

beforeAll(async () => {
  data = makeDataDir("imports-http");
  files = makeDataDir("imports-root");
  server = await startServer(data.dir, ["--import-root", files.dir]);
  pc = new Pinecone({ apiKey: "x", controllerHostUrl: server.url, maxRetries: 0 });
  await pc.createIndex({
    name: "docs",
    dimension,
    metric: "euclidean",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    waitUntilReady: true,
  } as never);
});
afterAll(async () => {
  await server.stop();
  data.remove();
  files.remove();
});

async function finished(id: string) {
  const index = pc.index("docs");
  for (let waited = 0; ; waited += 20) {
    const model = await index.describeImport(id);
    if (model.status !== "Pending" && model.status !== "InProgress") return model;
    expect(waited).toBeLessThan(60_000);
    await Bun.sleep(20);
  }
}

async function expectRecords(namespace: string, expected: SourceRecord[]) {
  const index = pc.index("docs").namespace(namespace);
  const stats = await pc.index("docs").describeIndexStats();
  expect(stats.namespaces?.[namespace]?.recordCount).toBe(expected.length);
  for (let from = 0; from < expected.length; from += 200) {
    const chunk = expected.slice(from, from + 200);
    const fetched = await index.fetch({ ids: chunk.map((r) => r.id) } as never);
    for (const record of chunk) {
      // The wire prints float32 values in their shortest form: compare as float32.
      expect(fetched.records[record.id]?.values?.map(Math.fround)).toEqual(
        Array.from(Float32Array.from(record.values)),
      );
      expect(fetched.records[record.id]?.metadata as unknown).toEqual(record.metadata);
    }
  }
}

test("an import of a directory: default namespace at the top, one namespace per subdirectory", async () => {
  const top = makeRecords(700, dimension, 1, "t");
  const first = makeRecords(900, dimension, 2, "a");
  const second = makeRecords(400, dimension, 3, "b");
  const dir = join(files.dir, "catalog");
  await mkdir(join(dir, "tenant-1"), { recursive: true });
  await writeParquet(join(dir, "part-0.parquet"), top, 256);
  await writeParquet(join(dir, "tenant-1", "part-0.parquet"), first.slice(0, 500), 128);
  await writeParquet(join(dir, "tenant-1", "part-1.parquet"), first.slice(500), 128);
  await mkdir(join(dir, "tenant-2"));
  await writeParquet(join(dir, "tenant-2", "only.parquet"), second);

  const index = pc.index("docs");
  const started = await index.startImport({ uri: `file://${dir}` });
  const model = await finished(started.id);
  expect(model).toMatchObject({
    id: started.id,
    status: "Completed",
    percentComplete: 100,
    recordsImported: 2000,
  });
  expect(model.finishedAt).toBeInstanceOf(Date);
  await expectRecords("__default__", top);
  await expectRecords("tenant-1", first);
  await expectRecords("tenant-2", second);
  expect((await index.listImports()).data?.map((item) => item.id)).toContain(started.id);
});

test("URIs outside the import root, by path or by symbolic link, and other schemes are refused", async () => {
  const index = pc.index("docs");
  await symlink("/etc", join(files.dir, "escape"));
  for (const uri of [
    "file:///etc",
    `file://${files.dir}/../`,
    `file://${files.dir}/escape`,
    "s3://bucket/data/",
    "nonsense",
  ]) {
    const response = await fetch(`${server.url}/index/docs/bulk/imports`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ uri }),
    });
    expect(response.status).toBe(400);
    const body = JSON.stringify(await response.json());
    expect(body).toContain("uri");
  }
  await expect(index.startImport({ uri: "file:///etc/passwd" })).rejects.toThrow(/outside the import root/);
  await expect(index.describeImport("00000000-0000-4000-8000-000000000000")).rejects.toThrow(/404/);
});

test("abort fails the import at the bad row and names it; cancel stops a running import", async () => {
  const records = makeRecords(300, dimension, 5, "x");
  const rows: { id: string; values: number[] | null; metadata?: unknown }[] = records.map((r) => ({ ...r }));
  rows[120] = { id: "broken", values: [1, 2, 3] };
  await writeParquet(join(files.dir, "bad.parquet"), rows, 100);
  const index = pc.index("docs");
  const aborted = await finished(
    (await index.startImport({ uri: `file://${files.dir}/bad.parquet`, errorMode: "abort" })).id,
  );
  expect(aborted.status).toBe("Failed");
  expect(aborted.error).toBe(
    "bad row bad.parquet: row group 1, row 20: record.values: has 3 dimensions, the index has 8",
  );

  const big = makeRecords(150_000, dimension, 6, "big");
  await writeParquet(join(files.dir, "big.parquet"), big, 10_000);
  const running = await index.startImport({ uri: `file://${files.dir}/big.parquet` });
  for (let waited = 0; (await index.describeImport(running.id)).status === "Pending"; waited += 5) {
    expect(waited).toBeLessThan(30_000);
    await Bun.sleep(5);
  }
  await index.cancelImport(running.id);
  const cancelled = await finished(running.id);
  expect(cancelled.status).toBe("Cancelled");
  expect(cancelled.recordsImported).toBeLessThan(big.length);
  expect(cancelled.percentComplete).toBeLessThan(100);
}, 120_000);

test("without --import-root, imports are refused saying how to turn them on", async () => {
  const other = makeDataDir("imports-off");
  const plain = await startServer(other.dir);
  try {
    const response = await fetch(`${plain.url}/index/docs/bulk/imports`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ uri: "file:///tmp" }),
    });
    expect(response.status).toBe(412);
    expect(JSON.stringify(await response.json())).toContain("--import-root");
  } finally {
    await plain.stop();
    other.remove();
  }
});

test("a server killed with SIGKILL in the middle of an import resumes it at restart: every record once", async () => {
  const dataDir = makeDataDir("imports-crash");
  const root = makeDataDir("imports-crash-root");
  const records = makeRecords(120_000, dimension, 8, "k");
  await writeParquet(join(root.dir, "big.parquet"), records, 5_000);
  let running = await startServer(dataDir.dir, ["--import-root", root.dir]);
  try {
    const client = () => new Pinecone({ apiKey: "x", controllerHostUrl: running.url, maxRetries: 0 });
    await client().createIndex({
      name: "crash",
      dimension,
      metric: "euclidean",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } },
      waitUntilReady: true,
    } as never);
    const { id } = await client()
      .index("crash")
      .startImport({ uri: `file://${root.dir}/big.parquet` });
    for (let waited = 0; ; waited += 5) {
      const model = await client().index("crash").describeImport(id);
      if (model.recordsImported > 0) {
        expect(model.status).toBe("InProgress");
        break;
      }
      expect(waited).toBeLessThan(30_000);
      await Bun.sleep(5);
    }
    running.process.kill("SIGKILL");
    await running.process.exited;
    running = await startServer(dataDir.dir, ["--import-root", root.dir]);
    // The client caches an index's host per process: name the restarted server's explicitly.
    const index = client().index("crash", `${running.url}/index/crash`);
    let model = await index.describeImport(id);
    for (let waited = 0; model.status === "InProgress" || model.status === "Pending"; waited += 20) {
      expect(waited).toBeLessThan(60_000);
      await Bun.sleep(20);
      model = await index.describeImport(id);
    }
    expect(model).toMatchObject({
      status: "Completed",
      recordsImported: records.length,
      percentComplete: 100,
    });
    expect((await index.describeIndexStats()).totalRecordCount).toBe(records.length);
    const sample = records.filter((_, i) => i % 997 === 0);
    const fetched = await index.fetch({ ids: sample.map((r) => r.id) } as never);
    for (const record of sample)
      expect(fetched.records[record.id]?.values?.map(Math.fround)).toEqual(
        Array.from(Float32Array.from(record.values)),
      );
  } finally {
    await running.stop();
    dataDir.remove();
    root.remove();
  }
}, 120_000);
