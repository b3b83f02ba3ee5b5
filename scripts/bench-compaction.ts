/**
 * Compaction interference: query latency while a compaction runs against the same namespace
 * idle, in the same run (goal: p99 within 2x).
 *
 *   bun scripts/bench-compaction.ts [--rows 150000] [--dim 256] [--queries 300]
 *   (a minute or two; writes bench-results/compaction-<rows>x<dim>.{json,md})
 *
 * Steps:
 *   1. The data of bench-ann.ts; Needle through the library with compaction paused and a
 *      flush every 25,000 rows, so ingest leaves several level-0 slabs.
 *   2. Idle: the queries, one at a time, each timed (the slabs are searched exactly).
 *   3. Resume compaction (the level-0 slabs merge into one IVF level on the builder thread,
 *      then commit and swap) and run the same queries in a loop until it has finished, each
 *      timed: only those answered while the compaction ran count.
 *   4. p50, p99 and max of both, and their ratio. The queries answered during the compaction
 *      include the last few after its swap, which already use the (faster) IVF level.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { open } from "../gateway/library/mod.ts";
import { benchSetup } from "./ann-data.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const { rows, dim, metric, data } = benchSetup(300);
const k = 10;
const runStarted = performance.now();
const dir = mkdtempSync(join(tmpdir(), "needle-bench-compaction-"));
const db = await open(dir, { flushRowsMax: 25_000, compaction: { paused: true }, log: () => {} });
const plain = data.queries.map((query) => Array.from(query));

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (share: number) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

let idle: ReturnType<typeof percentiles>;
let during: ReturnType<typeof percentiles>;
let compactionSeconds: number;
try {
  await db.createIndex({ name: "c", dimension: dim, metric, waitUntilReady: true });
  const index = db.index("c");
  for (let start = 0; start < rows; start += 1_000) {
    const records = [];
    for (let r = start; r < Math.min(rows, start + 1_000); r++) {
      records.push({ id: String(r), values: Array.from(data.vectors.subarray(r * dim, (r + 1) * dim)) });
    }
    await index.upsert({ records });
  }
  // The last rows reach a slab at the idle flush (flushIdleMs, 10 s by default).
  while ((await index.describeCompaction()).levels[0]?.rows !== rows) await Bun.sleep(50);
  console.error("ingested and flushed; timing idle queries");
  const timed = async () => {
    // A query path that never leaves the microtask queue would starve the builder thread's
    // answers (macrotasks): yield first, as a request arriving from the network would.
    await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    await index.query({ vector: plain[Math.floor(Math.random() * plain.length)]!, topK: k });
    return performance.now() - started;
  };
  for (let i = 0; i < 20; i++) await timed(); // warm-up
  const idleSamples: number[] = [];
  for (let i = 0; i < 5 * plain.length; i++) idleSamples.push(await timed());
  idle = percentiles(idleSamples);

  const duringSamples: number[] = [];
  const compactionStarted = performance.now();
  await db.resumeCompaction();
  console.error("compaction resumed; timing queries until it has finished");
  const settled = db.compactionSettled();
  let done = false;
  void settled.then(() => {
    done = true;
  });
  let lastReport = performance.now();
  while (!done) {
    if (process.env.NEEDLE_BENCH_DEBUG && performance.now() - lastReport > 1000) {
      lastReport = performance.now();
      console.error(
        JSON.stringify(await db.compactionStatus()),
        JSON.stringify((await index.describeCompaction()).levels),
      );
    }
    const latency = await timed();
    if (!done) duringSamples.push(latency);
  }
  compactionSeconds = (performance.now() - compactionStarted) / 1000;
  during = percentiles(duringSamples);
  const levels = (await index.describeCompaction()).levels;
  if (levels.some((level) => level.level === 0)) throw new Error("the compaction did not merge level 0");
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}

const ratio = during.p99 / idle.p99;
const cpu = cpus()[0]?.model ?? "unknown CPU";
const when = new Date().toISOString();
const ms = (value: number) => value.toFixed(2);
const lines = [
  "# Compaction interference: query latency while a compaction runs vs idle",
  "",
  `${rows} x ${dim} ${metric} (the data of bench-ann.ts) in level-0 slabs of 25,000 rows, merged into one IVF level while queries run, one at a time, top ${k}.`,
  `${cpu} (${cpus().length} cores), ${process.platform}-${process.arch}, Bun ${Bun.version}, ${when}. The compaction took ${compactionSeconds.toFixed(1)} s on the builder thread.`,
  "",
  "| phase | queries | p50 ms | p99 ms | max ms |",
  "|---|---:|---:|---:|---:|",
  `| idle (exact scans of level 0) | ${idle.count} | ${ms(idle.p50)} | ${ms(idle.p99)} | ${ms(idle.max)} |`,
  `| during the compaction | ${during.count} | ${ms(during.p50)} | ${ms(during.p99)} | ${ms(during.max)} |`,
  "",
  `p99 during / p99 idle: ${ratio.toFixed(2)} (goal <= 2).`,
  "",
  `Total run time ${((performance.now() - runStarted) / 1000).toFixed(0)} s. Rerun: \`bun scripts/bench-compaction.ts --rows ${rows} --dim ${dim}\`.`,
];
const text = lines.join("\n");
console.log(text);
const out = resolve(import.meta.dir, "..", "bench-results");
mkdirSync(out, { recursive: true });
const name = `compaction-${rows}x${dim}`;
writeFileSync(join(out, `${name}.md`), `${text}\n`);
writeFileSync(
  join(out, `${name}.json`),
  `${JSON.stringify({ rows, dim, metric, when, cpu, idle, during, ratio, compactionSeconds }, null, 2)}\n`,
);
