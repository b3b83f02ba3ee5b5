/**
 * Cluster v1 in one process (decisions 10-14), on a test's own JetStream server: two owner
 * hosts and two gateways, each its own NATS connection. An index is owned by exactly one
 * host; a write through one gateway is read through the other at once; when the owner's
 * connection dies (its heartbeats, lease renewals and subscriptions with it), the other host
 * takes the index over from the stream with every acknowledged write and nothing twice;
 * deleting an index drops it everywhere, and a new index of the name starts empty.
 * (Processes killed with SIGKILL are the end-to-end tests' job.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { parseFilter } from "../../storage/filter/parse.ts";
import { startNatsServer, type TestNatsServer } from "../../storage/testing/nats-server.ts";
import { createApp } from "../../gateway/http/app.ts";
import { Checkpoints } from "./checkpoints.ts";
import { ClusterCatalog } from "./cluster-catalog.ts";
import { ClusterEngine } from "./cluster-engine.ts";
import { IndexOwner } from "./index-owner.ts";
import { IndexReplicas } from "./index-replicas.ts";
import { Membership } from "./membership.ts";

let server: TestNatsServer;
const timing = { heartbeatMs: 150, ttlMs: 800 };
const leaseTtlMs = 1_200;

interface Host {
  name: string;
  connection: NatsConnection;
  membership: Membership;
  owner: IndexOwner;
  replicas: IndexReplicas;
  dir: string;
}

const hosts: Host[] = [];
const gateways: ClusterEngine[] = [];
const connections: NatsConnection[] = [];

async function connectNew(): Promise<NatsConnection> {
  const connection = await connect({ servers: server.url });
  connections.push(connection);
  return connection;
}

async function startHost(name: string): Promise<Host> {
  const connection = await connectNew();
  const membership = await Membership.open(
    connection,
    { name, roles: ["namespace", "executor"], pid: process.pid },
    timing,
  );
  const catalog = await ClusterCatalog.open(connection);
  const dir = await mkdtemp(join(tmpdir(), `needle-owner-${name}-`));
  const owner = await IndexOwner.start({
    connection,
    membership,
    catalog,
    dir: join(dir, "owner"),
    leaseTtlMs,
    tickMs: 150,
    checkpoints: await Checkpoints.open(connection, { cacheDir: dir }),
    checkpointEveryRecords: 5,
    engine: { flushRowsMax: 200 },
    log: () => {},
  });
  const replicas = await IndexReplicas.start({
    connection,
    membership,
    catalog,
    checkpoints: await Checkpoints.open(connection, { cacheDir: dir }),
    dir: join(dir, "replicas"),
    tickMs: 150,
    log: () => {},
  });
  const host = { name, connection, membership, owner, replicas, dir };
  hosts.push(host);
  return host;
}

beforeAll(async () => {
  server = await startNatsServer({ jetstream: true });
  await startHost("host-a");
  await startHost("host-b");
  for (let i = 0; i < 2; i++) {
    const connection = await connectNew();
    gateways.push(
      // A long request timeout: checkpoints pause an index (every 5 records here) on a busy
      // machine; this file tests takeover, not latency.
      new ClusterEngine(connection, await ClusterCatalog.open(connection), { requestTimeoutMs: 15_000 }),
    );
  }
});

afterAll(async () => {
  // Owners hand their indexes back (leases released) before the server goes.
  for (const host of hosts) await host.replicas.close().catch(() => {});
  for (const host of hosts) await host.owner.close().catch(() => {});
  for (const connection of connections) await connection.close().catch(() => {});
  await server?.stop();
  for (const host of hosts) await rm(host.dir, { recursive: true, force: true });
});

async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  withinMs = 15_000,
): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not within ${withinMs} ms: ${what}`);
    await Bun.sleep(50);
  }
}

const owners = (index: string) => hosts.filter((host) => host.owner.ownedIndexes().includes(index));
const record = (i: number) => ({ id: `r${i}`, values: Float32Array.from([i, i % 7, 1]), metadata: { i } });

test("one owner per index; a write through one gateway is read through the other at once", async () => {
  const [one, two] = gateways as [ClusterEngine, ClusterEngine];
  for (const name of ["alpha", "beta", "gamma", "delta"]) {
    await one.createIndex({ name, dimension: 3, metric: "euclidean", vectorType: "dense" });
  }
  expect((await two.listIndexes()).map((index) => index.name)).toEqual(["alpha", "beta", "delta", "gamma"]);
  expect(
    (
      await two
        .createIndex({ name: "alpha", dimension: 3, metric: "euclidean", vectorType: "dense" })
        .catch((e) => e)
    ).code,
  ).toBe("ALREADY_EXISTS");
  for (let i = 0; i < 50; i++) {
    const index = ["alpha", "beta", "gamma", "delta"][i % 4]!;
    const written = await one.upsert(index, "ns", [record(i)]);
    // The other gateway sees it at once: every read goes through the index's one owner.
    const read = await two.fetch(index, "ns", [`r${i}`]);
    expect(read.records.map((r) => r.id)).toEqual([`r${i}`]);
    expect(read.lsn >= written.lsn).toBe(true);
  }
  for (const name of ["alpha", "beta", "gamma", "delta"]) expect(owners(name)).toHaveLength(1);
  // Both hosts own something (rendezvous over two members, four indexes: almost surely).
  const query = await two.query("alpha", "ns", {
    vector: Float32Array.from([4, 4, 1]),
    topK: 3,
    includeValues: false,
    includeMetadata: true,
  });
  const alpha = Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 4 === 0);
  const distance = (i: number) => (i - 4) ** 2 + ((i % 7) - 4) ** 2;
  const expected = alpha
    .sort((x, y) => distance(x) - distance(y))
    .slice(0, 3)
    .map((i) => `r${i}`);
  expect(query.matches.map((match) => match.id)).toEqual(expected);
  expect((await one.fetch("missing", "ns", ["x"]).catch((e) => e)).code).toBe("NOT_FOUND");
}, 30_000);

test("the owner's connection dies: the other host takes over from the stream, nothing lost or doubled", async () => {
  const [one, two] = gateways as [ClusterEngine, ClusterEngine];
  // Enough rows that the owner flushes slabs (flushRowsMax 200): they are only on its disk, so
  // the new owner must find every row in the stream (decision 13: never trimmed in v1).
  const bulk = Array.from({ length: 600 }, (_, i) => record(1_000 + i));
  for (let at = 0; at < bulk.length; at += 100) await one.upsert("alpha", "bulk", bulk.slice(at, at + 100));
  await two.describeIndexStats("alpha"); // lets the flushes run
  const victim = owners("alpha")[0]!;
  // The owner checkpoints (every 5 records here) and purges the stream through it: the new
  // owner can only find the bulk rows in the checkpoint (decision 15).
  const manager = await hosts.find((host) => host !== victim)!.connection.jetstreamManager();
  await until("alpha's stream is purged through a checkpoint", async () => {
    const streams = await manager.streams.list().next();
    const info = streams.find((candidate) => candidate.config.name.startsWith("needle-log-alpha-"));
    return info !== undefined && info.state.first_seq > 6;
  });
  const survivor = hosts.find((host) => host !== victim)!;
  const before = await two.describeIndexStats("alpha");
  await victim.membership.abandon();
  await victim.connection.close(); // heartbeats, lease renewals and subscriptions stop
  const acknowledged: string[] = [];
  // Writes during the failover wait for the new owner (no owner -> retried), then land. An
  // owner whose lease renewal ran late (a stalled event loop under CPU load; the lease here
  // lives 1.2 s) stays silent by design (lease.ts, fail-stop), so that request answers 503
  // after the timeout, as a client is told to retry: it does (an upsert applies once).
  for (let i = 100; i < 110; i++) {
    for (let attempt = 1; ; attempt++) {
      const failure = await one.upsert("alpha", "ns", [record(i)]).then(
        () => undefined,
        (error: unknown) => error as { code?: string },
      );
      if (failure === undefined) break;
      if (failure.code !== "UNAVAILABLE" || attempt === 3) throw failure;
    }
    acknowledged.push(`r${i}`);
  }
  expect(survivor.owner.ownedIndexes()).toContain("alpha");
  const after = await two.describeIndexStats("alpha");
  expect(after.totalVectorCount).toBe(before.totalVectorCount + 10);
  const fetched = await two.fetch("alpha", "ns", acknowledged);
  const bulkBack = await two.fetch(
    "alpha",
    "bulk",
    bulk.map((r) => r.id),
  );
  expect(bulkBack.records).toHaveLength(bulk.length);
  expect(fetched.records.map((r) => r.id).sort()).toEqual([...acknowledged].sort());
  await until("every index has moved to the survivor", () =>
    ["alpha", "beta", "gamma", "delta"].every((name) => survivor.owner.ownedIndexes().includes(name)),
  );
}, 120_000);

test("delete drops the index everywhere; a new index of the name starts empty", async () => {
  const [one, two] = gateways as [ClusterEngine, ClusterEngine];
  await one.deleteIndex("beta");
  expect((await two.describeIndex("beta").catch((e) => e)).code).toBe("NOT_FOUND");
  await until("no host owns beta", () => owners("beta").length === 0);
  await two.createIndex({ name: "beta", dimension: 3, metric: "euclidean", vectorType: "dense" });
  const stats = await one.describeIndexStats("beta");
  expect(stats.totalVectorCount).toBe(0);
  await one.configureIndex("beta", { deletionProtection: "enabled" });
  expect((await two.deleteIndex("beta").catch((e) => e)).code).toBe("FAILED_PRECONDITION");
}, 30_000);

test("eventual reads (query, fetch, list, counts) are answered by a replica at its checkpoint; strong ones by the owner", async () => {
  const [one] = gateways as [ClusterEngine];
  const live = hosts.filter((host) => host.owner.ownedIndexes().includes("gamma"));
  expect(live).toHaveLength(1);
  const owner = live[0]!;
  const checkpointLsn = await owner.owner.checkpoint("gamma");
  await until("a replica serves gamma at the checkpoint", () =>
    hosts.some((host) => host.replicas.heldIndexes().get("gamma") === checkpointLsn),
  );
  const late = { id: "late", values: Float32Array.from([100, 100, 100]), metadata: { i: -1 } };
  const written = await one.upsert("gamma", "ns", [late]);
  const probe = { vector: late.values, topK: 1, includeValues: false, includeMetadata: false };
  const strong = await one.query("gamma", "ns", probe);
  expect(strong.matches[0]?.id).toBe("late");
  expect(strong.lsn >= written.lsn).toBe(true);
  const eventual = await one.query("gamma", "ns", { ...probe, consistency: "eventual" });
  // The replica answers from the checkpoint: before the late write, at the checkpoint's LSN.
  expect(eventual.lsn).toBe(checkpointLsn);
  expect(eventual.matches[0]?.id).not.toBe("late");
  expect(eventual.matches).toHaveLength(1);

  // The other reads too: the replica answers at the checkpoint, the owner with the late write.
  expect((await one.fetch("gamma", "ns", ["late"])).records.map((r) => r.id)).toEqual(["late"]);
  const eventualFetch = await one.fetch("gamma", "ns", ["late"], "eventual");
  expect(eventualFetch.records).toEqual([]);
  expect(eventualFetch.lsn).toBe(checkpointLsn);
  const listAll = { limit: 100 };
  const strongIds = (await one.list("gamma", "ns", listAll)).ids;
  const eventualIds = (await one.list("gamma", "ns", listAll, "eventual")).ids;
  expect(strongIds).toContain("late");
  expect(eventualIds).not.toContain("late");
  expect(eventualIds.length).toBe(strongIds.length - 1);
  const strongCount = (await one.describeNamespace("gamma", "ns")).recordCount;
  expect((await one.describeNamespace("gamma", "ns", "eventual")).recordCount).toBe(strongCount - 1);
  const stats = await one.describeIndexStats("gamma", undefined, "eventual");
  expect(stats.totalVectorCount).toBe((await one.describeIndexStats("gamma")).totalVectorCount - 1);
  const byMetadata = await one.fetchByMetadata(
    "gamma",
    "ns",
    { filter: parseFilter({ i: { $eq: -1 } }), limit: 10 },
    "eventual",
  );
  expect(byMetadata.records).toEqual([]);
}, 30_000);

test("a checkpoint pauses its index only for a local snapshot: writes and reads go on while it uploads", async () => {
  const [one] = gateways as [ClusterEngine];
  const owner = hosts.find((host) => host.owner.ownedIndexes().includes("gamma"))!;
  const original = Checkpoints.prototype.save;
  let release!: () => void;
  const latch = new Promise<void>((resolve) => {
    release = resolve;
  });
  let uploading!: () => void;
  const uploadStarted = new Promise<void>((resolve) => {
    uploading = resolve;
  });
  Checkpoints.prototype.save = async function (this: Checkpoints, ...args: Parameters<Checkpoints["save"]>) {
    uploading();
    await latch; // the upload is held until the test lets it go
    return original.apply(this, args);
  };
  try {
    const checkpoint = owner.owner.checkpoint("gamma");
    await uploadStarted;
    const during = { id: "during-upload", values: Float32Array.from([7, 7, 7]), metadata: { i: -2 } };
    const outcome = await Promise.race([
      (async () => {
        const written = await one.upsert("gamma", "ns", [during]);
        const read = await one.fetch("gamma", "ns", ["during-upload"]);
        return { written, ids: read.records.map((r) => r.id) };
      })(),
      Bun.sleep(5_000).then(() => "stalled" as const),
    ]);
    expect(outcome).not.toBe("stalled");
    expect((outcome as { ids: string[] }).ids).toEqual(["during-upload"]);
    release();
    const lsn = await checkpoint;
    // The checkpoint holds the index as it was when the snapshot was taken: before that write.
    expect(lsn < (outcome as { written: { lsn: bigint } }).written.lsn).toBe(true);
  } finally {
    release();
    Checkpoints.prototype.save = original;
  }
}, 30_000);

test("a gateway's observation (its /metrics) gathers every owner's indexes", async () => {
  const [one] = gateways as [ClusterEngine];
  const observed = await one.observe();
  const owned = hosts.flatMap((host) => host.owner.ownedIndexes()).sort();
  expect(observed.indexes.map((index) => index.name)).toEqual(owned);
  const gamma = observed.indexes.find((index) => index.name === "gamma")!;
  expect(gamma.records).toBe((await one.describeIndexStats("gamma")).totalVectorCount);
  expect(observed.compaction).not.toBeNull();
  expect(observed.actors.find((kind) => kind.kind === "namespace")!.misses).toBeGreaterThan(0);
  const app = createApp(one, { apiKeys: ["k"], publicUrl: "http://127.0.0.1:1" });
  const text = await (await app.request("/metrics", { headers: { "Api-Key": "k" } })).text();
  expect(text).toContain(`needle_index_records{index="gamma"} ${gamma.records}`);
}, 30_000);
