/**
 * Filtered ANN benchmark: recall@10 and queries per second per filter selectivity, Needle
 * (library `query` with a metadata filter, default settings) against hnswlib-node with the
 * same filter as its filter callback, swept over ef, on the same data in the same run.
 *
 *   bun scripts/bench-filtered.ts [--rows 150000] [--dim 256] [--metric cosine] [--queries 300]
 *   (a few minutes; writes bench-results/filtered-<rows>x<dim>-<metric>.{json,md})
 *
 * Steps:
 *   1. The data of bench-ann.ts (scripts/ann-data.ts); every row has a `bucket` 0..999 that
 *      does not follow the vectors, so `bucket < s x 1000` keeps a share s of the rows.
 *   2. Per selectivity: exact ground truth among the matching rows (flat kernel with a bitset).
 *   3. Needle: default settings (its strategy per slab: prefilter or probing until enough
 *      matching rows were seen). hnswlib-node: each ef with the callback.
 *   4. Needle against hnswlib-node's cheapest ef reaching the same recall (or its best).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { benchSetup, groundTruth, loadHnswlib, loadNeedle, type Measured, measure } from "./ann-data.ts";

const k = 10;
const selectivities = [0.5, 0.1, 0.02, 0.01, 0.001];
const efs = [10, 40, 160, 640];

const runStarted = performance.now();
const { rows, dim, metric, seed, data } = benchSetup(300);
const truths = selectivities.map((share) => groundTruth(data, k, Math.round(share * 1000)));

const needle = await loadNeedle(data);
const needleRuns: Measured[] = [];
try {
  for (const vector of needle.plain) await needle.index.query({ vector, topK: k }); // warm-up
  for (const [i, share] of selectivities.entries()) {
    // The library takes the filter as the client does: a plain object.
    const raw = { bucket: { $lt: Math.round(share * 1000) } };
    needleRuns.push(
      await measure(data, truths[i]!, k, async (q) => {
        const result = await needle.index.query({ vector: needle.plain[q]!, topK: k, filter: raw });
        return result.matches.map((match) => Number(match.id));
      }),
    );
  }
} finally {
  await needle.close();
}

const peer = loadHnswlib(data, seed);
const peerMeasured: (Measured & { ef: number })[][] = [];
for (const [i, share] of selectivities.entries()) {
  const below = Math.round(share * 1000);
  const points: (Measured & { ef: number })[] = [];
  for (const ef of efs) {
    peer.index.setEf(ef);
    const measured = await measure(
      data,
      truths[i]!,
      k,
      (q) => peer.index.searchKnn(peer.plain[q]!, k, (label) => data.buckets[label]! < below).neighbors,
    );
    points.push({ ef, ...measured });
  }
  peerMeasured.push(points);
}

const rowsOut = selectivities.map((share, i) => {
  const ours = needleRuns[i]!;
  const theirs = peerMeasured[i]!;
  const reaching = theirs.filter((point) => point.recall >= ours.recall);
  const match =
    reaching.length > 0
      ? reaching.reduce((a, b) => (a.qps >= b.qps ? a : b))
      : theirs.reduce((a, b) => (a.recall >= b.recall ? a : b));
  return { share, needle: ours, peer: match, peerPoints: theirs, ratio: ours.qps / match.qps };
});

const cpu = cpus()[0]?.model ?? "unknown CPU";
const when = new Date().toISOString();
const pct = (share: number) => `${share * 100}%`;
const lines = [
  "# Filtered ANN: recall@10 and QPS per selectivity (one core)",
  "",
  `${rows} x ${dim} ${metric}, the data of bench-ann.ts; ${data.queries.length} queries (a third out of distribution); filter \`bucket < s x 1000\` (independent of the vectors).`,
  `${cpu}, ${process.platform}-${process.arch}, Bun ${Bun.version}, ${when}. Ground truth: exact flat scan of the matching rows.`,
  "Needle: library `query` with the filter, default settings. hnswlib-node 3.0.0 (M 16, efConstruction 200): the same filter as its callback; its cheapest ef reaching Needle's recall, or its best recall.",
  "",
  "| selectivity | Needle recall | Needle QPS | hnswlib-node ef | its recall | its QPS | Needle / hnswlib-node |",
  "|---:|---:|---:|---:|---:|---:|---:|",
  ...rowsOut.map(
    (r) =>
      `| ${pct(r.share)} | ${r.needle.recall.toFixed(3)} | ${r.needle.qps.toFixed(0)} | ${r.peer.ef} | ${r.peer.recall.toFixed(3)} | ${r.peer.qps.toFixed(0)} | ${r.ratio.toFixed(2)} |`,
  ),
  "",
  "hnswlib-node at every ef:",
  "",
  "| selectivity | ef | recall@10 | QPS |",
  "|---:|---:|---:|---:|",
  ...rowsOut.flatMap((r) =>
    r.peerPoints.map((p) => `| ${pct(r.share)} | ${p.ef} | ${p.recall.toFixed(3)} | ${p.qps.toFixed(0)} |`),
  ),
  "",
  `Total run time ${((performance.now() - runStarted) / 1000).toFixed(0)} s. Rerun: \`bun scripts/bench-filtered.ts --rows ${rows} --dim ${dim} --metric ${metric}\`.`,
];
const text = lines.join("\n");
console.log(text);
const out = resolve(import.meta.dir, "..", "bench-results");
mkdirSync(out, { recursive: true });
const name = `filtered-${rows}x${dim}-${metric}`;
writeFileSync(join(out, `${name}.md`), `${text}\n`);
writeFileSync(
  join(out, `${name}.json`),
  `${JSON.stringify({ rows, dim, metric, seed, when, cpu, results: rowsOut }, null, 2)}\n`,
);
