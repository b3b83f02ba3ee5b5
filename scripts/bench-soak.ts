/**
 * Soak: a long mixed HTTP load against a real server, watching whether memory levels off.
 *
 *   bun scripts/bench-soak.ts [--minutes 10] [--connections 8] [--dim 256] [--batch 100]
 *                             [--ids 20000] [--interval 30] [--seed 1]
 *
 * Steps:
 *   1. Start the server CLI on a fresh data directory; create a cosine index of `dim`.
 *   2. Load `ids` records (upserts of `batch`), so queries have something to find.
 *   3. For `minutes`: `connections` closed-loop callers, each picking per request a query
 *      (70 %: topK 10, a seeded vector) or an upsert (30 %: `batch` records whose ids are drawn
 *      from the same `ids` pool, so the live set stays the same size and writes overwrite).
 *   4. Every `interval` seconds print a row: requests/s, query and upsert p50/p99, errors, and
 *      the server's resident set (VmRSS from /proc; Linux), sampled every second: the lowest
 *      and highest of the window.
 *   5. Write bench-results/soak.json and bench-results/soak.md. The verdict compares the RSS
 *      floor (median of the windows' lowest samples) of the last third of the run with the
 *      middle third: levelled off when it grew < 10 %. The floor, not a single sample, because
 *      RSS is a sawtooth here: a flushed memtable's arrays and a dropped slab's mapping return
 *      only at a garbage collection, so one sample lands anywhere between floor and peak, and
 *      the floor is what memory the process keeps. The mean of the samples is printed too.
 * Not part of the test suite: ten minutes of load is a benchmark, not a test.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { seededRandom } from "../ffi/seeded-random.ts";
import { makeDataDir, startServer } from "../gateway/http/testing.ts";

const { values: flags } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    connections: { type: "string", default: "8" },
    dim: { type: "string", default: "256" },
    batch: { type: "string", default: "100" },
    ids: { type: "string", default: "20000" },
    interval: { type: "string", default: "30" },
    seed: { type: "string", default: "1" },
  },
});
const minutes = Number(flags.minutes);
const connections = Number(flags.connections);
const dimension = Number(flags.dim);
const batchRecords = Number(flags.batch);
const idPool = Number(flags.ids);
const intervalSeconds = Number(flags.interval);
const queryShare = 0.7;
const repoRoot = resolve(import.meta.dir, "..");
const random = seededRandom(Number(flags.seed));

function vector(): number[] {
  return Array.from({ length: dimension }, () => Math.fround(random() * 2 - 1));
}
function upsertBody(ids: number[]): string {
  return JSON.stringify({ vectors: ids.map((id) => ({ id: `r${id}`, values: vector(), metadata: { id } })) });
}

// 1. Server (the test suite's launcher: the CLI on a free loopback port).
const dataDir = makeDataDir("soak");
const server = await startServer(dataDir.dir, ["--log-level", "error"]);
const url = server.url;
const headers = { "content-type": "application/json", "Api-Key": "soak" };
const base = `${url}/index/soak`;

function serverRssBytes(): number {
  const status = readFileSync(`/proc/${server.process.pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

async function post(path: string, body: string): Promise<number> {
  const response = await fetch(`${base}${path}`, { method: "POST", headers, body });
  await response.arrayBuffer();
  return response.status;
}

try {
  const created = await fetch(`${url}/indexes`, {
    method: "POST",
    headers,
    body: JSON.stringify({ name: "soak", dimension, metric: "cosine" }),
  });
  if (created.status !== 201) throw new Error(`create index answered ${created.status}`);

  // 2. Initial load.
  for (let start = 0; start < idPool; start += batchRecords) {
    const ids = Array.from({ length: Math.min(batchRecords, idPool - start) }, (_, i) => start + i);
    const status = await post("/vectors/upsert", upsertBody(ids));
    if (status !== 200) throw new Error(`initial upsert answered ${status}`);
  }
  console.error(
    `bench-soak: ${idPool} x ${dimension} loaded; ${minutes} min of load at ${connections} connections`,
  );

  // 3. The mixed load, closed loop.
  interface Window {
    queries: number[];
    upserts: number[];
    errors: number;
  }
  let window: Window = { queries: [], upserts: [], errors: 0 };
  const deadline = performance.now() + minutes * 60_000;
  const caller = async () => {
    while (performance.now() < deadline) {
      const isQuery = random() < queryShare;
      const started = performance.now();
      const status = isQuery
        ? await post("/query", JSON.stringify({ vector: vector(), topK: 10 }))
        : await post(
            "/vectors/upsert",
            upsertBody(Array.from({ length: batchRecords }, () => Math.floor(random() * idPool))),
          );
      const elapsed = performance.now() - started;
      if (status !== 200) window.errors++;
      else (isQuery ? window.queries : window.upserts).push(elapsed);
    }
  };

  // 4. One row per interval.
  const percentile = (values: number[], p: number) => {
    if (values.length === 0) return Number.NaN;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  };
  interface Row {
    atSeconds: number;
    requestsPerSecond: number;
    queryP50Ms: number;
    queryP99Ms: number;
    upsertP50Ms: number;
    upsertP99Ms: number;
    errors: number;
    rssMiB: number;
    rssMinMiB: number;
    rssMaxMiB: number;
  }
  const rows: Row[] = [];
  let rssSamples: number[] = [];
  const rssSampler = setInterval(() => rssSamples.push(serverRssBytes() / 2 ** 20), 1000);
  const started = performance.now();
  const sampler = setInterval(() => {
    const now = serverRssBytes() / 2 ** 20;
    const samples = [...rssSamples, now];
    rssSamples = [];
    const current = window;
    window = { queries: [], upserts: [], errors: 0 };
    const row: Row = {
      atSeconds: Math.round((performance.now() - started) / 1000),
      requestsPerSecond: Math.round((current.queries.length + current.upserts.length) / intervalSeconds),
      queryP50Ms: percentile(current.queries, 50),
      queryP99Ms: percentile(current.queries, 99),
      upsertP50Ms: percentile(current.upserts, 50),
      upsertP99Ms: percentile(current.upserts, 99),
      errors: current.errors,
      rssMiB: Math.round(now),
      rssMinMiB: Math.round(Math.min(...samples)),
      rssMaxMiB: Math.round(Math.max(...samples)),
    };
    rows.push(row);
    console.log(
      `${String(row.atSeconds).padStart(5)} s  ${String(row.requestsPerSecond).padStart(5)} req/s  query p50 ${row.queryP50Ms.toFixed(1)} p99 ${row.queryP99Ms.toFixed(1)} ms  upsert p50 ${row.upsertP50Ms.toFixed(1)} p99 ${row.upsertP99Ms.toFixed(1)} ms  errors ${row.errors}  RSS ${row.rssMiB} MiB (${row.rssMinMiB}-${row.rssMaxMiB})`,
    );
  }, intervalSeconds * 1000);
  await Promise.all(Array.from({ length: connections }, caller));
  clearInterval(sampler);
  clearInterval(rssSampler);

  // 5. Results and verdict.
  const third = Math.max(1, Math.floor(rows.length / 3));
  const mean = (values: number[]) =>
    values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const middleRows = rows.slice(third, 2 * third);
  const lastRows = rows.slice(2 * third);
  const middle = mean(middleRows.map((row) => row.rssMiB));
  const last = mean(lastRows.map((row) => row.rssMiB));
  const middleFloor = median(middleRows.map((row) => row.rssMinMiB));
  const lastFloor = median(lastRows.map((row) => row.rssMinMiB));
  const growth = middleFloor > 0 ? lastFloor / middleFloor - 1 : Number.NaN;
  const verdict = growth < 0.1 ? "levelled off" : "still growing";
  const peak = Math.max(...rows.map((row) => row.rssMaxMiB));
  const header =
    "| t (s) | req/s | query p50 (ms) | query p99 (ms) | upsert p50 (ms) | upsert p99 (ms) | errors | RSS at the end (MiB) | RSS lowest-highest (MiB) |\n|---|---|---|---|---|---|---|---|---|";
  const table = rows
    .map(
      (row) =>
        `| ${row.atSeconds} | ${row.requestsPerSecond} | ${row.queryP50Ms.toFixed(1)} | ${row.queryP99Ms.toFixed(1)} | ${row.upsertP50Ms.toFixed(1)} | ${row.upsertP99Ms.toFixed(1)} | ${row.errors} | ${row.rssMiB} | ${row.rssMinMiB}-${row.rssMaxMiB} |`,
    )
    .join("\n");
  const summary = `RSS floor (median of each window's lowest sample): middle third ${middleFloor.toFixed(0)} MiB, last third ${lastFloor.toFixed(0)} MiB (${(growth * 100).toFixed(1)} %): ${verdict}. Mean of the end-of-window samples: ${middle.toFixed(0)} -> ${last.toFixed(0)} MiB; peak ${peak.toFixed(0)} MiB.`;
  const markdown = `# Soak: mixed HTTP load\n\n${minutes} min, ${connections} connections, 70 % queries (topK 10) / 30 % upserts of ${batchRecords} x ${dimension} over a pool of ${idPool} ids (writes overwrite), cosine. Run ${new Date().toISOString()}.\n\n${header}\n${table}\n\n${summary}\n`;
  mkdirSync(join(repoRoot, "bench-results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench-results", "soak.md"), markdown);
  writeFileSync(
    join(repoRoot, "bench-results", "soak.json"),
    `${JSON.stringify({ minutes, connections, dimension, batchRecords, idPool, rows, middleRssMiB: middle, lastRssMiB: last, middleFloorMiB: middleFloor, lastFloorMiB: lastFloor, peakMiB: peak, verdict }, null, 2)}\n`,
  );
  console.log(summary);
} finally {
  await server.stop();
  dataDir.remove();
}
