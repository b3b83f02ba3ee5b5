/**
 * What the ANN benchmarks share (bench-ann.ts, bench-filtered.ts): the seeded data set, the
 * exact ground truth, loading it into Needle through the library (and waiting for the index
 * build) and into hnswlib-node, and the recall/QPS measurement.
 *
 * Data: a Gaussian mixture with uneven cluster sizes (Zipf-like weights) and anisotropic
 * clusters (per-cluster, per-dimension spreads). Queries: in distribution, a row plus noise
 * (never a stored row); out of distribution (a share, default a third), isotropic Gaussians
 * around the origin: directions unrelated to the data, as a different embedding model would
 * give. Every row has `bucket` metadata (0..999, independent of the vectors) for filters.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import hnswlib from "hnswlib-node";
import { kernels } from "../ffi/mod.ts";
import { gaussian, seededRandom } from "../ffi/seeded-random.ts";
import { open } from "../gateway/library/mod.ts";
import type { Metric } from "../storage/types.ts";

export interface AnnData {
  rows: number;
  dim: number;
  metric: Metric;
  vectors: Float32Array;
  buckets: Uint16Array;
  queries: Float32Array[];
  /** Per query: drawn out of distribution. */
  outOfDistribution: boolean[];
}

export function annData(options: {
  rows: number;
  dim: number;
  metric: Metric;
  queries: number;
  outOfDistributionShare: number;
  seed: number;
}): AnnData {
  const { rows, dim, metric, seed } = options;
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
  const buckets = new Uint16Array(rows);
  for (let r = 0; r < rows; r++) {
    let pick = random() * total;
    let c = 0;
    while (pick > weights[c]! && c < clusters - 1) pick -= weights[c++]!;
    for (let d = 0; d < dim; d++) vectors[r * dim + d] = centers[c]![d]! + spreads[c]![d]! * gaussian(random);
    buckets[r] = Math.floor(random() * 1000);
  }
  const queries: Float32Array[] = [];
  const outOfDistribution: boolean[] = [];
  for (let q = 0; q < options.queries; q++) {
    const ood = random() < options.outOfDistributionShare;
    outOfDistribution.push(ood);
    if (ood) queries.push(Float32Array.from({ length: dim }, () => gaussian(random)));
    else {
      const base = Math.floor(random() * rows);
      queries.push(
        Float32Array.from({ length: dim }, (_, d) => vectors[base * dim + d]! + 0.15 * gaussian(random)),
      );
    }
  }
  return { rows, dim, metric, vectors, buckets, queries, outOfDistribution };
}

/** Exact top k of every query by the flat kernel, among rows whose bucket is below `bucketsBelow`. */
export function groundTruth(data: AnnData, k: number, bucketsBelow = 1000): Set<number>[] {
  const { rows, dim, metric, vectors } = data;
  let inverseNorms: Float32Array | undefined;
  if (metric === "cosine") {
    inverseNorms = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let squares = 0;
      for (let d = 0; d < dim; d++) squares += vectors[r * dim + d]! ** 2;
      inverseNorms[r] = 1 / Math.sqrt(squares);
    }
  }
  const bitset = new Uint8Array((rows + 7) >> 3);
  for (let r = 0; r < rows; r++) if (data.buckets[r]! < bucketsBelow) bitset[r >> 3]! |= 1 << (r & 7);
  return data.queries.map(
    (query) =>
      new Set(kernels().scanTopKBitset({ query, vectors, rows, dim, metric, inverseNorms, k }, bitset).rows),
  );
}

export interface Measured {
  recall: number;
  recallInDistribution: number;
  recallOutOfDistribution: number;
  qps: number;
}

