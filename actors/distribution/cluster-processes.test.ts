/**
 * Cluster v1 end to end, as processes (issue 8 "Done when"): a three-node JetStream cluster
 * with R3 streams, two gateways and two index owners, each a `needle serve --role ...` process.
 *
 *   - a write through one gateway is read through the other at once;
 *   - the owner killed with SIGKILL during a query load: no answer is ever wrong, and queries
 *     answer again within seconds (the other owner takes over from the stream);
 *   - the NATS node leading the index's stream killed during an ingest: no acknowledged write
 *     is lost;
 *   - the owner frozen with SIGSTOP: callers get 503 within the request timeout, never hang,
 *     and once its lease lapses the other owner answers; thawed, the old owner answers nothing;
 *   - every process restarted: identical query results (the owners hand over with a
 *     checkpoint when stopped, and the restarted ones start from it).
 * Answers are checked against a brute force over the records the test wrote.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { type ClusterFixture, call, startClusterFixture } from "../testing/cluster-processes.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`cluster-processes.test.ts seed=${seed} (replay with NEEDLE_TEST_SEED=${seed})`);
const random = seededRandom(seed);
const dimension = 4;
const vector = () => Array.from({ length: dimension }, () => Math.fround(random() * 2 - 1));

let cluster: ClusterFixture;

beforeAll(async () => {
  cluster = await startClusterFixture({ gateways: 2, owners: 2, replicas: 3 });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

const gateway = (i: number) => cluster.gateways[i % cluster.gateways.length]!.url;

async function createIndex(name: string): Promise<void> {
  const created = await call(gateway(0), "POST", "/indexes", {
    name,
    dimension,
    metric: "euclidean",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
  });
  expect(created.status).toBe(201);
}

interface Row {
  id: string;
  values: number[];
}

async function upsert(url: string, index: string, rows: Row[]): Promise<number> {
  return (await call(url, "POST", `/index/${index}/vectors/upsert`, { vectors: rows, namespace: "ns" }))
    .status;
}

function nearest(rows: readonly Row[], query: number[], topK: number): string[] {
  const distance = (row: Row) => row.values.reduce((sum, x, d) => sum + (x - query[d]!) ** 2, 0);
  return [...rows]
    .sort((a, b) => distance(a) - distance(b))
    .slice(0, topK)
    .map((row) => row.id);
}

async function query(url: string, index: string, vectorValues: number[], timeoutMs?: number) {
  return call(
    url,
    "POST",
    `/index/${index}/query`,
    { vector: vectorValues, topK: 5, namespace: "ns" },
    timeoutMs,
  );
}

const ids = (body: Record<string, unknown>) => (body.matches as { id: string }[]).map((match) => match.id);

async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  withinMs: number,
): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > withinMs) {
      dumpLogs();
      throw new Error(`not within ${withinMs} ms: ${what}`);
    }
    await Bun.sleep(100);
  }
  return performance.now() - started;
}

/** The last lines of every owner's log but request lines: what a failing wait shows. */
function dumpLogs(): void {
  for (const member of cluster.owners) {
    const log = (member.running?.stderr() ?? "")
      .split("\n")
      .filter((line) => !line.includes('"msg":"request"'));
    console.log(`--- ${member.name}\n${log.slice(-30).join("\n")}`);
  }
}

const rows: Row[] = Array.from({ length: 300 }, (_, i) => ({ id: `r${i}`, values: vector() }));

test("a write through one gateway is read through the other at once", async () => {
  await createIndex("load");
  for (let at = 0; at < rows.length; at += 30) {
    const batch = rows.slice(at, at + 30);
    expect(await upsert(gateway(0), "load", batch)).toBe(200);
    const fetched = await call(
      gateway(1),
      "GET",
      `/index/load/vectors/fetch?namespace=ns&ids=${batch[29]!.id}`,
    );
    expect(Object.keys(fetched.body.vectors as object)).toEqual([batch[29]!.id]);
  }
  const probe = vector();
  const answer = await query(gateway(1), "load", probe);
  expect(ids(answer.body)).toEqual(nearest(rows, probe, 5));
}, 60_000);

