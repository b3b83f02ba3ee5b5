/**
 * Compactions built by a compactor (remote-compaction.ts), through a real nats-server: an
 * engine whose compactions a compactor on its own connection builds answers every query
 * exactly as an engine that built its own from the same writes; without a compactor member,
 * when the compactor that took a job leaves the cluster before answering, or when it stays
 * but never answers (past jobMs), the owner builds itself and the compaction completes; the
 * job's objects are removed either way. Cluster hosts wire it: an owner host's compactions go
 * to a compactor host.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection, nanos } from "nats";
import { gaussian } from "../../ffi/seeded-random.ts";
import { NatsObjectBlobStore } from "../../storage/blob/nats-object-store.ts";
import { natsServerForFile } from "../../storage/testing/nats-server.ts";
import type { VectorRecord } from "../../storage/types.ts";
import type { Engine, EngineOptions } from "../api.ts";
import { openEngine } from "../mod.ts";
import { address, addressSubjects } from "../runtime/address.ts";
import { encodeAnswer } from "../runtime/wire.ts";
import { seededRandom } from "../testing/reference.ts";
import { startClusterHost } from "./host.ts";
import { Membership } from "./membership.ts";
import {
  compactionFilesTtlMs,
  type RemoteCompactionTimings,
  remoteCompactionBuilder,
  serveCompactions,
} from "./remote-compaction.ts";
import { compactionFilesBucket } from "../../storage/nats/names.ts";

const nats = natsServerForFile({ jetstream: true });
const roots: string[] = [];
const connections: NatsConnection[] = [];
afterAll(async () => {
  for (const connection of connections) await connection.close().catch(() => {});
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

const dim = 16;
const rows = 4_000;
const random = seededRandom(20261204);
const centers = Array.from({ length: 12 }, () =>
  Float32Array.from({ length: dim }, () => gaussian(random) * 3),
);
const records: VectorRecord[] = Array.from({ length: rows }, (_, i) => ({
  id: `r${i}`,
  values: Float32Array.from(centers[i % centers.length]!, (c) => c + gaussian(random)),
  metadata: { i },
}));
const queries = Array.from({ length: 20 }, (_, i) =>
  Float32Array.from(centers[i % centers.length]!, (c) => c + gaussian(random)),
);

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-remote-compaction-"));
  roots.push(dir);
  return dir;
}

async function newConnection(): Promise<NatsConnection> {
  const connection = await connect({ servers: nats().server.url });
  connections.push(connection);
  return connection;
}

async function files(connection: NatsConnection, dir: string): Promise<NatsObjectBlobStore> {
  const objects = await connection.jetstream().views.os("test-compaction-files");
  return new NatsObjectBlobStore(objects, join(dir, "cache"));
}

/** An engine whose four flushes make one level-1 IVF slab, fed the same records each time. */
async function compacted(extra: Partial<EngineOptions>): Promise<Engine> {
  const engine = await openEngine({
    dir: await freshDir(),
    flushRowsMax: 1_000,
    packedRowsMax: 0,
    compaction: { l0MergeTrigger: 4, indexRowsMin: 3_000 },
    log: () => {},
    ...extra,
  });
  await engine.createIndex({ name: "c", dimension: dim, metric: "euclidean", vectorType: "dense" });
  for (let start = 0; start < rows; start += 500)
    await engine.upsert("c", "ns", records.slice(start, start + 500));
  for (let waited = 0; ; waited += 20) {
    expect(waited).toBeLessThan(60_000);
    await engine.compactionSettled();
    const levels = (await engine.describeIndexStats("c")).compaction!.levels;
    if (levels.length === 1 && levels[0]!.level === 1 && levels[0]!.liveRows === rows) break;
    await Bun.sleep(20);
  }
  return engine;
}

