/**
 * What HTTP costs over the embedded library, measured side by side in one run.
 *
 *   bun run scripts/bench-http.ts [--rows 100000] [--dim 768] [--queries 300] [--seed 1]
 *
 * Steps:
 *   1. Generate seeded data: a Gaussian mixture (uneven cluster sizes, per-cluster spread) and
 *      queries drawn near, not on, the data.
 *   2. Load it through the library (`gateway/library` open + upsert) into a temporary data
 *      directory; run the query load through the library at 1 and 16 concurrent callers;
 *      close it and remove the directory.
 *   3. Start the server CLI on a fresh directory, load the same rows (same seed, same order)
 *      through HTTP upserts, and run the same queries over HTTP (fetch on loopback, one JSON
 *      body per request) at 1 and 16 connections. (Each path loads its own copy so the
 *      comparison does not depend on restart recovery.)
 *   4. Print a table (QPS, p50, p99, HTTP/library ratios) and write bench-results/http.json
 *      and bench-results/http.md.
 * The load generator is bounded: a fixed number of requests per configuration, each caller
 * issuing its next request when the previous one answers (closed loop).
 * Absolute times on a shared machine are not results; the ratio is.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { open } from "../gateway/library/mod.ts";
import { startServer } from "../gateway/http/testing.ts";
import { seededRandom } from "../ffi/seeded-random.ts";

const { values: flags } = parseArgs({
  options: {
    rows: { type: "string", default: "100000" },
    dim: { type: "string", default: "768" },
    queries: { type: "string", default: "300" },
    seed: { type: "string", default: "1" },
    clusters: { type: "string", default: "64" },
  },
});
const rowCount = Number(flags.rows);
const dimension = Number(flags.dim);
const queryCount = Number(flags.queries);
const seed = Number(flags.seed);
const clusterCount = Number(flags.clusters);
const topK = 10;
const concurrencies = [1, 16];
const warmupRequests = 20;
const loadBatchRecords = 1000;
/** Upserts over HTTP stay under the 2 MB body cap: 768 float32s print as ~15 KB of JSON. */
const httpLoadBatchRecords = Math.min(1000, Math.max(1, Math.floor(1_500_000 / (dimension * 20))));
const repoRoot = resolve(import.meta.dir, "..");

const random = seededRandom(seed);
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
}

// 1. Data.
console.error(
  `bench-http: seed ${seed}, ${rowCount} x ${dimension}, ${queryCount} queries per configuration`,
);
const centroids = Array.from({ length: clusterCount }, () => Array.from({ length: dimension }, gaussian));
const spreads = centroids.map(() => 0.2 + random() * 0.8);
const weights = centroids.map(() => random() ** 2);
const weightTotal = weights.reduce((a, b) => a + b, 0);
function pickCluster(): number {
  let r = random() * weightTotal;
  for (let c = 0; c < clusterCount; c++) {
    r -= weights[c]!;
    if (r <= 0) return c;
  }
  return clusterCount - 1;
}
function near(cluster: number, spread: number): number[] {
  const centroid = centroids[cluster]!;
  return centroid.map((value) => Math.fround(value + gaussian() * spread));
}
/** The rows, regenerated identically for each path from their own seeded stream. */
function* rowBatches(batchRecords: number): Generator<{ id: string; values: number[] }[]> {
  const rowRandom = seededRandom(seed + 1);
  const rowGaussian = () =>
    Math.sqrt(-2 * Math.log(Math.max(rowRandom(), 1e-12))) * Math.cos(2 * Math.PI * rowRandom());
  for (let start = 0; start < rowCount; start += batchRecords) {
    const records = [];
    for (let i = start; i < Math.min(rowCount, start + batchRecords); i++) {
      let r = rowRandom() * weightTotal;
      let cluster = clusterCount - 1;
      for (let c = 0; c < clusterCount; c++) {
        r -= weights[c]!;
        if (r <= 0) {
          cluster = c;
          break;
        }
      }
      const spread = spreads[cluster]!;
      records.push({
        id: `v${i}`,
        values: centroids[cluster]!.map((v) => Math.fround(v + rowGaussian() * spread)),
      });
    }
    yield records;
  }
}
const queries = Array.from({ length: queryCount + warmupRequests }, () => {
  const cluster = pickCluster();
  return near(cluster, spreads[cluster]! * 1.3);
});

