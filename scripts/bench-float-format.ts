/**
 * What printing float32 values as their shortest decimals costs (issue 10, item 1).
 *
 *   bun scripts/bench-float-format.ts [--rows 20000] [--dim 768] [--runs 15] [--seed 1]
 *
 * Steps:
 *   1. Load `rows` seeded vectors of `dim` through the library and reopen, so reads come from
 *      a slab, as they mostly do.
 *   2. Two reads, each `runs` times: a fetch of 1,000 random ids, and a query with
 *      includeValues over topK 1,000. For each run, time the engine's read alone, then the two
 *      ways of turning its Float32Arrays into numbers: before (`Array.from`: each float32 as its
 *      full float64 expansion) and after (`shortestFloat32Array`), and JSON.stringify of each
 *      result (what the HTTP gateway does next).
 *   3. Print medians and the after/before ratios, and write bench-results/float-format.{md,json}.
 * Absolute times on a shared machine are not results; the ratios are.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Engine } from "../actors/api.ts";
import { openEngine } from "../actors/mod.ts";
import { seededRandom } from "../ffi/seeded-random.ts";
import { shortestFloat32Array } from "../gateway/library/float32.ts";

const { values: flags } = parseArgs({
  options: {
    rows: { type: "string", default: "20000" },
    dim: { type: "string", default: "768" },
    runs: { type: "string", default: "15" },
    seed: { type: "string", default: "1" },
  },
});
const rowCount = Number(flags.rows);
const dimension = Number(flags.dim);
const runs = Number(flags.runs);
const random = seededRandom(Number(flags.seed));
const readSize = 1000;

const dir = mkdtempSync(join(tmpdir(), "needle-bench-float-"));
let engine: Engine = await openEngine({ dir, log: () => {} });
await engine.createIndex({ name: "f", dimension, metric: "cosine", vectorType: "dense" });
for (let start = 0; start < rowCount; start += 500) {
  const records = Array.from({ length: Math.min(500, rowCount - start) }, (_, i) => ({
    id: `r${start + i}`,
    values: Float32Array.from({ length: dimension }, () => random() * 2 - 1),
  }));
  await engine.upsert("f", "n", records);
}
await engine.close();
engine = await openEngine({ dir, log: () => {} });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Timing {
  engine: number[];
  formatBefore: number[];
  formatAfter: number[];
  jsonBefore: number[];
  jsonAfter: number[];
  bytesBefore: number;
  bytesAfter: number;
}

async function measure(read: () => Promise<Float32Array[]>): Promise<Timing> {
  const timing: Timing = {
    engine: [],
    formatBefore: [],
    formatAfter: [],
    jsonBefore: [],
    jsonAfter: [],
    bytesBefore: 0,
    bytesAfter: 0,
  };
  for (let run = 0; run < runs + 2; run++) {
    let started = performance.now();
    const vectors = await read();
    const engineMs = performance.now() - started;
    started = performance.now();
    const before = vectors.map((values) => Array.from(values));
    const formatBeforeMs = performance.now() - started;
    started = performance.now();
    const after = vectors.map((values) => shortestFloat32Array(values));
    const formatAfterMs = performance.now() - started;
    started = performance.now();
    const jsonBefore = JSON.stringify(before);
    const jsonBeforeMs = performance.now() - started;
    started = performance.now();
    const jsonAfter = JSON.stringify(after);
    const jsonAfterMs = performance.now() - started;
    if (run < 2) continue; // warm-up
    timing.engine.push(engineMs);
    timing.formatBefore.push(formatBeforeMs);
    timing.formatAfter.push(formatAfterMs);
    timing.jsonBefore.push(jsonBeforeMs);
    timing.jsonAfter.push(jsonAfterMs);
    timing.bytesBefore = jsonBefore.length;
    timing.bytesAfter = jsonAfter.length;
  }
  return timing;
}

const randomIds = () => Array.from({ length: readSize }, () => `r${Math.floor(random() * rowCount)}`);
const fetchTiming = await measure(async () =>
  (await engine.fetch("f", "n", randomIds())).records.map((record) => record.values!),
);
const queryTiming = await measure(async () => {
  const vector = Float32Array.from({ length: dimension }, () => random() * 2 - 1);
  const result = await engine.query("f", "n", {
    topK: readSize,
    vector,
    includeValues: true,
    includeMetadata: false,
  });
  return result.matches.map((match) => match.values!);
});
await engine.close();
rmSync(dir, { recursive: true, force: true });

const rows = [
  { operation: `fetch ${readSize} ids x ${dimension}`, timing: fetchTiming },
  { operation: `query topK ${readSize} x ${dimension}, includeValues`, timing: queryTiming },
].map(({ operation, timing }) => {
  const engineMs = median(timing.engine);
  const formatBeforeMs = median(timing.formatBefore);
  const formatAfterMs = median(timing.formatAfter);
  const jsonBeforeMs = median(timing.jsonBefore);
  const jsonAfterMs = median(timing.jsonAfter);
  return {
    operation,
    engineMs,
    formatBeforeMs,
    formatAfterMs,
    jsonBeforeMs,
    jsonAfterMs,
    libraryRatio: (engineMs + formatAfterMs) / (engineMs + formatBeforeMs),
    httpRatio: (engineMs + formatAfterMs + jsonAfterMs) / (engineMs + formatBeforeMs + jsonBeforeMs),
    jsonBytesBefore: timing.bytesBefore,
    jsonBytesAfter: timing.bytesAfter,
  };
});

const fixed = (value: number) => value.toFixed(1);
const table = [
  "| read | engine (ms) | format before / after (ms) | JSON.stringify before / after (ms) | library after/before | HTTP after/before | JSON bytes before / after |",
  "|---|---|---|---|---|---|---|",
  ...rows.map(
    (row) =>
      `| ${row.operation} | ${fixed(row.engineMs)} | ${fixed(row.formatBeforeMs)} / ${fixed(row.formatAfterMs)} | ${fixed(row.jsonBeforeMs)} / ${fixed(row.jsonAfterMs)} | ${row.libraryRatio.toFixed(2)}x | ${row.httpRatio.toFixed(2)}x | ${row.jsonBytesBefore} / ${row.jsonBytesAfter} |`,
  ),
].join("\n");
console.log(table);
const repoRoot = resolve(import.meta.dir, "..");
mkdirSync(join(repoRoot, "bench-results"), { recursive: true });
const note = `Medians of ${runs} runs over ${rowCount} x ${dimension} seeded values in a slab, ${new Date().toISOString()}. "before": each float32 as its float64 expansion (Array.from); "after": the shortest decimal that reads back as the same float32 (gateway/library/float32.ts). Library = engine read + formatting; HTTP adds JSON.stringify.`;
writeFileSync(
  join(repoRoot, "bench-results", "float-format.md"),
  `# Float32 values as their shortest decimals\n\n${note}\n\n${table}\n`,
);
writeFileSync(
  join(repoRoot, "bench-results", "float-format.json"),
  `${JSON.stringify({ note, rows }, null, 2)}\n`,
);