/** Runs every query once, in turn, and scores the answers (row numbers) against the truth. */
export async function measure(
  data: AnnData,
  truth: Set<number>[],
  k: number,
  search: (query: number) => number[] | Promise<number[]>,
): Promise<Measured> {
  const answers: number[][] = [];
  const started = Bun.nanoseconds();
  for (let q = 0; q < data.queries.length; q++) answers.push(await search(q));
  const seconds = (Bun.nanoseconds() - started) / 1e9;
  const found = { all: 0, in: 0, out: 0 };
  const expected = { all: 0, in: 0, out: 0 };
  answers.forEach((answer, q) => {
    const hits = answer.filter((row) => truth[q]!.has(row)).length;
    const wanted = Math.min(k, truth[q]!.size);
    const set = data.outOfDistribution[q] ? "out" : "in";
    found.all += hits;
    found[set] += hits;
    expected.all += wanted;
    expected[set] += wanted;
  });
  const share = (a: number, b: number) => (b === 0 ? 1 : a / b);
  return {
    recall: share(found.all, expected.all),
    recallInDistribution: share(found.in, expected.in),
    recallOutOfDistribution: share(found.out, expected.out),
    qps: data.queries.length / seconds,
  };
}

/** Needle through the embedded library: durable ingest, then the wait for one indexed level. */
export async function loadNeedle(data: AnnData) {
  const dir = mkdtempSync(join(tmpdir(), "needle-bench-ann-"));
  const db = await open(dir, { flushIdleMs: 300, log: () => {} });
  await db.createIndex({ name: "ann", dimension: data.dim, metric: data.metric, waitUntilReady: true });
  const index = db.index("ann");
  const started = performance.now();
  for (let start = 0; start < data.rows; start += 1_000) {
    const records = [];
    for (let r = start; r < Math.min(data.rows, start + 1_000); r++) {
      records.push({
        id: String(r),
        values: Array.from(data.vectors.subarray(r * data.dim, (r + 1) * data.dim)),
        metadata: { bucket: data.buckets[r]! },
      });
    }
    await index.upsert({ records });
  }
  const ingestSeconds = (performance.now() - started) / 1000;
  let diskBytesPerVector = 0;
  // Built: compaction idle with nearly every row in indexed levels (a last small L0 slab may
  // stay: it is searched exactly, and merging it alone is not worth a rewrite).
  let quietSince: number | undefined;
  for (let waited = 0; ; waited++) {
    if (waited > 6_000) throw new Error("the compaction into an indexed level did not finish in 10 minutes");
    const compaction = await index.describeCompaction();
    const { levels } = compaction;
    const indexedRows = levels
      .filter((level) => level.level >= 1)
      .reduce((sum, level) => sum + level.liveRows, 0);
    const idle = compaction.running === null && compaction.queued === 0 && indexedRows >= 0.99 * data.rows;
    quietSince = idle ? (quietSince ?? performance.now()) : undefined;
    if (quietSince !== undefined && performance.now() - quietSince >= 1_000) {
      diskBytesPerVector = levels.reduce((sum, level) => sum + level.bytes, 0) / data.rows;
      break;
    }
    if (waited % 100 === 99) console.error(`waiting for the index build: ${JSON.stringify(compaction)}`);
    await Bun.sleep(100);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  // The client API takes plain arrays: converted before timing, as for the peer.
  const plain = data.queries.map((query) => Array.from(query));
  return {
    index,
    plain,
    ingestSeconds,
    buildSeconds,
    /** The indexed slab files' bytes per vector (vectors, int8 codes, ids, metadata, index). */
    diskBytesPerVector,
    async close() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** hnswlib-node 3.0.0: M 16, efConstruction 200, in memory. */
export function loadHnswlib(data: AnnData, seed: number) {
  const space = data.metric === "euclidean" ? "l2" : data.metric === "cosine" ? "cosine" : "ip";
  const index = new hnswlib.HierarchicalNSW(space, data.dim);
  const started = performance.now();
  index.initIndex(data.rows, 16, 200, seed);
  for (let r = 0; r < data.rows; r++) {
    index.addPoint(Array.from(data.vectors.subarray(r * data.dim, (r + 1) * data.dim)), r);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  const plain = data.queries.map((query) => Array.from(query));
  // Resident bytes per vector from hnswlib's level-0 element layout (float32 vector, 2 x M
  // links of 4 bytes, a link count and a label): a lower bound (upper levels and the label map
  // come on top). Measuring RSS here was meaningless: the freed arrays it was fed are reused.
  const memoryBytesPerVector = data.dim * 4 + 2 * 16 * 4 + 4 + 8;
  return { index, plain, buildSeconds, memoryBytesPerVector };
}

/** Where Debian's `dataset-fashion-mnist` puts its files (IDX, gzip). */
const fashionMnistDir = "/usr/share/datasets/fashion-mnist";

/** IDX images: a 16-byte big-endian header (2051, count, rows, cols), then uint8 pixels. */
function readIdxImages(file: string): { count: number; dim: number; pixels: Uint8Array } {
  const bytes = gunzipSync(readFileSync(file));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 2051) throw new Error(`${file} is not an IDX image file`);
  const count = view.getUint32(4);
  const dim = view.getUint32(8) * view.getUint32(12);
  return { count, dim, pixels: bytes.subarray(16, 16 + count * dim) };
}

/**
 * Fashion-MNIST (60,000 x 784, L2; the ann-benchmarks split): the train images are the rows,
 * the first `queries` test images the queries (none of them out of distribution). Buckets are
 * seeded and independent of the images, as in the synthetic set.
 */
export function fashionMnist(queries: number, seed: number): AnnData {
  const train = readIdxImages(join(fashionMnistDir, "train-images-idx3-ubyte.gz"));
  const test = readIdxImages(join(fashionMnistDir, "t10k-images-idx3-ubyte.gz"));
  const random = seededRandom(seed);
  const buckets = Uint16Array.from({ length: train.count }, () => Math.floor(random() * 1000));
  const asked = Math.min(queries, test.count);
  return {
    rows: train.count,
    dim: train.dim,
    metric: "euclidean",
    vectors: Float32Array.from(train.pixels),
    buckets,
    queries: Array.from({ length: asked }, (_, q) =>
      Float32Array.from(test.pixels.subarray(q * test.dim, (q + 1) * test.dim)),
    ),
    outOfDistribution: new Array(asked).fill(false),
  };
}

/**
 * The independent ground truth of `../shared/data/fashion-mnist/` (float64 brute force, not
 * this project's), first k ids per query, when that folder is there; undefined otherwise.
 */
export function sharedFashionMnistTruth(queries: number, k: number): Set<number>[] | undefined {
  const file = resolve(
    import.meta.dir,
    "..",
    "..",
    "shared",
    "data",
    "fashion-mnist",
    "gt_test10k_k100.ivecs",
  );
  if (!existsSync(file)) return undefined;
  const bytes = readFileSync(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const truth: Set<number>[] = [];
  for (let q = 0, at = 0; q < queries && at < bytes.length; q++) {
    const width = view.getInt32(at, true);
    const ids = new Set<number>();
    for (let i = 0; i < Math.min(k, width); i++) ids.add(view.getInt32(at + 4 + 4 * i, true));
    truth.push(ids);
    at += 4 + 4 * width;
  }
  return truth;
}

/**
 * The command line both benchmarks take (`--data synthetic|fashion-mnist`, and for synthetic
 * data `--rows`, `--dim`, `--metric`; `--queries`) and the data it names: synthetic data has a
 * third of its queries out of distribution.
 */
export function benchSetup(defaultQueries: number) {
  const { values: args } = parseArgs({
    options: {
      data: { type: "string", default: "synthetic" },
      rows: { type: "string", default: "150000" },
      dim: { type: "string", default: "256" },
      metric: { type: "string", default: "cosine" },
      queries: { type: "string", default: String(defaultQueries) },
      peers: { type: "string", default: "hnswlib,usearch,lancedb,pglite" },
    },
  });
  const seed = Number(process.env.NEEDLE_BENCH_SEED ?? 20_261_204);
  const queries = Number(args.queries);
  const peers = args.peers.split(",").filter((name) => name !== "");
  if (args.data === "fashion-mnist") {
    const data = fashionMnist(queries, seed);
    return { name: "fashion-mnist", rows: data.rows, dim: data.dim, metric: data.metric, seed, data, peers };
  }
  if (args.data !== "synthetic")
    throw new Error(`--data must be synthetic or fashion-mnist, not ${args.data}`);
  const rows = Number(args.rows);
  const dim = Number(args.dim);
  const metric = args.metric as Metric;
  const data = annData({ rows, dim, metric, queries, outOfDistributionShare: 1 / 3, seed });
  return { name: `${rows}x${dim}-${metric}`, rows, dim, metric, seed, data, peers };
}
