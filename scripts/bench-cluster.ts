/**
 * Cluster v1 benchmarks (issue 8), each against its peer in the same run on this machine:
 *
 *   1. Actor request/reply: the NATS transport (msgpack over a local nats-server) against the
 *      in-process transport, sequential (latency) and 64 in flight (throughput).
 *   2. Ingest: the engine with its log on JetStream R1 (one node) and R3 (three nodes)
 *      against the embedded log (fsync'd segment files), same batches.
 *   3. Query throughput through a gateway with 1, 2 and 3 owner processes (indexes spread by
 *      placement), closed loop over HTTP. This machine has 2 cores: NATS, the gateway and the
 *      owners share them, so the ceiling is the CPU, not the design.
 *   4. Eventual reads (`X-Needle-Consistency: eventual`) through the gateway with 1, 2 and 3
 *      executor-only processes holding the read replicas (2 per index), against the owners'
 *      strong reads of step 3 in the same run.
 *   5. Failover: the owner of an index killed with SIGKILL; time until a query through the
 *      gateway answers again.
 * Writes bench-results/cluster.{json,md}.
 *
 *     bun scripts/bench-cluster.ts [--records 20000] [--seconds 8]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "nats";
import type { EngineOptions } from "../actors/api.ts";
import { openEngine } from "../actors/mod.ts";
import { address } from "../actors/runtime/address.ts";
import { NatsHost, NatsTransport } from "../actors/runtime/nats-transport.ts";
import { ActorSystem } from "../actors/runtime/system.ts";
import type { Transport } from "../actors/runtime/transport.ts";
import { call } from "../actors/testing/cluster-processes.ts";
import { seededRandom } from "../ffi/seeded-random.ts";
import { type RunningServer, startServer } from "../gateway/http/testing.ts";
import { jetStreamLogs } from "../storage/log/jetstream-logs.ts";
import { startNatsCluster, startNatsServer } from "../storage/testing/nats-server.ts";

const { values: args } = parseArgs({
  options: { records: { type: "string", default: "20000" }, seconds: { type: "string", default: "8" } },
});
const ingestRecords = Number(args.records);
const loadSeconds = Number(args.seconds);
const random = seededRandom(11);
const results: Record<string, unknown> = {};
const lines: string[] = [];

function table(title: string, head: string[], rows: (string | number)[][], note: string): void {
  lines.push(`## ${title}`, "", `| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`);
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  lines.push("", note, "");
  console.log(lines.slice(-rows.length - 5).join("\n"));
}

// ----- 1. transport --------------------------------------------------------------------------

async function transportRun(transport: Transport): Promise<{ p50Us: number; perSecond: number }> {
  const target = address("router", "echo");
  const payload = { vector: Float32Array.from({ length: 128 }, () => random()), topK: 10, lsn: 42n };
  for (let i = 0; i < 500; i++) await transport.request(target, "echo", payload);
  const latencies: number[] = [];
  for (let i = 0; i < 3_000; i++) {
    const started = performance.now();
    await transport.request(target, "echo", payload);
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  const total = 20_000;
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (sent < total) {
        sent++;
        await transport.request(target, "echo", payload);
      }
    }),
  );
  return {
    p50Us: Math.round(latencies[Math.floor(latencies.length / 2)]! * 1000),
    perSecond: Math.round(total / ((performance.now() - started) / 1000)),
  };
}

async function benchTransport(): Promise<void> {
  const echoSystem = () => {
    const system = new ActorSystem();
    system.register("router", async () => ({ receive: async (_verb, payload) => payload }));
    return system;
  };
  const local = echoSystem();
  const inProcess = await transportRun(local.transport);
  await local.shutdown();
  const server = await startNatsServer();
  const system = echoSystem();
  const hostConnection = await connect({ servers: server.url });
  const host = new NatsHost(hostConnection, system, ["router"]);
  await hostConnection.flush();
  const transport = new NatsTransport(await connect({ servers: server.url }));
  const overNats = await transportRun(transport);
  await transport.close();
  await host.close();
  await hostConnection.close();
  await system.shutdown();
  await server.stop();
  results.transport = { inProcess, overNats };
  table(
    "Actor request/reply: NATS against in-process",
    ["transport", "p50 latency (µs, sequential)", "requests/s (64 in flight)"],
    [
      ["in-process", inProcess.p50Us, inProcess.perSecond],
      ["NATS (loopback, msgpack)", overNats.p50Us, overNats.perSecond],
      [
        "NATS / in-process",
        `${(overNats.p50Us / Math.max(1, inProcess.p50Us)).toFixed(1)}x`,
        `${(overNats.perSecond / inProcess.perSecond).toFixed(2)}x`,
      ],
    ],
    "An echo actor answering a 128-d query-sized payload (a Float32Array, a bigint). The NATS path encodes msgpack, crosses the server twice and decodes: it is the price of every forwarded operation in a cluster.",
  );
}

// ----- 2. ingest -----------------------------------------------------------------------------

async function ingestRun(options: Partial<EngineOptions>): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "needle-bench-cluster-ingest-"));
  const engine = await openEngine({ dir, log: () => {}, ...options });
  await engine.createIndex({ name: "ingest", dimension: 128, metric: "cosine", vectorType: "dense" });
  const batch = 100;
  const batches = Math.ceil(ingestRecords / batch);
  const data = Array.from({ length: batches }, (_, b) =>
    Array.from({ length: batch }, (_, i) => ({
      id: `v${b * batch + i}`,
      values: Float32Array.from({ length: 128 }, () => random() * 2 - 1),
      metadata: { b },
    })),
  );
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async (_, lane) => {
      while (next < batches) {
        const b = next++;
        await engine.upsert("ingest", `ns-${lane}`, data[b]!);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await engine.deleteIndex("ingest");
  await engine.close();
  await rm(dir, { recursive: true, force: true });
  return Math.round(ingestRecords / seconds);
}

async function benchIngest(): Promise<void> {
  const embedded = await ingestRun({});
  const single = await startNatsServer({ jetstream: true });
  const singleConnection = await connect({ servers: single.url });
  const r1 = await ingestRun({ logs: jetStreamLogs(singleConnection, { replicas: 1 }) });
  await singleConnection.close();
  await single.stop();
  const cluster = await startNatsCluster(3);
  const clusterConnection = await connect({ servers: cluster.urls() });
  const r3 = await ingestRun({ logs: jetStreamLogs(clusterConnection, { replicas: 3 }) });
  await clusterConnection.close();
  await cluster.stop();
  results.ingest = { records: ingestRecords, embedded, r1, r3 };
  table(
    `Ingest: ${ingestRecords.toLocaleString("en")} records (128-d, batches of 100, 4 writers)`,
    ["request log", "records/s", "against embedded"],
    [
      ["embedded (segment files, fsync)", embedded.toLocaleString("en"), "1.00x"],
      ["JetStream R1 (one node)", r1.toLocaleString("en"), `${(r1 / embedded).toFixed(2)}x`],
      ["JetStream R3 (three nodes)", r3.toLocaleString("en"), `${(r3 / embedded).toFixed(2)}x`],
    ],
    "The same engine in every row; only where its log lives changes. A write is acknowledged once the log has it: fsync'd for the embedded log; for JetStream, written by the stream leader (R1) or by a quorum of 2 of 3 nodes (R3), where nats-server fsyncs on its own schedule (`sync_interval`, 2 minutes by default). So R1 beats the embedded log by not fsyncing each write: it survives a process crash, not a power loss, unless the server runs with `sync_interval: always`; R3 survives the loss of one node. All nodes and the engine share this machine's 2 cores and disk.",
  );
}

// ----- 3, 4 & 5. processes -------------------------------------------------------------------

/** 16 clients in a closed loop of random 64-d queries over `indexes` for `loadSeconds`. */
async function queryLoad(
  url: string,
  indexes: string[],
  headers: Record<string, string>,
): Promise<{ perSecond: number; p50Ms: number }> {
  const latencies: number[] = [];
  const deadline = performance.now() + loadSeconds * 1000;
  await Promise.all(
    Array.from({ length: 16 }, async (_, lane) => {
      for (let i = lane; performance.now() < deadline; i++) {
        const vector = Array.from({ length: 64 }, () => random() * 2 - 1);
        const query = `/index/${indexes[i % indexes.length]}/query`;
        const answer = await call(url, "POST", query, { vector, topK: 10 }, 30_000, headers);
        if (answer.status === 200) latencies.push(answer.ms);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    perSecond: Math.round(latencies.length / loadSeconds),
    p50Ms: Number(latencies[Math.floor(latencies.length / 2)]!.toFixed(1)),
  };
}

async function benchProcesses(): Promise<void> {
  const nats = await startNatsCluster(3);
  const root = await mkdtemp(join(tmpdir(), "needle-bench-cluster-"));
  const running: RunningServer[] = [];
  const serve = async (role: string, name: string) => {
    // Owners checkpoint every 4 write batches, so replicas have each index's rows to serve.
    const checkpoints = role === "namespace" ? ["--checkpoint-every", "4"] : [];
    const server = await startServer(
      join(root, name),
      ["--role", role, "--name", name, "--nats", nats.urls().join(","), "--replicas", "3", ...checkpoints],
      { firstLine: role === "gateway" ? undefined : /^member / },
    );
    running.push(server);
    return server;
  };
  try {
    const gateway = await serve("gateway", "gateway-1");
    const owners = [await serve("namespace", "owner-1")];
    const indexes = ["q1", "q2", "q3", "q4", "q5", "q6"];
    const rows = 2_000;
    for (const name of indexes) {
      await call(gateway.url, "POST", "/indexes", {
        name,
        dimension: 64,
        metric: "cosine",
        spec: { serverless: { cloud: "aws", region: "us-east-1" } },
      });
      for (let at = 0; at < rows; at += 500) {
        const vectors = Array.from({ length: 500 }, (_, i) => ({
          id: `r${at + i}`,
          values: Array.from({ length: 64 }, () => random() * 2 - 1),
        }));
        await call(gateway.url, "POST", `/index/${name}/vectors/upsert`, { vectors });
      }
    }
    const throughput: { owners: number; perSecond: number; p50Ms: number }[] = [];
    for (let count = 1; count <= 3; count++) {
      while (owners.length < count) owners.push(await serve("namespace", `owner-${owners.length + 1}`));
      // Let placement settle (a heartbeat or two) and every index answer.
      await Bun.sleep(3_000);
      for (const name of indexes)
        await call(gateway.url, "POST", `/index/${name}/query`, {
          vector: new Array(64).fill(0.1),
          topK: 10,
        });
      throughput.push({ owners: count, ...(await queryLoad(gateway.url, indexes, {})) });
    }
    results.queries = throughput;
    table(
      "Query throughput through one gateway: 6 indexes x 2,000 x 64-d, 16 clients, closed loop",
      ["owner processes", "queries/s", "p50 (ms)"],
      throughput.map((row) => [row.owners, row.perSecond, row.p50Ms]),
      `Each index is owned by one process, so more owners spread the 6 indexes, not one index's queries. On this 2-core machine three NATS nodes, the gateway and the owners share the CPU: the ceiling is the machine, and a third owner only adds processes competing for the same cores. Measured over ${loadSeconds} s per row.`,
    );

    // Eventual reads through executor-only processes.
    const executors: RunningServer[] = [];
    const eventual: { executors: number; perSecond: number; p50Ms: number }[] = [];
    for (let count = 1; count <= 3; count++) {
      executors.push(await serve("executor", `executor-${executors.length + 1}`));
      // Every index on min(2, count) executors: wait until they have loaded its checkpoint.
      const loaded = () =>
        executors.reduce(
          (sum, server) =>
            sum + indexes.filter((name) => server.stderr().includes(`replica of index ${name} at`)).length,
          0,
        );
      for (let waited = 0; loaded() < Math.min(2, count) * indexes.length; waited += 200) {
        if (waited > 60_000) throw new Error(`replicas did not load: ${loaded()}`);
        await Bun.sleep(200);
      }
      eventual.push({
        executors: count,
        ...(await queryLoad(gateway.url, indexes, { "X-Needle-Consistency": "eventual" })),
      });
    }
    results.eventualQueries = eventual;
    const strong = throughput[throughput.length - 1]!;
    table(
      "Eventual reads through executors: the same 6 indexes, 16 clients, `X-Needle-Consistency: eventual`",
      ["executor processes", "queries/s", "p50 (ms)", "against strong reads (3 owners)"],
      eventual.map((row) => [
        row.executors,
        row.perSecond,
        row.p50Ms,
        `${(row.perSecond / strong.perSecond).toFixed(2)}x`,
      ]),
      `Executor-only processes hold read replicas (2 per index, restored from the owners' checkpoints) and answer eventual reads in a queue group per index, so a second executor doubles the replicas that can answer each index and a third spreads them. On this 2-core machine the executors share the CPU with three NATS nodes, the gateway and three owners: the machine is the ceiling, as in the table above. Measured over ${loadSeconds} s per row.`,
    );
    for (const server of executors) server.process.kill("SIGKILL");

    // Failover: kill the owner of q1, time until a query answers again.
    const failovers: number[] = [];
    for (let round = 0; round < 2; round++) {
      const stderrOf = (server: RunningServer) => server.stderr();
      const ownerOfQ1 = running.find((server) => {
        const log = stderrOf(server);
        return log.lastIndexOf("owns index q1") > log.lastIndexOf("dropped index q1");
      });
      if (ownerOfQ1 === undefined) break;
      ownerOfQ1.process.kill("SIGKILL");
      await ownerOfQ1.process.exited;
      running.splice(running.indexOf(ownerOfQ1), 1);
      const killedAt = performance.now();
      for (;;) {
        const answer = await call(gateway.url, "POST", "/index/q1/query", {
          vector: new Array(64).fill(0.2),
          topK: 3,
        });
        if (answer.status === 200) break;
      }
      failovers.push(Math.round(performance.now() - killedAt));
    }
    results.failover = failovers;
    table(
      "Failover: the owner of an index killed with SIGKILL",
      ["round", "until a query answers again (ms)"],
      failovers.map((ms, i) => [i + 1, ms]),
      "Bounded by the lease TTL (10 s): the dead owner cannot release its lease, so the next owner waits for it to expire, then replays the index's stream (2,000 rows here). Membership notices the death within 4 s; the lease is the longer wait.",
    );
  } finally {
    for (const server of running) {
      server.process.kill("SIGKILL");
      await server.process.exited;
    }
    await nats.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await benchTransport();
await benchIngest();
await benchProcesses();
const header = `# Cluster v1 (issue 8)\n\nOne run on this machine (${navigator.hardwareConcurrency} cores), ${new Date().toISOString().slice(0, 10)}. \`bun scripts/bench-cluster.ts --records ${ingestRecords} --seconds ${loadSeconds}\`.\n\n`;
await writeFile("bench-results/cluster.md", header + lines.join("\n"));
await writeFile(
  "bench-results/cluster.json",
  JSON.stringify(results, (_key, value) => (typeof value === "bigint" ? String(value) : value), 2),
);
console.log("wrote bench-results/cluster.{md,json}");
process.exit(0);
