/**
 * ANN benchmark: recall@10 against queries per second on one core, swept over the search
 * effort, for Needle (through the embedded library, after its compaction built the IVF index)
 * and hnswlib-node (HNSW, M = 16, efConstruction = 200) on the same data in the same run.
 *
 *   bun scripts/bench-ann.ts [--rows 100000] [--dim 256] [--metric cosine] [--queries 500]
 *   (a few minutes; writes bench-results/ann.{json,md})
 *
 * Steps:
 *   1. Seeded data: a Gaussian mixture with uneven cluster sizes (Zipf-like) and anisotropic
 *      clusters (per-cluster, per-dimension spreads); queries are perturbed rows (near the
 *      data, never on it). Uniform random data would make every ANN method look bad.
 *   2. Ground truth: the exact top 10 of every query by the flat kernel over all rows.
 *   3. Needle: upsert in batches of 1,000, wait for the flush and the compaction into one
 *      indexed slab (build time = ingest + indexing), then query each effort.
 *   4. hnswlib-node: addPoint every row (build time), then query each ef.
 *   5. For recall 0.90, 0.95 and 0.99: the best QPS each system reaches at or above it, and
 *      Needle's divided by the peer's.
 * Queries run one after another on the main thread (one core); timing includes each
 * library's own call overhead (Needle: its actor hops and result shaping).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import hnswlib from "hnswlib-node";
import { kernels } from "../ffi/mod.ts";
import { gaussian, seededRandom } from "../ffi/seeded-random.ts";
import { open } from "../gateway/library/mod.ts";
import type { Metric } from "../storage/types.ts";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "100000" },
    dim: { type: "string", default: "256" },
    metric: { type: "string", default: "cosine" },
    queries: { type: "string", default: "500" },
  },
});
const rows = Number(args.rows);
const dim = Number(args.dim);
const metric = args.metric as Metric;
const queryCount = Number(args.queries);
const seed = Number(process.env.NEEDLE_BENCH_SEED ?? 20_261_204);
const k = 10;
const efforts = [0.25, 0.5, 1, 2, 4];
const efs = [10, 20, 40, 80, 160, 320];
const recallLevels = [0.9, 0.95, 0.99];

interface Point {
  system: string;
  setting: string;
  recall: number;
  qps: number;
}

/** Step 1. */
function dataset() {
  const random = seededRandom(seed);
  const clusters = Math.max(8, Math.round(Math.sqrt(rows) / 2));
  const weights = Array.from({ length: clusters }, (_, c) => 1 / (c + 1));
  const total = weights.reduce((sum, w) => sum + w, 0);
  const centers = Array.from({ length: clusters }, () =>
    Float32Array.from({ length: dim }, () => gaussian(random)),
  );
  const spreads = Array.from({ length: clusters }, () =>
    Float32Array.from({ length: dim }, () => 0.1 + random() * 0.4),
  );
  const vectors = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let pick = random() * total;
    let c = 0;
    while (pick > weights[c]! && c < clusters - 1) pick -= weights[c++]!;
    for (let d = 0; d < dim; d++) vectors[r * dim + d] = centers[c]![d]! + spreads[c]![d]! * gaussian(random);
  }
  const queries = Array.from({ length: queryCount }, () => {
    const base = Math.floor(random() * rows);
    return Float32Array.from({ length: dim }, (_, d) => vectors[base * dim + d]! + 0.15 * gaussian(random));
  });
  return { vectors, queries };
}

/** Step 2. */
function groundTruth(vectors: Float32Array, queries: Float32Array[]): Set<number>[] {
  let inverseNorms: Float32Array | undefined;
  if (metric === "cosine") {
    inverseNorms = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let squares = 0;
      for (let d = 0; d < dim; d++) squares += vectors[r * dim + d]! ** 2;
      inverseNorms[r] = 1 / Math.sqrt(squares);
    }
  }
  return queries.map(
    (query) => new Set(kernels().scanTopK({ query, vectors, rows, dim, metric, inverseNorms, k }).rows),
  );
}

function measure(queries: Float32Array[], truth: Set<number>[], search: (query: Float32Array) => number[]) {
  search(queries[0]!); // warm
  let found = 0;
  const started = Bun.nanoseconds();
  const answers = queries.map((query) => search(query));
  const seconds = (Bun.nanoseconds() - started) / 1e9;
  answers.forEach((answer, i) => {
    for (const row of answer) if (truth[i]!.has(row)) found++;
  });
  return { recall: found / (queries.length * k), qps: queries.length / seconds };
}