async function answers(engine: Engine) {
  const out = [];
  for (const vector of queries) {
    const result = await engine.query("c", "ns", {
      vector,
      topK: 10,
      includeValues: false,
      includeMetadata: true,
      explain: true,
    });
    const slab = result.explain!.sources.find((source) => source.source !== "memtable")!;
    expect(slab.index).toBe("ivf");
    out.push(result.matches);
  }
  return out;
}

const membershipOptions = { bucket: "test-members", ttlMs: 1_500, heartbeatMs: 200 };

/** A member on a connection of its own. */
async function member(name: string, role: "namespace" | "compactor") {
  const connection = await newConnection();
  const membership = await Membership.open(
    connection,
    { name, roles: [role], pid: process.pid },
    membershipOptions,
  );
  return { connection, membership };
}

/** An owner's side: a member, the job bucket, and a builder asking compactors. */
async function ownerSide(name: string, timings?: RemoteCompactionTimings) {
  const { connection, membership } = await member(name, "namespace");
  const ownerFiles = await files(connection, await freshDir());
  const builder = remoteCompactionBuilder({ connection, files: ownerFiles, membership, timings });
  return { connection, membership, files: ownerFiles, builder };
}

/**
 * A compactor member that takes every job and never answers (`onTake` runs at each take);
 * its connection must be closed after the test: its subscription would take later jobs.
 */
async function silentCompactor(name: string, onTake: (taken: number) => void = () => {}) {
  const { connection, membership } = await member(name, "compactor");
  const state = { taken: 0 };
  connection.subscribe(addressSubjects(address("compactor", "cluster")), {
    queue: "needle-compactors",
    callback: (_error, msg) => {
      state.taken++;
      msg.respond(encodeAnswer({ compactor: name }));
      onTake(state.taken);
    },
  });
  return { connection, membership, state };
}

test("a compactor builds the owner's compactions; answers equal a local build's; no object is left", async () => {
  const local = await compacted({});
  const expected = await answers(local);
  await local.close();

  const compactorSide = await member("compactor-1", "compactor");
  const compactorDir = await freshDir();
  const compactor = serveCompactions({
    connection: compactorSide.connection,
    files: await files(compactorSide.connection, compactorDir),
    name: "compactor-1",
    dir: compactorDir,
  });
  const owner = await ownerSide("owner-1");
  const remote = owner.builder;
  const ownerFiles = owner.files;
  const engine = await compacted({ compactionBuilder: remote.build });
  try {
    expect(remote.stats.remote).toBeGreaterThanOrEqual(1);
    expect(remote.stats.local).toBe(0);
    expect(compactor.stats.built).toBe(remote.stats.remote);
    expect(await answers(engine)).toEqual(expected);
    expect(await ownerFiles.list("jobs/")).toEqual([]);
  } finally {
    await engine.close();
    await compactor.stop();
    await compactorSide.membership.leave();
    await owner.membership.leave();
  }
}, 120_000);

test("with no compactor, or one that leaves while building, the owner builds itself", async () => {
  const timings = { takeMs: 2_000, livenessMs: 100 };
  const owner = await ownerSide("owner-2", timings);
  const alone = owner.builder;
  let engine = await compacted({ compactionBuilder: alone.build });
  expect(alone.stats).toMatchObject({ remote: 0, lastLocalReason: "no compactor is a member" });
  expect(alone.stats.local).toBeGreaterThanOrEqual(1);
  const expected = await answers(engine);
  await engine.close();

  // A compactor that takes every job and never answers, then dies (its entry removed).
  const ghost = await silentCompactor("ghost", (taken) => {
    if (taken === 1) setTimeout(() => void ghost.membership.leave(), 300);
  });
  const abandoned = remoteCompactionBuilder({
    connection: owner.connection,
    files: owner.files,
    membership: owner.membership,
    timings,
  });
  engine = await compacted({ compactionBuilder: abandoned.build });
  try {
    expect(ghost.state.taken).toBeGreaterThanOrEqual(1);
    expect(abandoned.stats.remote).toBe(0);
    // The one compaction (four level-0 slabs into one) was the ghost's job.
    expect(ghost.state.taken).toBe(1);
    expect(abandoned.stats.local).toBe(1);
    expect(abandoned.stats.lastLocalReason).toBe("compactor ghost left the cluster while building");
    expect(await answers(engine)).toEqual(expected);
    expect(await owner.files.list("jobs/")).toEqual([]);
  } finally {
    await engine.close();
    await owner.membership.leave();
    await ghost.connection.close(); // its subscription would take the next test's jobs
  }
}, 120_000);

