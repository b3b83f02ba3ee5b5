/**
 * Streaming benchmark: replays NeurIPS'23 big-ann-benchmarks streaming runbooks (inserts,
 * deletes and searches interleaved) against Needle through the embedded library, and reports
 * recall@10 at every search step against the exact answer over the rows live at that step.
 *
 *   bun scripts/bench-streaming.ts [--runbooks clustered_runbook.yaml,delete_runbook.yaml]
 *     [--runbook-dir ../shared/data/streaming-runbooks] [--queries 200]
 *   (about a minute; writes bench-results/streaming.{json,md})
 *
 * Data: the runbooks' 10k-point sections (`random-xs-clustered`) replayed on real vectors:
 * the first `max_pts` Fashion-MNIST train images (Debian's dataset-fashion-mnist), ordered by
 * their class label so that consecutive inserts come from one cluster, as the runbooks'
 * clustered data set does; the queries are Fashion-MNIST test images. Needle runs with a short
 * idle flush, so the namespace moves through memtables, L0 slabs and compactions during the
 * replay; every search must see every acknowledged insert and no deleted row.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import { kernels } from "../ffi/mod.ts";
import { open } from "../gateway/library/mod.ts";
import { fashionMnist } from "./ann-data.ts";

const k = 10;
const { values: args } = parseArgs({
  options: {
    runbooks: { type: "string", default: "clustered_runbook.yaml,delete_runbook.yaml" },
    "runbook-dir": {
      type: "string",
      default: resolve(import.meta.dir, "..", "..", "shared", "data", "streaming-runbooks"),
    },
    queries: { type: "string", default: "200" },
    section: { type: "string", default: "random-xs-clustered" },
  },
});
const runbookDir = args["runbook-dir"];
if (!existsSync(runbookDir)) {
  throw new Error(
    `no runbooks at ${runbookDir}: pass --runbook-dir (the big-ann-benchmarks streaming runbooks)`,
  );
}

interface Step {
  operation: "insert" | "delete" | "search";
  start?: number;
  end?: number;
}

function readRunbook(file: string): { maxLive: number; points: number; steps: Step[] } {
  const parsed = Bun.YAML.parse(readFileSync(join(runbookDir, file), "utf8")) as Record<
    string,
    Record<string, unknown>
  >;
  const section = parsed[args.section];
  if (section === undefined) throw new Error(`${file} has no section ${args.section}`);
  const steps = Object.keys(section)
    .filter((key) => /^\d+$/.test(key))
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => section[key] as Step);
  for (const step of steps) {
    if (!["insert", "delete", "search"].includes(step.operation)) {
      throw new Error(`${file}: operation ${step.operation} is not replayed by this benchmark`);
    }
  }
  // max_pts bounds the rows live at once; the rows inserted can go beyond it (delete_runbook).
  const points = Math.max(...steps.map((step) => (step.operation === "insert" ? step.end! : 0)));
  return { maxLive: Number(section.max_pts), points, steps };
}

/** Train rows ordered by class label (stable): consecutive inserts come from one cluster. */
function labelOrder(count: number): Uint32Array {
  const labels = gunzipSync(
    readFileSync("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"),
  ).subarray(8);
  return Uint32Array.from({ length: count }, (_, i) => i).sort((a, b) => labels[a]! - labels[b]! || a - b);
}

const fashion = fashionMnist(Number(args.queries), 20_261_204);
const dim = fashion.dim;

interface SearchStep {
  step: number;
  live: number;
  recall: number;
  qps: number;
}