async function benchNeedle(vectors: Float32Array, queries: Float32Array[], truth: Set<number>[]) {
  const dir = mkdtempSync(join(tmpdir(), "needle-bench-ann-"));
  const db = await open(dir, { flushIdleMs: 300, log: () => {} });
  try {
    await db.createIndex({ name: "ann", dimension: dim, metric, waitUntilReady: true });
    const index = db.index("ann");
    const started = performance.now();
    for (let start = 0; start < rows; start += 1_000) {
      const records = [];
      for (let r = start; r < Math.min(rows, start + 1_000); r++) {
        records.push({ id: String(r), values: Array.from(vectors.subarray(r * dim, (r + 1) * dim)) });
      }
      await index.upsert({ records });
    }
    // Wait for the idle flush and the compaction into one indexed slab.
    for (let waited = 0; ; waited++) {
      if (waited > 6_000)
        throw new Error("the compaction into one indexed slab did not finish in 10 minutes");
      const compaction = await index.describeCompaction();
      const { levels } = compaction;
      if (levels.length === 1 && levels[0]!.level >= 1 && levels[0]!.liveRows === rows) break;
      if (waited % 100 === 99) console.error(`waiting for the index build: ${JSON.stringify(compaction)}`);
      await Bun.sleep(100);
    }
    const buildSeconds = (performance.now() - started) / 1000;
    // The client API takes plain arrays: converted before timing, as for the peer.
    const plain = queries.map((query) => Array.from(query));
    // Warm-up (JIT, slab mapping, page cache): one unmeasured pass.
    for (const vector of plain) await index.query({ vector, topK: k });
    const points: Point[] = [];
    for (const searchEffort of efforts) {
      // The library's query is async; the measured loop awaits each answer in turn.
      const answers: number[][] = [];
      const begin = Bun.nanoseconds();
      for (const vector of plain) {
        const result = await index.query({ vector, topK: k, searchEffort });
        answers.push(result.matches.map((match) => Number(match.id)));
      }
      const seconds = (Bun.nanoseconds() - begin) / 1e9;
      let found = 0;
      answers.forEach((answer, i) => {
        for (const row of answer) if (truth[i]!.has(row)) found++;
      });
      points.push({
        system: "needle (library)",
        setting: `searchEffort ${searchEffort}`,
        recall: found / (queries.length * k),
        qps: queries.length / seconds,
      });
    }
    return { points, buildSeconds };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function benchHnswlib(vectors: Float32Array, queries: Float32Array[], truth: Set<number>[]) {
  const space = metric === "euclidean" ? "l2" : metric === "cosine" ? "cosine" : "ip";
  const index = new hnswlib.HierarchicalNSW(space, dim);
  const started = performance.now();
  index.initIndex(rows, 16, 200, seed);
  for (let r = 0; r < rows; r++) index.addPoint(Array.from(vectors.subarray(r * dim, (r + 1) * dim)), r);
  const buildSeconds = (performance.now() - started) / 1000;
  // hnswlib-node takes plain arrays: converted before timing, so the peer is not charged for it.
  const plain = queries.map((query) => Array.from(query));
  const byArray = new Map(queries.map((query, i) => [query, plain[i]!]));
  const points: Point[] = efs.map((ef) => {
    index.setEf(ef);
    const { recall, qps } = measure(
      queries,
      truth,
      (query) => index.searchKnn(byArray.get(query)!, k).neighbors,
    );
    return { system: "hnswlib-node 3.0.0", setting: `ef ${ef}`, recall, qps };
  });
  return { points, buildSeconds };
}

function bestAt(points: Point[], level: number): number | undefined {
  const qualifying = points.filter((point) => point.recall >= level);
  return qualifying.length === 0 ? undefined : Math.max(...qualifying.map((point) => point.qps));
}

const runStarted = performance.now();
const { vectors, queries } = dataset();
const truth = groundTruth(vectors, queries);
const needle = await benchNeedle(vectors, queries, truth);
const peer = benchHnswlib(vectors, queries, truth);
const points = [...needle.points, ...peer.points];
const ratios = recallLevels.map((level) => {
  const ours = bestAt(needle.points, level);
  const theirs = bestAt(peer.points, level);
  return {
    recall: level,
    needleQps: ours ?? null,
    peerQps: theirs ?? null,
    ratio: ours !== undefined && theirs !== undefined ? ours / theirs : null,
  };
});

const cpu = cpus()[0]?.model ?? "unknown CPU";
const when = new Date().toISOString();
const fmt = (value: number | null, digits = 0) => (value === null ? "—" : value.toFixed(digits));
const lines = [
  "# ANN: recall@10 vs queries per second (one core)",
  "",
  `${rows} x ${dim} ${metric}, seeded Gaussian mixture (uneven, anisotropic clusters), ${queryCount} queries near the data.`,
  `${cpu}, ${process.platform}-${process.arch}, Bun ${Bun.version}, ${when}. Ground truth: exact flat scan.`,
  `Build: Needle ${needle.buildSeconds.toFixed(1)} s (durable ingest through the library + flush + compaction into one IVF slab, on the builder thread);`,
  `hnswlib-node ${peer.buildSeconds.toFixed(1)} s (in-memory HNSW, M 16, efConstruction 200, not durable).`,
  "",
  "| system | setting | recall@10 | QPS |",
  "|---|---|---:|---:|",
  ...points.map((p) => `| ${p.system} | ${p.setting} | ${p.recall.toFixed(3)} | ${p.qps.toFixed(0)} |`),
  "",
  "| recall at least | Needle best QPS | hnswlib-node best QPS | Needle / hnswlib-node |",
  "|---:|---:|---:|---:|",
  ...ratios.map((r) => `| ${r.recall} | ${fmt(r.needleQps)} | ${fmt(r.peerQps)} | ${fmt(r.ratio, 2)} |`),
  "",
  `Total run time ${((performance.now() - runStarted) / 1000).toFixed(0)} s. Rerun: \`bun scripts/bench-ann.ts --rows ${rows} --dim ${dim} --metric ${metric}\`.`,
];
const text = lines.join("\n");
console.log(text);
const out = resolve(import.meta.dir, "..", "bench-results");
mkdirSync(out, { recursive: true });
const name = `ann-${rows}x${dim}-${metric}`;
writeFileSync(join(out, `${name}.md`), `${text}\n`);
writeFileSync(
  join(out, `${name}.json`),
  `${JSON.stringify({ rows, dim, metric, queryCount, seed, when, cpu, build: { needle: needle.buildSeconds, hnswlib: peer.buildSeconds }, points, ratios }, null, 2)}\n`,
);
