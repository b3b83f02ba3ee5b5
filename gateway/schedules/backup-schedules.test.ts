/**
 * Backup schedules through the official client (`pc.backupSchedules.*`) against the app served
 * in this process, with the scheduler's clock driven by the test: runs happen when due, once
 * per period; retention deletes what a schedule made; a disabled schedule does not run;
 * schedules and their history survive a reopen.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pinecone } from "@pinecone-database/pinecone";
import type { Engine } from "../../actors/api.ts";
import { openEngine } from "../../actors/mod.ts";
import { createApp } from "../http/app.ts";
import { BackupScheduler } from "./backup-schedules.ts";

const day = 24 * 3600_000;
let dir: string;
let engine: Engine;
let scheduler: BackupScheduler;
let server: ReturnType<typeof Bun.serve>;
let pc: Pinecone;

async function serve() {
  scheduler = await BackupScheduler.open(engine, dir, 0); // no timer: the test ticks
  const app = createApp(engine, { apiKeys: ["k"], publicUrl: "http://127.0.0.1:1", schedules: scheduler });
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  pc = new Pinecone({ apiKey: "k", controllerHostUrl: `http://127.0.0.1:${server.port}`, maxRetries: 0 });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-schedules-"));
  engine = await openEngine({ dir, log: () => {} });
  await engine.createIndex({ name: "docs", dimension: 2, metric: "euclidean" } as never);
  await engine.upsert("docs", "", [{ id: "a", values: new Float32Array([1, 2]) }]);
  await serve();
});
afterAll(async () => {
  server.stop(true);
  await scheduler.close();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

test("a daily schedule runs when due, keeps its retention, and can be paused, changed and deleted", async () => {
  const created = await pc.backupSchedules.create("docs", {
    name: "nightly",
    frequency: "daily",
    retentionDays: 2,
  });
  expect(created).toMatchObject({
    name: "nightly",
    indexId: "docs",
    frequency: "daily",
    retentionExpireAfterDays: 2,
    enabled: true,
  });
  const start = Date.parse(scheduler.describe(created.scheduleId).createdAt);
  expect(created.nextScheduledRun?.getTime()).toBe(start + day);
  expect((await pc.backupSchedules.list("docs")).data.map((s) => s.scheduleId)).toEqual([created.scheduleId]);

  await scheduler.tick(start + day / 2); // not due
  expect((await pc.backupSchedules.history(created.scheduleId)).data).toEqual([]);
  await scheduler.tick(start + day + 1); // due: one backup
  await scheduler.tick(start + day + 2); // not due again until a day later
  let history = (await pc.backupSchedules.history(created.scheduleId)).data;
  expect(history.length).toBe(1);
  expect(history[0]).toMatchObject({ status: "Ready", sourceIndexName: "docs", recordCount: 1 });
  const first = history[0]!.backupId;
  expect((await pc.describeBackup(first)).name).toStartWith("nightly-");

  await scheduler.tick(start + 2 * day + 5);
  await scheduler.tick(start + 3 * day + 10); // the first backup (taken at day 1) is now past 2 days
  history = (await pc.backupSchedules.history(created.scheduleId)).data;
  expect(history.map((run) => run.status)).toEqual(["Ready", "Ready", "Expired"]);
  await expect(pc.describeBackup(first)).rejects.toThrow(/404/);
  expect((await pc.listBackups({ indexName: "docs" })).data?.length).toBe(2);

  const paused = await pc.backupSchedules.update(created.scheduleId, { enabled: false });
  expect(paused.enabled).toBe(false);
  expect(paused.nextScheduledRun).toBeNull();
  await scheduler.tick(start + 10 * day);
  expect((await pc.backupSchedules.history(created.scheduleId)).data.length).toBe(3);
  const weekly = await pc.backupSchedules.update(created.scheduleId, { enabled: true, frequency: "weekly" });
  expect(weekly).toMatchObject({ enabled: true, frequency: "weekly" });

  // A restart keeps the schedule and its history.
  server.stop(true);
  await scheduler.close();
  await serve();
  expect(await pc.backupSchedules.describe(created.scheduleId)).toMatchObject({
    frequency: "weekly",
    enabled: true,
  });
  expect((await pc.backupSchedules.history(created.scheduleId)).data.length).toBe(3);

  await pc.backupSchedules.delete(created.scheduleId);
  await expect(pc.backupSchedules.describe(created.scheduleId)).rejects.toThrow(/404/);
});

test("refusals name the field: an unknown index, a bad frequency, retention below a day", async () => {
  const post = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${server.port}${path}`, {
      method: "POST",
      headers: { "Api-Key": "k", "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  const valid = {
    name: "s",
    schedule: { type: "time-based", frequency: "daily" },
    retention: { expire_after_days: 1 },
  };
  expect((await post("/indexes/nope/backup-schedules", valid)).status).toBe(404);
  let response = await post("/indexes/docs/backup-schedules", {
    ...valid,
    schedule: { type: "time-based", frequency: "hourly" },
  });
  expect(response.status).toBe(400);
  expect(JSON.stringify(await response.json())).toContain("frequency");
  response = await post("/indexes/docs/backup-schedules", { ...valid, retention: { expire_after_days: 0 } });
  expect(response.status).toBe(400);
  expect(JSON.stringify(await response.json())).toContain("expire_after_days");
});