test("an executor killed with SIGKILL during an eventual query load: the other replica answers, never wrong", async () => {
  // 10 write batches so far: each owner checkpoints every 10 records, and both executors hold
  // a replica of "load" (2 replicas over 2 executors).
  await until(
    "both executors serve a replica of load",
    () =>
      cluster.owners.every((owner) => /replica of index load at LSN \d+/.test(owner.running?.stderr() ?? "")),
    30_000,
  );
  const victim = cluster.owners.find((owner) => owner !== cluster.ownerOf("load"))!;
  let wrong = 0;
  let refused = 0;
  let answered = 0;
  let stop = false;
  const loop = async (lane: number) => {
    while (!stop) {
      const probe = vector();
      const answer = await call(
        gateway(lane),
        "POST",
        "/index/load/query",
        { vector: probe, topK: 5, namespace: "ns" },
        30_000,
        {
          "X-Needle-Consistency": "eventual",
        },
      ).catch(() => ({ status: 0, body: {}, ms: 0 }));
      if (answer.status !== 200) {
        refused++;
        continue;
      }
      answered++;
      if (JSON.stringify(ids(answer.body)) !== JSON.stringify(nearest(rows, probe, 5))) wrong++;
    }
  };
  const lanes = [loop(0), loop(1)];
  await Bun.sleep(1_000);
  victim.running!.process.kill("SIGKILL");
  await victim.running!.process.exited;
  victim.running = undefined;
  const answeredAtKill = answered;
  const resumedMs = await until(
    "eventual queries answer after the kill",
    () => answered > answeredAtKill + 50,
    30_000,
  );
  stop = true;
  await Promise.all(lanes);
  console.log(
    `executor killed: ${answered} eventual answers, ${refused} refused, ${wrong} wrong; 50 more answers within ${Math.round(resumedMs)} ms`,
  );
  expect(wrong).toBe(0);
  await cluster.start(victim);
}, 90_000);

test("the owner killed with SIGKILL during a query load: never a wrong answer, answers again within seconds", async () => {
  const victim = cluster.ownerOf("load")!;
  expect(victim).toBeDefined();
  let wrong = 0;
  let refused = 0;
  let answered = 0;
  let killedAt = 0;
  let lastRefusedAt = 0;
  let stop = false;
  const loop = async (lane: number) => {
    while (!stop) {
      const probe = vector();
      const answer = await query(gateway(lane), "load", probe).catch(() => ({ status: 0, body: {}, ms: 0 }));
      if (answer.status === 200) {
        answered++;
        if (JSON.stringify(ids(answer.body)) !== JSON.stringify(nearest(rows, probe, 5))) wrong++;
      } else {
        expect([0, 503]).toContain(answer.status);
        refused++;
        lastRefusedAt = performance.now();
      }
    }
  };
  const lanes = [loop(0), loop(1)];
  await Bun.sleep(1_000);
  victim.running!.process.kill("SIGKILL");
  await victim.running!.process.exited;
  victim.running = undefined;
  killedAt = performance.now();
  const tookOverMs = await until(
    "another owner answers",
    () => cluster.ownerOf("load") !== undefined,
    30_000,
  );
  const answeredThen = answered;
  await until("queries answer again after the takeover", () => answered > answeredThen + 20, 30_000);
  stop = true;
  await Promise.all(lanes);
  console.log(
    `owner killed: takeover after ${Math.round(tookOverMs)} ms; ${answered} answers, ${refused} refused (503), ${wrong} wrong; last refusal ${Math.round(Math.max(0, lastRefusedAt - killedAt))} ms after the kill`,
  );
  expect(wrong).toBe(0);
  await cluster.start(victim); // back for the next tests
}, 90_000);