async function replay(file: string) {
  const { maxLive, points: maxPoints, steps } = readRunbook(file);
  const order = labelOrder(maxPoints);
  const vectors = new Float32Array(maxPoints * dim);
  for (let i = 0; i < maxPoints; i++) {
    vectors.set(fashion.vectors.subarray(order[i]! * dim, (order[i]! + 1) * dim), i * dim);
  }
  const plain = (i: number) => Array.from(vectors.subarray(i * dim, (i + 1) * dim));
  const dir = mkdtempSync(join(tmpdir(), "needle-bench-streaming-"));
  const db = await open(dir, { flushIdleMs: 200, log: () => {} });
  const live = new Uint8Array((maxPoints + 7) >> 3);
  const searches: SearchStep[] = [];
  try {
    await db.createIndex({ name: "stream", dimension: dim, metric: "euclidean", waitUntilReady: true });
    const index = db.index("stream");
    for (const [position, step] of steps.entries()) {
      if (step.operation === "insert") {
        for (let from = step.start!; from < step.end!; from += 1_000) {
          const to = Math.min(step.end!, from + 1_000);
          const records = [];
          for (let i = from; i < to; i++) records.push({ id: String(i), values: plain(i) });
          await index.upsert({ records });
        }
        for (let i = step.start!; i < step.end!; i++) live[i >> 3]! |= 1 << (i & 7);
      } else if (step.operation === "delete") {
        const ids = [];
        for (let i = step.start!; i < step.end!; i++) ids.push(String(i));
        for (let from = 0; from < ids.length; from += 1_000)
          await index.deleteMany({ ids: ids.slice(from, from + 1_000) });
        for (let i = step.start!; i < step.end!; i++) live[i >> 3]! &= ~(1 << (i & 7));
      } else {
        let liveCount = 0;
        for (let i = 0; i < maxPoints; i++) liveCount += (live[i >> 3]! >> (i & 7)) & 1;
        let found = 0;
        let wanted = 0;
        const started = Bun.nanoseconds();
        const answers: number[][] = [];
        for (const query of fashion.queries) {
          const result = await index.query({ vector: Array.from(query), topK: k });
          answers.push(result.matches.map((match) => Number(match.id)));
        }
        const seconds = (Bun.nanoseconds() - started) / 1e9;
        fashion.queries.forEach((query, q) => {
          const truth = kernels().scanTopKBitset(
            { query, vectors, rows: maxPoints, dim, metric: "euclidean", k },
            live,
          ).rows;
          const expected = new Set(truth);
          found += answers[q]!.filter((row) => expected.has(row)).length;
          wanted += truth.length;
        });
        searches.push({
          step: position + 1,
          live: liveCount,
          recall: wanted === 0 ? 1 : found / wanted,
          qps: fashion.queries.length / seconds,
        });
      }
    }
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const recalls = searches.map((s) => s.recall);
  return {
    runbook: file,
    points: maxPoints,
    maxLive,
    steps: steps.length,
    searches,
    averageRecall: recalls.reduce((a, b) => a + b, 0) / Math.max(1, recalls.length),
    minimumRecall: Math.min(...recalls),
    averageQps: searches.reduce((a, s) => a + s.qps, 0) / Math.max(1, searches.length),
  };
}

const runStarted = performance.now();
const results = [];
for (const file of args.runbooks.split(",")) results.push(await replay(file));

const when = new Date().toISOString();
const cpu = cpus()[0]?.model ?? "unknown CPU";
const lines = [
  "# Streaming runbooks: recall@10 at every search step",
  "",
  `Section \`${args.section}\` of each runbook, replayed on the first Fashion-MNIST train images (784-d, L2) in class-label order; ${fashion.queries.length} Fashion-MNIST test images per search step.`,
  `${cpu}, ${process.platform}-${process.arch}, Bun ${Bun.version}, ${when}. Truth: exact flat scan over the rows live at that step. Goal: average recall >= 0.99.`,
  "",
  "| runbook | steps | search steps | average recall@10 | lowest | average QPS |",
  "|---|---:|---:|---:|---:|---:|",
  ...results.map(
    (r) =>
      `| ${r.runbook} | ${r.steps} | ${r.searches.length} | ${r.averageRecall.toFixed(4)} | ${r.minimumRecall.toFixed(4)} | ${r.averageQps.toFixed(0)} |`,
  ),
  "",
  "| runbook | step | live rows | recall@10 | QPS |",
  "|---|---:|---:|---:|---:|",
  ...results.flatMap((r) =>
    r.searches.map(
      (s) => `| ${r.runbook} | ${s.step} | ${s.live} | ${s.recall.toFixed(4)} | ${s.qps.toFixed(0)} |`,
    ),
  ),
  "",
  `Total run time ${((performance.now() - runStarted) / 1000).toFixed(0)} s. Rerun: \`bun scripts/bench-streaming.ts --queries ${fashion.queries.length}\`.`,
];
const text = lines.join("\n");
console.log(text);
const out = resolve(import.meta.dir, "..", "bench-results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "streaming.md"), `${text}\n`);
writeFileSync(join(out, "streaming.json"), `${JSON.stringify({ when, cpu, results }, null, 2)}\n`);
