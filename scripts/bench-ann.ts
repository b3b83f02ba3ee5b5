/**
 * ANN benchmark: recall@10 against queries per second on one core, swept over each system's
 * search-effort knob, for Needle (through the embedded library's public `query`, after its
 * compaction built the IVF index) and its peers (scripts/peers.ts: hnswlib-node, usearch,
 * LanceDB, PGlite with pgvector) on the same data in the same run.
 *
 *   bun scripts/bench-ann.ts [--data synthetic|fashion-mnist] [--rows 150000] [--dim 256]
 *     [--metric cosine] [--queries 600] [--peers hnswlib,usearch,lancedb,pglite]
 *   (minutes to an hour with every peer; writes bench-results/ann-<set>.{json,md,svg})
 *
 * Steps:
 *   1. Data: seeded synthetic (scripts/ann-data.ts; a third of the queries out of
 *      distribution) or Fashion-MNIST (Debian's dataset-fashion-mnist, 60k x 784, L2).
 *   2. Ground truth: the exact top 10 of every query by the flat kernel over all rows; for
 *      Fashion-MNIST it is checked against the independent truth in ../shared/data when there.
 *   3. Needle: upsert in batches of 1,000, wait for the flush and the compaction into an
 *      indexed level (build time = durable ingest + indexing), then query at each effort.
 *   4. Each peer: build (timed), then query at each setting of its knob.
 *   5. The comparisons: Needle with default settings against hnswlib-node at the
 *      smallest ef reaching the same recall (its best when none does), overall and in
 *      distribution; and for recall 0.90, 0.95 and 0.99 Needle's best QPS over the best
 *      peer's at or above it.
 * Queries run one after another on the main thread (one core); timing includes each
 * library's own call overhead (Needle: its actor hops and result shaping).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import {
  benchSetup,
  groundTruth,
  loadNeedle,
  type Measured,
  measure,
  sharedFashionMnistTruth,
} from "./ann-data.ts";
import { type LoadedPeer, loadPeer, type PeerName, peerNames } from "./peers.ts";
import { recallQpsSvg } from "./plot.ts";

const k = 10;
const efforts = [0.25, 0.5, 0.75, 1, 2, 4];
const recallLevels = [0.9, 0.95, 0.99];
/** PGlite's WASM HNSW build takes tens of minutes beyond this; it is left out above it. */
const pgliteRowsMax = 150_000;

interface Point extends Measured {
  system: string;
  setting: string;
}

const runStarted = performance.now();
const { name: setName, rows, dim, metric, seed, data, peers: asked } = benchSetup(600);
const truth = groundTruth(data, k);
const notes: string[] = [];
if (setName === "fashion-mnist") {
  const shared = sharedFashionMnistTruth(data.queries.length, k);
  if (shared === undefined)
    notes.push("The independent ground truth (../shared/data/fashion-mnist) was not there.");
  else {
    let agree = 0;
    truth.forEach((ids, q) => {
      for (const id of ids) if (shared[q]!.has(id)) agree++;
    });
    notes.push(
      `Ground truth cross-checked with the independent one in ../shared/data/fashion-mnist: ${((100 * agree) / (k * truth.length)).toFixed(2)} % of the top-10 ids agree (ties can differ).`,
    );
  }
}

const needle = await loadNeedle(data);
const needlePoints: Point[] = [];
try {
  for (const vector of needle.plain) await needle.index.query({ vector, topK: k }); // warm-up
  for (const searchEffort of efforts) {
    const measured = await measure(data, truth, k, async (q) => {
      const result = await needle.index.query({ vector: needle.plain[q]!, topK: k, searchEffort });
      return result.matches.map((match) => Number(match.id));
    });
    needlePoints.push({ system: "Needle (library)", setting: `searchEffort ${searchEffort}`, ...measured });
  }
} finally {
  await needle.close();
}

