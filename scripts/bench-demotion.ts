/**
 * Queries under a slab memory budget (actors/DESIGN.md decision 27): the same data directory
 * and the same queries with every slab mapped, with every slab demoted to its index portion,
 * and with a budget below the index portions (whole slabs closed and opened again).
 *
 *   bun scripts/bench-demotion.ts [--namespaces 4] [--rows 25000] [--dim 384] [--queries 400]
 *   (a few minutes; writes bench-results/demotion-<namespaces>x<rows>x<dim>.{json,md})
 *
 * Steps:
 *   1. Build: `namespaces` namespaces of `rows` clustered rows each (deterministic, cosine),
 *      each compacted into one IVF slab (not timed).
 *   2. For each budget, a fresh engine on that directory (compaction paused): one query per
 *      namespace opens its slab, then `queries` queries (top 10, round robin over the
 *      namespaces, one at a time) are timed. Reported: queries/s, p50 and p99 latency, rows
 *      read from files per slab search, bytes the executor holds for open slabs, the process
 *      RSS after a full garbage collection, and how many answers differ from the mapped run's
 *      (ids and scores).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gaussian } from "../ffi/seeded-random.ts";
import type { EngineOptions, QueryRequest, QueryResult } from "../actors/api.ts";
import { openEngine } from "../actors/mod.ts";
import { seededRandom } from "../actors/testing/reference.ts";
import { SlabReader } from "../storage/slab/mod.ts";

const { values: flags } = parseArgs({
  options: {
    namespaces: { type: "string", default: "4" },
    rows: { type: "string", default: "25000" },
    dim: { type: "string", default: "384" },
    queries: { type: "string", default: "400" },
  },
});
const namespaces = Number(flags.namespaces);
const rows = Number(flags.rows);
const dim = Number(flags.dim);
const queryCount = Number(flags.queries);
const repoRoot = resolve(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "needle-bench-demotion-"));
const random = seededRandom(20261204);
const centers = Array.from({ length: 100 }, () => Float32Array.from({ length: dim }, () => gaussian(random)));
const near = (spread: number) => {
  const center = centers[Math.floor(random() * centers.length)]!;
  return Float32Array.from(center, (c) => c + gaussian(random) * spread);
};
const names = Array.from({ length: namespaces }, (_, i) => `tenant-${i}`);

async function build(): Promise<void> {
  const engine = await openEngine({ dir, flushRowsMax: 10_000, packedRowsMax: 0, log: () => {} });
  await engine.createIndex({ name: "bench", dimension: dim, metric: "cosine", vectorType: "dense" });
  for (const ns of names) {
    for (let start = 0; start < rows; start += 1_000) {
      const batch = Array.from({ length: Math.min(1_000, rows - start) }, (_, i) => ({
        id: `${ns}-${start + i}`,
        values: near(0.6),
        metadata: { group: `g${(start + i) % 16}` },
      }));
      await engine.upsert("bench", ns, batch);
    }
  }
  for (;;) {
    await engine.compactionSettled();
    const levels = (await engine.describeIndexStats("bench")).compaction!.levels;
    if (levels.length === 1 && levels[0]!.level === 1 && levels[0]!.liveRows === rows * namespaces) break;
    await Bun.sleep(100);
  }
  await engine.close();
}

interface Run {
  budget: string;
  budgetBytes: number | null;
  queriesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  rowsFetchedPerSearch: number;
  coldAnswers: number;
  slabBytesHeld: number;
  demotedSlabs: number;
  slabsClosed: number;
  rssMiB: number;
  answersDiffering: number;
}

const queries: { ns: string; request: QueryRequest }[] = Array.from({ length: queryCount }, (_, i) => ({
  ns: names[i % namespaces]!,
  request: { vector: near(0.8), topK: 10, includeValues: false, includeMetadata: true, explain: true },
}));

async function run(budget: string, budgetBytes: number | undefined, baseline?: QueryResult[]) {
  const options: EngineOptions = {
    dir,
    packedRowsMax: 0,
    compaction: { paused: true },
    log: () => {},
    ...(budgetBytes === undefined ? {} : { slabMemoryBudgetBytes: budgetBytes }),
  };
  const engine = await openEngine(options);
  const answers: QueryResult[] = [];
  const latencies: number[] = [];
  let fetched = 0;
  let searches = 0;
  let cold = 0;
  try {
    for (const ns of names) await engine.query("bench", ns, queries[0]!.request);
    await Bun.sleep(200); // demotions are asked asynchronously
    const started = performance.now();
    for (const { ns, request } of queries) {
      const begun = performance.now();
      const answer = await engine.query("bench", ns, request);
      latencies.push(performance.now() - begun);
      answers.push(answer);
      if (answer.cold) cold++;
      for (const source of answer.explain!.sources) {
        if (source.source === "memtable") continue;
        searches++;
        fetched += source.rowsFetched ?? 0;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    Bun.gc(true);
    const memory = (await engine.observe()).slabMemory!;
    latencies.sort((a, b) => a - b);
    const differing = baseline
      ? answers.filter((answer, i) => {
          const expected = baseline[i]!.matches.map(({ id, score }) => `${id}:${score}`).join();
          return answer.matches.map(({ id, score }) => `${id}:${score}`).join() !== expected;
        }).length
      : 0;
    const result: Run = {
      budget,
      budgetBytes: budgetBytes ?? null,
      queriesPerSecond: Math.round(queryCount / seconds),
      p50Ms: Number(latencies[Math.floor(latencies.length * 0.5)]!.toFixed(2)),
      p99Ms: Number(latencies[Math.floor(latencies.length * 0.99)]!.toFixed(2)),
      rowsFetchedPerSearch: Math.round(fetched / Math.max(1, searches)),
      coldAnswers: cold,
      slabBytesHeld: memory.openBytes,
      demotedSlabs: memory.demotedSlabs,
      slabsClosed: memory.evictions,
      rssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20),
      answersDiffering: differing,
    };
    console.log(JSON.stringify(result));
    return { result, answers };
  } finally {
    await engine.close();
  }
}

await build();
const mapped = await run("default (every slab mapped)", undefined);
// Listed after an engine opened the directory: its start-up clean-up removed the slab files
// compaction retired while the build's engine closed.
const slabsDir = join(dir, "indexes", "bench", "slabs");
const readers = readdirSync(slabsDir)
  .filter((name) => name.endsWith(".slab"))
  .map((name) => SlabReader.openFile(join(slabsDir, name)));
const fileBytes = readers.reduce((sum, reader) => sum + reader.info.byteLength, 0);
const indexBytes = readers.reduce((sum, reader) => sum + reader.indexPortionBytes, 0);
const ivf = readers.filter((reader) => reader.vectorIndex !== undefined).length;
for (const reader of readers) reader.close();
console.log(
  `${readers.length} slabs (${ivf} with IVF): ${fileBytes} bytes, index portions ${indexBytes} bytes`,
);

const demoted = await run(
  "index portions + 1 MiB (every slab demoted)",
  indexBytes + 2 ** 20,
  mapped.answers,
);
const closing = await run(
  "half the index portions (slabs closed and reopened)",
  Math.floor(indexBytes / 2),
  mapped.answers,
);
const results = [mapped.result, demoted.result, closing.result];

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const table = [
  "| slab budget | queries/s | p50 ms | p99 ms | rows read from files per slab search | slab MiB held | demoted / closed | RSS MiB | answers differing |",
  "|---|---:|---:|---:|---:|---:|---|---:|---:|",
  ...results.map(
    (r) =>
      `| ${r.budget} | ${r.queriesPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.rowsFetchedPerSearch} | ${mib(r.slabBytesHeld)} | ${r.demotedSlabs} / ${r.slabsClosed} | ${r.rssMiB} | ${r.answersDiffering} |`,
  ),
].join("\n");
const name = `demotion-${namespaces}x${rows}x${dim}`;
const markdown = `# Slab memory budget: mapped, demoted to index portions, closed

One run on this machine (${navigator.hardwareConcurrency} cores), ${new Date().toISOString().slice(0, 10)}. \`bun scripts/bench-demotion.ts --namespaces ${namespaces} --rows ${rows} --dim ${dim} --queries ${queryCount}\`.

${namespaces} namespaces x ${rows} clustered ${dim}-d rows (cosine), one IVF slab each: ${readers.length} slab files, ${mib(fileBytes)} MiB, of which index portions ${mib(indexBytes)} MiB (${((100 * indexBytes) / fileBytes).toFixed(0)} %). ${queryCount} queries, top 10 with metadata, one at a time, round robin over the namespaces; the same queries in every row.

${table}

Reading: demoted, the slabs hold ${(mapped.result.slabBytesHeld / Math.max(1, demoted.result.slabBytesHeld)).toFixed(1)}x less memory and answer the same at ${(demoted.result.queriesPerSecond / mapped.result.queriesPerSecond).toFixed(2)}x the mapped throughput: each slab search opens its file and reads its ${demoted.result.rowsFetchedPerSearch} candidate rows (${((demoted.result.rowsFetchedPerSearch * dim * 4) / 1024).toFixed(0)} KiB, from the page cache here; a cold disk adds its read latency), and the final top k's values and metadata are read the same way. Those reads run on the I/O threads (an open, the reads in parallel, a close), so a slow disk delays only the queries that read it; an earlier build read synchronously and measured about 0.5x the mapped throughput here, at the price of stalling every request while a cold disk answered. Below the index portions whole slabs cycle: each query maps and verifies a slab file again, ${(mapped.result.queriesPerSecond / Math.max(1, closing.result.queriesPerSecond)).toFixed(0)}x slower than mapped, which is why the executor gives back raw rows first.

"answers differing" compares ids and scores with the first row's answers. Rows read per slab search are the float32 rows a demoted slab read from its file and scored exactly (its IVF partitions' int8 candidates); mapped slabs read none, and closed slabs map and verify their whole file again when a query reopens them. RSS is the whole process after a full garbage collection (the test data set's generator included), with the page cache of mapped files counted where they were touched.
`;
mkdirSync(join(repoRoot, "bench-results"), { recursive: true });
writeFileSync(
  join(repoRoot, "bench-results", `${name}.json`),
  `${JSON.stringify({ namespaces, rows, dim, queries: queryCount, fileBytes, indexBytes, results }, null, 2)}\n`,
);
writeFileSync(join(repoRoot, "bench-results", `${name}.md`), markdown);
console.log(markdown);
rmSync(dir, { recursive: true, force: true });
