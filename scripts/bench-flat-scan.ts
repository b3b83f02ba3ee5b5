/**
 * Flat-scan benchmark: how close the float32 top-k scan comes to the machine's single-core
 * memory bandwidth, measured against a memcpy of the same number of bytes in the same run.
 *
 *   bun scripts/bench-flat-scan.ts            (about a minute; writes bench-results/flat-scan.{json,md})
 *
 * Steps, for each dataset (1M x 128 and 200k x 768 float32, seeded uniform data: throughput
 * does not depend on the values):
 *   1. Build the vectors, inverse norms, a query and a bitset selecting 10% of rows.
 *   2. Measure memcpy (`Uint8Array.prototype.set` of the vectors' bytes), best of several runs.
 *   3. For each kernel path (every C path this machine has, then the TypeScript twin) and each
 *      filter (none, 10% bitset), time a cosine top-10 scan, best of several runs.
 *   4. Ratio = (bytes of the rows scored / scan time) / (bytes copied / memcpy time).
 * Absolute times on a shared machine mean little; the ratio is the result (goal >= 0.8).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { availableKernels, computeInverseNorms, type Kernels, type ScanInput } from "../ffi/mod.ts";
import { seededRandom } from "../ffi/seeded-random.ts";

const seed = Number(process.env.NEEDLE_BENCH_SEED ?? 20_261_130);
const topK = 10;
const filterDensity = 0.1;
const memcpyRuns = 5;
const nativeRuns = 5;
const typescriptRuns = 1;
const datasets = [
  { name: "1M x 128", rows: 1_000_000, dim: 128 },
  { name: "200k x 768", rows: 200_000, dim: 768 },
];

interface Row {
  dataset: string;
  rows: number;
  dim: number;
  kernels: string;
  filter: string;
  metric: string;
  rowsScored: number;
  bytesScored: number;
  bestSeconds: number;
  gigabytesPerSecond: number;
  memcpyGigabytesPerSecond: number;
  ratioToMemcpy: number;
}

/** Uniform values in [-1, 1) from the shared seeded generator. */
function fillSeeded(target: Float32Array, seedValue: number): void {
  const random = seededRandom(seedValue);
  for (let i = 0; i < target.length; i++) target[i] = random() * 2 - 1;
}

function bestSeconds(runs: number, work: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < runs; run++) {
    const started = Bun.nanoseconds();
    work();
    best = Math.min(best, (Bun.nanoseconds() - started) / 1e9);
  }
  return best;
}

function main(): void {
  const results: Row[] = [];
  const implementations: Kernels[] = availableKernels();
  const started = performance.now();
  console.log(`flat-scan benchmark, seed ${seed}, kernels: ${implementations.map((k) => k.name).join(", ")}`);
  for (const dataset of datasets) {
    const { rows, dim } = dataset;
    const vectors = new Float32Array(rows * dim);
    fillSeeded(vectors, seed + dim);
    const inverseNorms = new Float32Array(rows);
    computeInverseNorms(vectors, rows, dim, inverseNorms);
    const query = new Float32Array(dim);
    fillSeeded(query, seed + 1);
    const bitset = new Uint8Array(Math.ceil(rows / 8));
    let filteredRows = 0;
    const random = seededRandom(seed);
    for (let row = 0; row < rows; row++) {
      if (random() < filterDensity) {
        bitset[row >> 3]! |= 1 << (row & 7);
        filteredRows++;
      }
    }

    const source = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
    const destination = new Uint8Array(vectors.byteLength);
    destination.set(source); // touch every page once so the timed copies do not page-fault
    const memcpySeconds = bestSeconds(memcpyRuns, () => destination.set(source));
    const memcpyGigabytesPerSecond = vectors.byteLength / memcpySeconds / 1e9;

    const input: ScanInput = { query, vectors, rows, dim, metric: "cosine", inverseNorms, k: topK };
    for (const kernels of implementations) {
      const runs = kernels.name === "typescript" ? typescriptRuns : nativeRuns;
      for (const filter of ["none", "bitset 10%"]) {
        const scan =
          filter === "none" ? () => kernels.scanTopK(input) : () => kernels.scanTopKBitset(input, bitset);
        if (runs > 1) scan(); // warm-up
        const seconds = bestSeconds(runs, scan);
        const rowsScored = filter === "none" ? rows : filteredRows;
        const bytesScored = rowsScored * dim * 4;
        const gigabytesPerSecond = bytesScored / seconds / 1e9;
        const row: Row = {
          dataset: dataset.name,
          rows,
          dim,
          kernels: kernels.name,
          filter,
          metric: "cosine",
          rowsScored,
          bytesScored,
          bestSeconds: seconds,
          gigabytesPerSecond,
          memcpyGigabytesPerSecond,
          ratioToMemcpy: gigabytesPerSecond / memcpyGigabytesPerSecond,
        };
        results.push(row);
        console.log(
          `${row.dataset.padEnd(11)} ${row.kernels.padEnd(11)} ${row.filter.padEnd(11)} ` +
            `${(seconds * 1000).toFixed(1).padStart(8)} ms ${gigabytesPerSecond.toFixed(2).padStart(6)} GB/s ` +
            `memcpy ${memcpyGigabytesPerSecond.toFixed(2)} GB/s ratio ${row.ratioToMemcpy.toFixed(2)}`,
        );
      }
    }
  }
  const totalSeconds = (performance.now() - started) / 1000;
  writeResults(results, totalSeconds);
}

function writeResults(results: Row[], totalSeconds: number): void {
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    logicalCores: cpus().length,
    bun: Bun.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
  const outDir = resolve(import.meta.dir, "..", "bench-results");
  mkdirSync(outDir, { recursive: true });
  const json = { benchmark: "flat-scan", seed, topK, filterDensity, machine, totalSeconds, results };
  writeFileSync(join(outDir, "flat-scan.json"), `${JSON.stringify(json, null, 2)}\n`);
  const lines = [
    "# Flat scan vs memcpy",
    "",
    `One core, cosine top-${topK}, float32, seeded data. ${machine.cpu}, ${machine.platform}, Bun ${machine.bun}, ${machine.date}.`,
    "Ratio = bytes of the rows scored per second / bytes copied per second by a memcpy",
    "(`Uint8Array.prototype.set`) of the same data in the same run, best of several runs each.",
    "A memcpy reads and writes every byte while a scan only reads, so a ratio above 1 is possible.",
    "The 10% bitset rows are scattered, so the scan touches them out of the prefetcher's stride.",
    `Kernels measured: every path this CPU supports (${[...new Set(results.map((row) => row.kernels))].join(", ")}).`,
    "",
    "| dataset | kernels | filter | rows scored | best ms | GB/s scored | memcpy GB/s | ratio |",
    "|---|---|---|---:|---:|---:|---:|---:|",
    ...results.map(
      (row) =>
        `| ${row.dataset} | ${row.kernels} | ${row.filter} | ${row.rowsScored} | ${(row.bestSeconds * 1000).toFixed(1)} | ` +
        `${row.gigabytesPerSecond.toFixed(2)} | ${row.memcpyGigabytesPerSecond.toFixed(2)} | ${row.ratioToMemcpy.toFixed(2)} |`,
    ),
    "",
    `Total run time ${totalSeconds.toFixed(0)} s. Rerun: \`bun scripts/bench-flat-scan.ts\`.`,
    "",
  ];
  writeFileSync(join(outDir, "flat-scan.md"), lines.join("\n"));
  console.log(`wrote ${join(outDir, "flat-scan.json")} and flat-scan.md (${totalSeconds.toFixed(0)} s)`);
}

main();