interface PeerRun {
  system: string;
  buildSeconds: number;
  bytesPerVector: number;
  bytesNote: string;
  points: Point[];
}
const peerRuns: PeerRun[] = [];
for (const name of asked) {
  if (!peerNames.includes(name as PeerName))
    throw new Error(`unknown peer ${name}; known: ${peerNames.join(", ")}`);
  if (name === "pglite" && rows > pgliteRowsMax) {
    notes.push(
      `PGlite + pgvector left out: its WASM HNSW build above ${pgliteRowsMax} rows takes too long here.`,
    );
    continue;
  }
  console.error(`building ${name}...`);
  const peer: LoadedPeer = await loadPeer(name as PeerName, data, seed, k);
  const points: Point[] = [];
  try {
    for (const setting of peer.settings) {
      await setting.prepare?.();
      points.push({
        system: peer.system,
        setting: setting.label,
        ...(await measure(data, truth, k, setting.search)),
      });
    }
  } finally {
    await peer.close();
  }
  peerRuns.push({ ...peer, points });
}
const peerPoints = peerRuns.flatMap((run) => run.points);

type RecallKey = "recall" | "recallInDistribution";
const bestAt = (points: Point[], level: number, key: RecallKey) => {
  const reaching = points.filter((point) => point[key] >= level);
  return reaching.length === 0 ? null : reaching.reduce((a, b) => (a.qps >= b.qps ? a : b));
};

const byDefault = needlePoints.find((point) => point.setting === "searchEffort 1")!;
const hnswlib = peerRuns.find((run) => run.system.startsWith("hnswlib"));
/** hnswlib-node's cheapest point reaching `recall` by `key`, or its best-recall point. */
function hnswlibMatching(recall: number, key: RecallKey): Point {
  const points = hnswlib!.points;
  return bestAt(points, recall, key) ?? points.reduce((a, b) => (a[key] >= b[key] ? a : b));
}
const keys: RecallKey[] = data.outOfDistribution.some(Boolean)
  ? ["recall", "recallInDistribution"]
  : ["recall"];
const comparisons =
  hnswlib === undefined
    ? []
    : keys.map((key) => {
        const theirs = hnswlibMatching(byDefault[key], key);
        return {
          queries: key === "recall" ? "all" : "in distribution only",
          needleRecall: byDefault[key],
          needleQps: byDefault.qps,
          peerSetting: theirs.setting,
          peerRecall: theirs[key],
          peerQps: theirs.qps,
          ratio: byDefault.qps / theirs.qps,
        };
      });
const ratios = keys.flatMap((key) =>
  recallLevels.map((level) => {
    const ours = bestAt(needlePoints, level, key);
    const theirs = bestAt(peerPoints, level, key);
    return {
      queries: key === "recall" ? "all" : "in distribution",
      recall: level,
      needleQps: ours?.qps ?? null,
      bestPeer: theirs ? `${theirs.system}, ${theirs.setting}` : null,
      peerQps: theirs?.qps ?? null,
      ratio: ours && theirs ? ours.qps / theirs.qps : null,
    };
  }),
);

const cpu = cpus()[0]?.model ?? "unknown CPU";
const when = new Date().toISOString();
const fmt = (value: number | null, digits = 0) => (value === null ? "—" : value.toFixed(digits));
const points = [...needlePoints, ...peerPoints];
const described =
  setName === "fashion-mnist"
    ? `Fashion-MNIST, ${rows} x ${dim} euclidean (Debian's dataset-fashion-mnist); ${data.queries.length} of its test images as queries.`
    : `${rows} x ${dim} ${metric}, seeded Gaussian mixture (uneven, anisotropic clusters); ${data.queries.length} queries, ${data.outOfDistribution.filter(Boolean).length} of them out of distribution (isotropic Gaussians).`;