interface Measurement {
  path: "library" | "http";
  connections: number;
  requests: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

/** Closed-loop load: `connections` callers share a fixed list of requests. */
async function runLoad(
  path: Measurement["path"],
  connections: number,
  call: (query: number[]) => Promise<void>,
): Promise<Measurement> {
  for (let i = 0; i < warmupRequests; i++) await call(queries[i]!);
  const latencies: number[] = [];
  let next = warmupRequests;
  const started = performance.now();
  const caller = async () => {
    while (next < queries.length) {
      const query = queries[next++]!;
      const begin = performance.now();
      await call(query);
      latencies.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: connections }, caller));
  const elapsedMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    path,
    connections,
    requests: latencies.length,
    qps: (latencies.length / elapsedMs) * 1000,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

const dataDir = mkdtempSync(join(tmpdir(), "needle-bench-http-"));
const results: Measurement[] = [];
try {
  // 2. Load and measure through the library.
  const db = await open(dataDir);
  await db.createIndex({ name: "bench", dimension, metric: "cosine" } as never);
  const index = db.index("bench");
  const loadStarted = performance.now();
  for (const records of rowBatches(loadBatchRecords)) await index.upsert({ records });
  console.error(`loaded ${rowCount} rows in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);
  for (const connections of concurrencies) {
    results.push(
      await runLoad("library", connections, async (vector) => {
        const answer = await index.query({ vector, topK });
        if (answer.matches.length !== topK) throw new Error("library query returned too few matches");
      }),
    );
    console.error(JSON.stringify(results.at(-1)));
  }
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir);

  // 3. The same data and queries over HTTP.
  const server = await startServer(dataDir, ["--log-level", "error"]);
  const url = server.url;
  try {
    const headers = { "Api-Key": "bench", "content-type": "application/json" };
    const created = await fetch(`${url}/indexes`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "bench", dimension, metric: "cosine" }),
    });
    if (created.status !== 201) throw new Error(`create index over HTTP: ${created.status}`);
    const httpLoadStarted = performance.now();
    for (const records of rowBatches(httpLoadBatchRecords)) {
      const response = await fetch(`${url}/index/bench/vectors/upsert`, {
        method: "POST",
        headers,
        body: JSON.stringify({ vectors: records }),
      });
      if (response.status !== 200)
        throw new Error(`upsert over HTTP: ${response.status} ${await response.text()}`);
    }
    console.error(
      `loaded ${rowCount} rows over HTTP in ${((performance.now() - httpLoadStarted) / 1000).toFixed(1)} s`,
    );
    for (const connections of concurrencies) {
      results.push(
        await runLoad("http", connections, async (vector) => {
          const response = await fetch(`${url}/index/bench/query`, {
            method: "POST",
            headers: { "Api-Key": "bench", "content-type": "application/json" },
            body: JSON.stringify({ vector, topK, namespace: "" }),
          });
          const answer = (await response.json()) as { matches?: unknown[] };
          if (response.status !== 200 || answer.matches?.length !== topK) {
            throw new Error(`http query failed: ${response.status} ${JSON.stringify(answer)}`);
          }
        }),
      );
      console.error(JSON.stringify(results.at(-1)));
    }
  } finally {
    await server.stop();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

// 4. Report.
const rows = concurrencies.map((connections) => {
  const library = results.find((r) => r.path === "library" && r.connections === connections)!;
  const http = results.find((r) => r.path === "http" && r.connections === connections)!;
  return {
    connections,
    library,
    http,
    qpsCostPercent: (library.qps / http.qps - 1) * 100,
    p50CostPercent: (http.p50Ms / library.p50Ms - 1) * 100,
  };
});
const header =
  "| connections | library QPS | HTTP QPS | library p50 / p99 ms | HTTP p50 / p99 ms | HTTP cost (QPS) | HTTP cost (p50) |";
const lines = [
  `# HTTP vs library: ${rowCount} x ${dimension} cosine, topK ${topK}, ${queryCount} queries per row`,
  "",
  `Seed ${seed}; ${cpus().length} CPUs (${cpus()[0]?.model ?? "unknown"}), shared with other work; Bun ${Bun.version}.`,
  "HTTP: loopback, one fetch per query, JSON in and out, client and server in separate processes.",
  "Goal: HTTP costs at most 25% over the library.",
  "",
  header,
  "|---|---|---|---|---|---|---|",
  ...rows.map(
    (row) =>
      `| ${row.connections} | ${row.library.qps.toFixed(1)} | ${row.http.qps.toFixed(1)} | ${row.library.p50Ms.toFixed(2)} / ${row.library.p99Ms.toFixed(2)} | ${row.http.p50Ms.toFixed(2)} / ${row.http.p99Ms.toFixed(2)} | ${row.qpsCostPercent.toFixed(1)}% | ${row.p50CostPercent.toFixed(1)}% |`,
  ),
];
const markdown = `${lines.join("\n")}\n`;
console.log(markdown);
const outDir = join(repoRoot, "bench-results");
mkdirSync(outDir, { recursive: true });
writeFileSync(
  join(outDir, "http.json"),
  `${JSON.stringify({ seed, rowCount, dimension, topK, queryCount, bun: Bun.version, cpus: cpus().length, rows }, null, 2)}\n`,
);
writeFileSync(join(outDir, "http.md"), markdown);