test("cluster hosts: an owner's compactions go to the member with the compactor role", async () => {
  const engineOptions: Partial<EngineOptions> = {
    flushRowsMax: 1_000,
    packedRowsMax: 0,
    compaction: { l0MergeTrigger: 4, indexRowsMin: 3_000 },
    log: () => {},
  };
  const owner = await startClusterHost({
    connection: await newConnection(),
    roles: ["gateway", "namespace"],
    name: "owner-h",
    dir: await freshDir(),
    engine: engineOptions,
    log: () => {},
  });
  const compactorHost = await startClusterHost({
    connection: await newConnection(),
    roles: ["compactor"],
    name: "compactor-h",
    dir: await freshDir(),
    log: () => {},
  });
  try {
    expect(compactorHost.engine).toBeUndefined();
    expect(compactorHost.owner).toBeUndefined();
    const engine = owner.engine!;
    await engine.createIndex({ name: "h", dimension: dim, metric: "euclidean", vectorType: "dense" });
    for (let start = 0; start < rows; start += 500) {
      const batch = records.slice(start, start + 500);
      // Until the owner has claimed the new index (its next heartbeat), writes answer UNAVAILABLE.
      for (let attempt = 0; ; attempt++) {
        try {
          await engine.upsert("h", "ns", batch);
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== "UNAVAILABLE" || attempt > 100) throw error;
          await Bun.sleep(100);
        }
      }
    }
    for (let waited = 0; ; waited += 50) {
      expect(waited).toBeLessThan(60_000);
      const levels = (await engine.describeIndexStats("h")).compaction?.levels ?? [];
      if (levels.length === 1 && levels[0]!.level === 1 && levels[0]!.liveRows === rows) break;
      await Bun.sleep(50);
    }
    expect(owner.compactions.built!.remote).toBeGreaterThanOrEqual(1);
    expect(owner.compactions.built!.local).toBe(0);
    expect(compactorHost.compactions.served!.built).toBe(owner.compactions.built!.remote);
    // What an owner that crashed mid-job left behind expires with the bucket's TTL.
    const manager = await (await newConnection()).jetstreamManager();
    const bucket = await manager.streams.info(`OBJ_${compactionFilesBucket}`);
    expect(bucket.config.max_age).toBe(nanos(compactionFilesTtlMs));
    const answer = await engine.query("h", "ns", {
      vector: records[7]!.values as Float32Array,
      topK: 1,
    } as never);
    expect(answer.matches[0]?.id).toBe("r7");
  } finally {
    await owner.close();
    await compactorHost.close();
  }
}, 120_000);

test("a compactor that takes a job and stays a member but never answers: the owner builds itself after jobMs", async () => {
  const owner = await ownerSide("owner-3", { takeMs: 2_000, livenessMs: 100, jobMs: 1_000 });
  const stuck = await silentCompactor("stuck");
  const remote = owner.builder;
  const engine = await compacted({ compactionBuilder: remote.build });
  try {
    expect(stuck.state.taken).toBe(1);
    expect(remote.stats).toMatchObject({
      remote: 0,
      local: 1,
      lastLocalReason: "compactor stuck did not answer within 1000 ms",
    });
    expect(await owner.files.list("jobs/")).toEqual([]);
  } finally {
    await engine.close();
    await stuck.membership.leave();
    await owner.membership.leave();
    await stuck.connection.close();
  }
}, 120_000);