test("the NATS node leading the stream killed during an ingest: no acknowledged write lost", async () => {
  await createIndex("ingest");
  const acknowledged: Row[] = [];
  let stop = false;
  let next = 0;
  const writer = async (lane: number) => {
    while (!stop) {
      const batch = Array.from({ length: 10 }, () => ({ id: `w${next++}`, values: vector() }));
      const status = await upsert(gateway(lane), "ingest", batch).catch(() => 0);
      if (status === 200) acknowledged.push(...batch);
    }
  };
  const lanes = [writer(0), writer(1)];
  await until("some writes acknowledged", () => acknowledged.length >= 100, 30_000);
  const manager = await (await import("nats")).connect({ servers: cluster.nats.urls() });
  const streams = await (await manager.jetstreamManager()).streams.list().next();
  const stream = streams.find((info) => info.config.name.startsWith("needle-log-ingest-"))!;
  const leader = cluster.nats.nodes.find((node) => node.name === stream.cluster?.leader)!;
  await manager.close();
  await leader.kill();
  const before = acknowledged.length;
  await until("writes acknowledged after the kill", () => acknowledged.length >= before + 100, 60_000).catch(
    (error) => {
      for (const member of [...cluster.owners, ...cluster.gateways]) {
        console.log(
          `--- ${member.name}\n${(member.running?.stderr() ?? "").split("\n").slice(-25).join("\n")}`,
        );
      }
      throw error;
    },
  );
  stop = true;
  await Promise.all(lanes);
  await leader.restart();
  const fetched: string[] = [];
  for (let at = 0; at < acknowledged.length; at += 100) {
    const page = acknowledged.slice(at, at + 100).map((row) => row.id);
    const answer = await call(
      gateway(1),
      "GET",
      `/index/ingest/vectors/fetch?namespace=ns&${page.map((id) => `ids=${id}`).join("&")}`,
    );
    expect(answer.status).toBe(200);
    fetched.push(...Object.keys(answer.body.vectors as object));
  }
  expect(fetched.length).toBe(acknowledged.length);
  console.log(
    `NATS node ${leader.name} killed during ingest: ${acknowledged.length} records acknowledged, all present`,
  );
}, 120_000);

test("an owner frozen with SIGSTOP: 503 within the request timeout, never a hang; another owner takes over", async () => {
  await until("load has an owner", () => cluster.ownerOf("load") !== undefined, 30_000);
  const frozen = cluster.ownerOf("load")!;
  frozen.running!.process.kill("SIGSTOP");
  try {
    const probe = vector();
    const stuck = await query(gateway(0), "load", probe, 20_000);
    // The gateway's request timeout (5 s) answers, or the other owner already has it.
    expect(stuck.ms).toBeLessThan(8_000);
    if (stuck.status === 200) expect(ids(stuck.body)).toEqual(nearest(rows, probe, 5));
    else expect(stuck.status).toBe(503);
    await until(
      "another owner answers while the first is frozen",
      async () => {
        const answer = await query(gateway(1), "load", probe, 20_000);
        return (
          answer.status === 200 &&
          JSON.stringify(ids(answer.body)) === JSON.stringify(nearest(rows, probe, 5))
        );
      },
      40_000,
    );
  } finally {
    frozen.running?.process.kill("SIGCONT");
  }
  // Thawed, it finds its lease lost and answers nothing: answers stay right.
  for (let i = 0; i < 20; i++) {
    const probe = vector();
    const answer = await query(gateway(i), "load", probe);
    expect(answer.status).toBe(200);
    expect(ids(answer.body)).toEqual(nearest(rows, probe, 5));
  }
}, 90_000);

test("every process restarted: identical query results", async () => {
  const probes = Array.from({ length: 10 }, () => vector());
  const before = [];
  for (const probe of probes) before.push(ids((await query(gateway(0), "load", probe)).body));
  for (const process of [...cluster.owners, ...cluster.gateways]) {
    const running = process.running!;
    const code = await Promise.race([running.stop(), Bun.sleep(30_000).then(() => "hung")]);
    if (code !== 0) {
      const log = running
        .stderr()
        .split("\n")
        .filter((line) => !line.includes('"msg":"request"'));
      console.log(`--- ${process.name} stop: ${code}\n${log.slice(-25).join("\n")}`);
    }
    expect(code).toBe(0);
    process.running = undefined;
  }
  for (const process of [...cluster.owners, ...cluster.gateways]) await cluster.start(process);
  // Stopped owners hand over with a checkpoint (decision 15): the restarted ones start from it.
  await until("load has an owner", () => cluster.ownerOf("load") !== undefined, 30_000);
  expect(cluster.ownerOf("load")!.running!.stderr()).toMatch(
    /owns index load \(from its checkpoint at LSN \d+\)/,
  );
  for (let i = 0; i < probes.length; i++) {
    const answer = await query(gateway(i), "load", probes[i]!);
    expect(answer.status).toBe(200);
    expect(ids(answer.body)).toEqual(before[i]!);
    expect(ids(answer.body)).toEqual(nearest(rows, probes[i]!, 5));
  }
}, 120_000);
