/**
 * The engine with its request logs on JetStream (issue 8 step 4; storage/log/jetstream-logs.ts):
 * a child ingesting batches is killed with SIGKILL at seeded moments and the directory reopened
 * on the same streams: every acknowledged batch is there, the one in flight all or nothing,
 * nothing else. Deleting an index removes its stream, so a new index of the name starts empty;
 * flushed records are trimmed from the stream.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { logStreamName } from "../storage/nats/names.ts";
import { jetStreamLogs } from "../storage/log/jetstream-logs.ts";
import { startNatsServer, type TestNatsServer } from "../storage/testing/nats-server.ts";
import { openEngine } from "./mod.ts";
import { expectCrashOutcome, runCrashChild } from "./testing/crash-check.ts";
import { seededRandom } from "./testing/reference.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
const trials = 4;

let server: TestNatsServer;
let connection: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer({ jetstream: true });
  connection = await connect({ servers: server.url });
});

afterAll(async () => {
  await connection?.drain();
  await server?.stop();
});

test(`SIGKILL during ingest with the log on JetStream loses no acknowledged batch (seed=${seed})`, async () => {
  console.log(`engine-jetstream-log seed=${seed} (NEEDLE_TEST_SEED=${seed} replays)`);
  const random = seededRandom(seed);
  const dir = await mkdtemp(join(tmpdir(), "needle-js-crash-"));
  try {
    let complete = 0;
    for (let trial = 0; trial < trials; trial++) {
      const killAfterMs = 100 + Math.floor(random() * 600);
      const lastAcked = await runCrashChild(dir, complete, killAfterMs, { NEEDLE_TEST_NATS: server.url });
      const engine = await openEngine({ dir, logs: jetStreamLogs(connection), log: () => {} });
      try {
        complete = await expectCrashOutcome(engine, lastAcked);
      } finally {
        await engine.close();
      }
    }
    expect(complete).toBeGreaterThan(0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);

test("delete removes the index's stream (a new index of the name starts empty); flushed records are trimmed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-js-log-"));
  const manager = await connection.jetstreamManager();
  const engine = await openEngine({ dir, logs: jetStreamLogs(connection), flushRowsMax: 50, log: () => {} });
  try {
    await engine.createIndex({ name: "again", dimension: 2, metric: "euclidean", vectorType: "dense" });
    for (let batch = 0; batch < 6; batch++) {
      const records = Array.from({ length: 40 }, (_, i) => ({
        id: `${batch}-${i}`,
        values: Float32Array.from([batch, i]),
      }));
      await engine.upsert("again", "ns", records);
    }
    const before = (await manager.streams.info(logStreamName("again"))).state;
    expect(before.last_seq).toBe(6);
    await engine.deleteIndex("again");
    expect(await manager.streams.info(logStreamName("again")).catch(() => "gone")).toBe("gone");

    await engine.createIndex({ name: "again", dimension: 2, metric: "euclidean", vectorType: "dense" });
    await engine.upsert("again", "ns", [{ id: "new", values: Float32Array.from([1, 1]) }]);
    const stats = await engine.describeIndexStats("again");
    expect(stats.totalVectorCount).toBe(1);
  } finally {
    await engine.close();
  }
  // A clean close flushes every namespace and trims the log through what it wrote.
  const after = (await manager.streams.info(logStreamName("again"))).state;
  expect(after.messages).toBe(0);
  expect(after.last_seq).toBe(1);
  const reopened = await openEngine({ dir, logs: jetStreamLogs(connection), log: () => {} });
  try {
    expect((await reopened.fetch("again", "ns", ["new", "0-0"])).records.map((r) => r.id)).toEqual(["new"]);
  } finally {
    await reopened.close();
    await rm(dir, { recursive: true, force: true });
  }
});
