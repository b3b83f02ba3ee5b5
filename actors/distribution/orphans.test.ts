/**
 * Orphan collection against a real JetStream server: streams and checkpoints of deleted
 * indexes, or of an earlier incarnation of a name, go; those of live indexes stay; a
 * checkpoint file no record names goes only once older than the grace period.
 */
import { expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nuid } from "nats";
import {
  checkpointObjectsBucket,
  logStreamName,
  logSubject,
  parseLogStreamName,
} from "../../storage/nats/names.ts";
import { natsServerForFile } from "../../storage/testing/nats-server.ts";
import { configFromCreate } from "../index-config.ts";
import { Checkpoints } from "./checkpoints.ts";
import { ClusterCatalog } from "./cluster-catalog.ts";
import { collectOrphans } from "./orphans.ts";

const nats = natsServerForFile({ jetstream: true });

test("stream names parse back to index and incarnation; other streams do not", () => {
  const incarnation = nuid.next();
  expect(parseLogStreamName(logStreamName("my-index-2", incarnation))).toEqual({
    index: "my-index-2",
    incarnation,
  });
  expect(parseLogStreamName("needle-log-docs")).toBeUndefined(); // embedded naming, no incarnation
  expect(parseLogStreamName("KV_needle-catalog")).toBeUndefined();
});

test("what deleted indexes left goes; what live indexes use stays", async () => {
  const root = await mkdtemp(join(tmpdir(), "needle-orphans-"));
  try {
    const connection = nats().connection;
    const catalog = await ClusterCatalog.open(connection);
    const checkpoints = await Checkpoints.open(connection, { cacheDir: join(root, "cache") });
    const manager = await connection.jetstreamManager();
    const stream = async (index: string, incarnation: string) => {
      await manager.streams.add({
        name: logStreamName(index, incarnation),
        subjects: [logSubject(index, incarnation)],
      });
      return logStreamName(index, incarnation);
    };
    const live = nuid.next();
    const earlier = nuid.next();
    const gone = nuid.next();
    await catalog.create({
      config: configFromCreate(
        { name: "live", dimension: 2, metric: "cosine", vectorType: "dense" } as never,
        "2026-01-01T00:00:00Z",
      ),
      incarnation: live,
    });
    const kept = await stream("live", live);
    const stale = await stream("live", earlier); // a delete-and-recreate whose stream delete failed
    const deleted = await stream("deleted", gone);
    await manager.streams.add({ name: "someone-elses", subjects: ["other.>"] });

    const dir = join(root, "index");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "manifest"), "m");
    const liveRecord = await checkpoints.save("live", live, 7n, dir);
    await checkpoints.save("deleted", gone, 9n, dir);
    // A file an interrupted save uploaded but never recorded.
    const loose = `live/${live}/99/manifest`;
    const objects = await connection.jetstream().views.os(checkpointObjectsBucket);
    await objects.putBlob({ name: loose }, new TextEncoder().encode("x"));

    // Within the grace period the loose file stays.
    let report = await collectOrphans(connection, catalog, checkpoints, { graceMs: 60_000 });
    expect(report.streams.sort()).toEqual([deleted, stale].sort());
    expect(report.checkpoints).toEqual(["deleted"]);
    expect(report.files).toEqual([]);
    const names: string[] = [];
    for await (const name of manager.streams.names()) names.push(name);
    expect(names).toContain(kept);
    expect(names).toContain("someone-elses");
    expect(names).not.toContain(stale);
    expect(names).not.toContain(deleted);
    expect(await checkpoints.latest("live", live)).toEqual(liveRecord);
    expect(await checkpoints.latest("deleted", gone)).toBeUndefined();

    // Past it (the clock moved on), the loose file goes; the live checkpoint still restores.
    report = await collectOrphans(connection, catalog, checkpoints, {
      graceMs: 60_000,
      now: Date.now() + 120_000,
    });
    expect(report).toEqual({ streams: [], checkpoints: [], files: [loose] });
    await checkpoints.restore(liveRecord, join(root, "restored"));
    expect((await checkpoints.storedFiles()).map((file) => file.key)).toEqual(
      liveRecord.files.map((file) => file.key),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
