/**
 * Filtered ANN benchmark: recall@10 and queries per second per filter selectivity, Needle
 * (library `query` with a metadata filter, default settings) against the peers that filter
 * (scripts/peers.ts): hnswlib-node with the filter as its callback, swept over ef, and LanceDB
 * (IVF-PQ) with the filter as its prefilter, swept over nprobes; same data, same run.
 *
 *   bun scripts/bench-filtered.ts [--rows 150000] [--dim 256] [--metric cosine] [--queries 300]
 *     [--peers hnswlib,lancedb]
 *   (several minutes; writes bench-results/filtered-<set>.{json,md,svg})
 *
 * Steps:
 *   1. The data of bench-ann.ts (scripts/ann-data.ts); every row has a `bucket` 0..999 that
 *      does not follow the vectors, so `bucket < s x 1000` keeps a share s of the rows.
 *   2. Per selectivity: exact ground truth among the matching rows (flat kernel with a bitset).
 *   3. Needle: default settings (its strategy per slab: prefilter or probing until enough
 *      matching rows were seen). Each peer: every setting of its knob with the filter.
 *   4. Needle against each peer's cheapest setting reaching the same recall (or its best).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { benchSetup, groundTruth, loadNeedle, type Measured, measure } from "./ann-data.ts";
import { loadPeer, type PeerName } from "./peers.ts";
import { selectivityQpsSvg } from "./plot.ts";

const k = 10;
const selectivities = [0.5, 0.1, 0.02, 0.01, 0.001];

const runStarted = performance.now();
const setup = benchSetup(300);
const { name: setName, rows, dim, metric, seed, data } = setup;
const peers = (process.argv.includes("--peers") ? setup.peers : ["hnswlib", "lancedb"]) as PeerName[];
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

interface PeerPoint extends Measured {
  setting: string;
}
/** Per peer, per selectivity, every setting. */
const peerRuns: { system: string; points: PeerPoint[][] }[] = [];
for (const name of peers) {
  console.error(`building ${name}...`);
  const peer = await loadPeer(name, data, seed, k);
  try {
    if (!peer.filters) throw new Error(`${peer.system} takes no filter here`);
    const points = selectivities.map(() => [] as PeerPoint[]);
    for (const setting of peer.settings) {
      await setting.prepare?.();
      for (const [i, share] of selectivities.entries()) {
        const below = Math.round(share * 1000);
        const measured = await measure(data, truths[i]!, k, (q) => setting.search(q, below));
        points[i]!.push({ setting: setting.label, ...measured });
      }
    }
    peerRuns.push({ system: peer.system, points });
  } finally {
    await peer.close();
  }
}

const rowsOut = selectivities.map((share, i) => {
  const ours = needleRuns[i]!;
  const versus = peerRuns.map(({ system, points }) => {
    const theirs = points[i]!;
    const reaching = theirs.filter((point) => point.recall >= ours.recall);
    const match =
      reaching.length > 0
        ? reaching.reduce((a, b) => (a.qps >= b.qps ? a : b))
        : theirs.reduce((a, b) => (a.recall >= b.recall ? a : b));
    return { system, match, points: theirs, ratio: ours.qps / match.qps };
  });
  return { share, needle: ours, versus };
});

const cpu = cpus()[0]?.model ?? "unknown CPU";
const when = new Date().toISOString();
const pct = (share: number) => `${share * 100}%`;
const lines = [
  "# Filtered ANN: recall@10 and QPS per selectivity (one core)",
  "",
  `${rows} x ${dim} ${metric}, the data of bench-ann.ts; ${data.queries.length} queries (a third out of distribution); filter \`bucket < s x 1000\` (independent of the vectors).`,
  `${cpu}, ${process.platform}-${process.arch}, Bun ${Bun.version}, ${when}. Ground truth: exact flat scan of the matching rows.`,
  "Needle: library `query` with the filter, default settings. Peers: hnswlib-node 3.0.0 (M 16, efConstruction 200) with the filter as its callback; LanceDB 0.31.0 (IVF-PQ, refine 10) with the filter as its prefilter; each at its cheapest setting reaching Needle's recall, or its best recall.",
  "",
  "| selectivity | Needle recall | Needle QPS | peer | its setting | its recall | its QPS | Needle / peer |",
  "|---:|---:|---:|---|---|---:|---:|---:|",
  ...rowsOut.flatMap((r) =>
    r.versus.map(
      (v) =>
        `| ${pct(r.share)} | ${r.needle.recall.toFixed(3)} | ${r.needle.qps.toFixed(0)} | ${v.system} | ${v.match.setting} | ${v.match.recall.toFixed(3)} | ${v.match.qps.toFixed(0)} | ${v.ratio.toFixed(2)} |`,
    ),
  ),
  "",
  "Peers at every setting:",
  "",
  "| selectivity | peer | setting | recall@10 | QPS |",
  "|---:|---|---|---:|---:|",
  ...rowsOut.flatMap((r) =>
    r.versus.flatMap((v) =>
      v.points.map(
        (p) =>
          `| ${pct(r.share)} | ${v.system} | ${p.setting} | ${p.recall.toFixed(3)} | ${p.qps.toFixed(0)} |`,
      ),
    ),
  ),
  "",
  `Total run time ${((performance.now() - runStarted) / 1000).toFixed(0)} s. Rerun: \`bun scripts/bench-filtered.ts --rows ${rows} --dim ${dim} --metric ${metric}\`.`,
];
const text = lines.join("\n");
console.log(text);
const out = resolve(import.meta.dir, "..", "bench-results");
mkdirSync(out, { recursive: true });
const name = `filtered-${setName}`;
writeFileSync(join(out, `${name}.md`), `${text}\n`);
writeFileSync(
  join(out, `${name}.json`),
  `${JSON.stringify({ rows, dim, metric, seed, when, cpu, results: rowsOut }, null, 2)}\n`,
);
writeFileSync(join(out, `${name}.svg`), await filteredSvg(setName, rowsOut));

/** Needle's default and each peer's matched setting, QPS per selectivity. */
function filteredSvg(set: string, rows: typeof rowsOut): Promise<string> {
  const points = rows.flatMap((row) => [
    {
      system: "Needle (library, default)",
      selectivity: row.share,
      qps: row.needle.qps,
      recall: row.needle.recall,
    },
    ...row.versus.map((v) => ({
      system: `${v.system} (cheapest setting reaching Needle's recall)`,
      selectivity: row.share,
      qps: v.match.qps,
      recall: v.match.recall,
    })),
  ]);
  return selectivityQpsSvg(`filtered queries per second, ${set}`, points);
}