const lines = [
  `# ANN: recall@10 vs queries per second (one core), ${setName}`,
  "",
  described,
  `${cpu}, ${process.platform}-${process.arch}, Bun ${Bun.version}, ${when}. Ground truth: exact flat scan.`,
  ...notes,
  "",
  "| system | build s | bytes per vector | what the bytes are |",
  "|---|---:|---:|---|",
  `| Needle (library) | ${needle.buildSeconds.toFixed(1)} | ${needle.diskBytesPerVector.toFixed(0)} | on disk, durable: float32 + int8 codes + ids + metadata index + IVF (build = durable ingest ${needle.ingestSeconds.toFixed(1)} s, then flush and compaction) |`,
  ...peerRuns.map(
    (run) =>
      `| ${run.system} | ${run.buildSeconds.toFixed(1)} | ${run.bytesPerVector.toFixed(0)} | ${run.bytesNote} |`,
  ),
  "",
  "| system | setting | recall@10 | in distribution | out of distribution | QPS |",
  "|---|---|---:|---:|---:|---:|",
  ...points.map(
    (p) =>
      `| ${p.system} | ${p.setting} | ${p.recall.toFixed(3)} | ${p.recallInDistribution.toFixed(3)} | ${data.outOfDistribution.some(Boolean) ? p.recallOutOfDistribution.toFixed(3) : "—"} | ${p.qps.toFixed(0)} |`,
  ),
  "",
  "Best QPS at or above each recall, at any setting: Needle over the best peer.",
  "",
  "| queries | recall at least | Needle best QPS | best peer | its QPS | Needle / best peer |",
  "|---|---:|---:|---|---:|---:|",
  ...ratios.map(
    (r) =>
      `| ${r.queries} | ${r.recall} | ${fmt(r.needleQps)} | ${r.bestPeer ?? "none reaches it"} | ${fmt(r.peerQps)} | ${fmt(r.ratio, 2)} |`,
  ),
];
if (comparisons.length > 0) {
  lines.push(
    "",
    "Needle with default settings against hnswlib-node at its cheapest ef reaching the same recall (its best recall when none does):",
    "",
    "| queries | Needle recall | Needle QPS | hnswlib-node setting | its recall | its QPS | Needle / hnswlib-node |",
    "|---|---:|---:|---|---:|---:|---:|",
    ...comparisons.map(
      (c) =>
        `| ${c.queries} | ${c.needleRecall.toFixed(3)} | ${c.needleQps.toFixed(0)} | ${c.peerSetting} | ${c.peerRecall.toFixed(3)} | ${c.peerQps.toFixed(0)} | ${c.ratio.toFixed(2)} |`,
    ),
  );
}
const argsUsed =
  setName === "fashion-mnist" ? "--data fashion-mnist" : `--rows ${rows} --dim ${dim} --metric ${metric}`;
lines.push(
  "",
  `Total run time ${((performance.now() - runStarted) / 1000).toFixed(0)} s. Rerun: \`bun scripts/bench-ann.ts ${argsUsed} --queries ${data.queries.length}\`. Plot: \`ann-${setName}.svg\`.`,
);
const text = lines.join("\n");
console.log(text);
const out = resolve(import.meta.dir, "..", "bench-results");
mkdirSync(out, { recursive: true });
const name = `ann-${setName}`;
writeFileSync(join(out, `${name}.md`), `${text}\n`);
writeFileSync(
  join(out, `${name}.svg`),
  await recallQpsSvg(
    `recall@10 vs QPS, ${setName}`,
    points.map((p) => ({ system: p.system, recall: p.recall, qps: p.qps })),
  ),
);
writeFileSync(
  join(out, `${name}.json`),
  `${JSON.stringify(
    {
      set: setName,
      rows,
      dim,
      metric,
      queries: data.queries.length,
      seed,
      when,
      cpu,
      notes,
      build: {
        needle: { seconds: needle.buildSeconds, bytesPerVector: needle.diskBytesPerVector },
        peers: peerRuns.map(({ system, buildSeconds, bytesPerVector, bytesNote }) => ({
          system,
          buildSeconds,
          bytesPerVector,
          bytesNote,
        })),
      },
      points,
      comparisons,
      ratios,
    },
    null,
    2,
  )}\n`,
);
