/**
 * Building a slab's IVF index (DESIGN.md decisions 4, 5 and 7): partition the rows with
 * k-means (kmeans.ts), order them partition by partition, and calibrate how many partitions a
 * query must probe so that recall@10 reaches `recallTarget` on held-out queries, both in
 * distribution and out of it. Deterministic for a given seed and input.
 *
 * Calibration queries (none of them a stored row):
 *   - in distribution: midpoints of a random row and a random row of its partition;
 *   - out of distribution: midpoints of two random rows of any partitions, Gaussians with the
 *     rows' per-dimension mean and spread, points drawn uniformly from the rows' bounding box,
 *     and isotropic Gaussians around the origin (directions unrelated to the data, as from
 *     another embedding model): their neighbours spread over many partitions.
 * Ground truth is the exact top 10 by the flat kernel. A true neighbour is found at `probes`
 * = p exactly when its partition ranks among the query's first p, so one ranking per query
 * gives the recall of every p at once; the smallest p reaching the target on both sets wins.
 */
import { kernels } from "../../ffi/mod.ts";
import { gaussian, seededRandom } from "../../ffi/seeded-random.ts";
import type { IvfIndex } from "../slab/vector-index.ts";
import type { Metric } from "../types.ts";
import { int8Code, int8Scale, inverseNorm } from "../slab/encode.ts";
import { int8Candidates, partitionOfRows, type QuantizedRows, rankPartitions } from "./ivf.ts";
import { partition } from "./kmeans.ts";

/**
 * Recall@10 the calibration aims for: a margin over the 0.95 promised by default, wide enough
 * for the sampling error of 200 + 200 calibration queries (measured: 0.97 left some held-out
 * sets at 0.94).
 */
export const recallTarget = 0.98;
export const calibrationQueriesInDistribution = 200;
export const calibrationQueriesOutOfDistribution = 200;
/**
 * Int8 candidates per result tried, cheapest first (DESIGN.md decision 24): the first whose
 * rescored recall is within `rescoreRecallLossMax` of scoring every probed row in float32
 * wins; when none is, the slab scores probed rows in float32 (factor 0).
 */
export const rescoreFactors = [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64] as const;
export const rescoreRecallLossMax = 0.0025;
const calibrationK = 10;
/** Partitions per slab at most: the centroid ranking is one top-k scan (k <= 10,000). */
export const ivfPartitionsMax = 10_000;

export interface IvfBuildInput {
  vectors: Float32Array;
  rows: number;
  dim: number;
  metric: Metric;
  seed: number;
}

export interface IvfBuild {
  index: IvfIndex;
  /** The rows in partition order: output row i is input row `order[i]`. */
  order: Uint32Array;
}

/** P = round(2 sqrt(rows)): about 190 rows per partition at 150k rows. */
export function partitionCountFor(rows: number): number {
  return Math.max(1, Math.min(ivfPartitionsMax, rows, Math.round(2 * Math.sqrt(rows))));
}

export function buildIvf(input: IvfBuildInput): IvfBuild {
  const { vectors, rows, dim, metric, seed } = input;
  const parts = partition({ vectors, rows, dim, metric, partitions: partitionCountFor(rows), seed });
  const ordered = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const row = parts.order[i]!;
    ordered.set(vectors.subarray(row * dim, (row + 1) * dim), i * dim);
  }
  const uncalibrated: IvfIndex = {
    partitionCount: parts.partitionCount,
    centroidDim: parts.centroidDim,
    centroidMetric: parts.centroidMetric,
    probes: parts.partitionCount,
    seed,
    recallInDistribution: 1,
    recallOutOfDistribution: 1,
    rescoreFactor: 0,
    centroids: parts.centroids,
    offsets: parts.offsets,
  };
  const calibration = calibrate(uncalibrated, ordered, rows, dim, metric, seed);
  return { index: { ...uncalibrated, ...calibration }, order: parts.order };
}

/** The cheapest `probes` reaching the target on both query sets, with the recalls it gets. */
export function calibrate(
  index: IvfIndex,
  vectors: Float32Array,
  rows: number,
  dim: number,
  metric: Metric,
  seed: number,
): Pick<IvfIndex, "probes" | "recallInDistribution" | "recallOutOfDistribution" | "rescoreFactor"> {
  const random = seededRandom((seed ^ 0x5bd1e995) >>> 0);
  const partitionOf = partitionOfRows(index.offsets);
  const inverseNorms = metric === "cosine" ? rowInverseNorms(vectors, rows, dim) : undefined;
  const row = (r: number) => vectors.subarray(r * dim, (r + 1) * dim);
  const midpoint = (a: number, b: number) => {
    const q = new Float32Array(dim);
    const x = row(a);
    const y = row(b);
    for (let i = 0; i < dim; i++) q[i] = (x[i]! + y[i]!) / 2;
    return q;
  };
  const pick = (below: number) => Math.floor(random() * below);

  const inDistribution: Float32Array[] = [];
  for (let i = 0; i < calibrationQueriesInDistribution; i++) {
    const a = pick(rows);
    const p = partitionOf[a]!;
    const start = index.offsets[p]!;
    inDistribution.push(midpoint(a, start + pick(index.offsets[p + 1]! - start)));
  }
  const outOfDistribution: Float32Array[] = [];
  const { mean, spread, low, high } = dimensionStats(vectors, rows, dim, random);
  const typicalSpread = Math.sqrt(spread.reduce((sum, s) => sum + s * s, 0) / Math.max(1, dim)) || 1;
  for (let i = 0; i < calibrationQueriesOutOfDistribution; i++) {
    const kind = i % 4;
    if (kind === 0) outOfDistribution.push(midpoint(pick(rows), pick(rows)));
    else if (kind === 1)
      outOfDistribution.push(
        Float32Array.from({ length: dim }, (_, d) => mean[d]! + spread[d]! * gaussian(random)),
      );
    else if (kind === 2)
      outOfDistribution.push(
        Float32Array.from({ length: dim }, (_, d) => low[d]! + (high[d]! - low[d]!) * random()),
      );
    else outOfDistribution.push(Float32Array.from({ length: dim }, () => typicalSpread * gaussian(random)));
  }

  const k = Math.min(calibrationK, rows);
  /** Per query: its exact top k and the partitions ranked for it. */
  const examine = (query: Float32Array) => ({
    query,
    truth: kernels().scanTopK({ query, vectors, rows, dim, metric, inverseNorms, k }).rows,
    order: rankPartitions(index, query, metric),
  });
  const inSet = inDistribution.map(examine);
  const outSet = outOfDistribution.map(examine);
  /** found[p]: true neighbours (summed over the queries) found by probing p partitions. */
  const foundCurve = (queries: ReturnType<typeof examine>[]): Float64Array => {
    const hits = new Float64Array(index.partitionCount + 1);
    for (const { truth, order } of queries) {
      const rankOf = new Uint32Array(index.partitionCount);
      order.forEach((p, rank) => {
        rankOf[p] = rank;
      });
      for (const neighbour of truth) hits[rankOf[partitionOf[neighbour]!]! + 1]!++;
    }
    const total = queries.length * k;
    const curve = new Float64Array(index.partitionCount + 1);
    let found = 0;
    for (let p = 1; p <= index.partitionCount; p++) {
      found += hits[p]!;
      curve[p] = found / total;
    }
    return curve;
  };
  const inCurve = foundCurve(inSet);
  const outCurve = foundCurve(outSet);
  let probes = index.partitionCount;
  for (let p = 1; p <= index.partitionCount; p++) {
    if (inCurve[p]! >= recallTarget && outCurve[p]! >= recallTarget) {
      probes = p;
      break;
    }
  }
  const quantized = quantize(vectors, rows, dim);
  /** Recall at `probes` when only the best k x factor probed rows by int8 are rescored. */
  const rescoredRecall = (queries: ReturnType<typeof examine>[], factor: number): number => {
    let found = 0;
    for (const { query, truth, order } of queries) {
      const probed = probedRows(index.offsets, order, probes);
      const candidates = new Set(int8Candidates(quantized, query, metric, probed, k * factor));
      for (const neighbour of truth) if (candidates.has(neighbour)) found++;
    }
    return found / (queries.length * k);
  };
  let rescoreFactor = 0;
  for (const factor of rescoreFactors) {
    if (
      rescoredRecall(inSet, factor) >= inCurve[probes]! - rescoreRecallLossMax &&
      rescoredRecall(outSet, factor) >= outCurve[probes]! - rescoreRecallLossMax
    ) {
      rescoreFactor = factor;
      break;
    }
  }
  return {
    probes,
    recallInDistribution: inCurve[probes]!,
    recallOutOfDistribution: outCurve[probes]!,
    rescoreFactor,
  };
}

/** The rows of the first `probes` partitions of `order`, ascending. */
function probedRows(offsets: Uint32Array, order: Uint32Array, probes: number): Uint32Array {
  const chosen = Array.from(order.subarray(0, probes)).sort((a, b) => offsets[a]! - offsets[b]!);
  let count = 0;
  for (const p of chosen) count += offsets[p + 1]! - offsets[p]!;
  const rows = new Uint32Array(count);
  let at = 0;
  for (const p of chosen) for (let row = offsets[p]!; row < offsets[p + 1]!; row++) rows[at++] = row;
  return rows;
}

/** The rows' int8 codes as the slab stores them (encode.ts), for calibrating the int8 stage. */
function quantize(vectors: Float32Array, rows: number, dim: number): QuantizedRows {
  const codes = new Int8Array(rows * dim);
  const scales = new Float32Array(rows);
  const inverseNorms = new Float32Array(rows);
  for (let row = 0; row < rows; row++) {
    const values = vectors.subarray(row * dim, (row + 1) * dim);
    const scale = int8Scale(values);
    scales[row] = scale;
    inverseNorms[row] = inverseNorm(values);
    for (let i = 0; i < dim; i++) codes[row * dim + i] = int8Code(values[i]!, scale);
  }
  return { rows, dim, codes, scales, inverseNorms };
}

function rowInverseNorms(vectors: Float32Array, rows: number, dim: number): Float32Array {
  const norms = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += vectors[r * dim + i]! ** 2;
    norms[r] = squares > 0 ? 1 / Math.sqrt(squares) : 0;
  }
  return norms;
}

/** Per-dimension mean, standard deviation and range over up to 10,000 sampled rows. */
function dimensionStats(vectors: Float32Array, rows: number, dim: number, random: () => number) {
  const samples = Math.min(rows, 10_000);
  const sum = new Float64Array(dim);
  const squares = new Float64Array(dim);
  const low = new Float64Array(dim).fill(Number.POSITIVE_INFINITY);
  const high = new Float64Array(dim).fill(Number.NEGATIVE_INFINITY);
  for (let s = 0; s < samples; s++) {
    const r = samples === rows ? s : Math.floor(random() * rows);
    for (let i = 0; i < dim; i++) {
      const x = vectors[r * dim + i]!;
      sum[i]! += x;
      squares[i]! += x * x;
      if (x < low[i]!) low[i] = x;
      if (x > high[i]!) high[i] = x;
    }
  }
  const mean = Float64Array.from(sum, (total) => total / samples);
  const spread = Float64Array.from(squares, (total, i) =>
    Math.sqrt(Math.max(0, total / samples - mean[i]! ** 2)),
  );
  return { mean, spread, low, high };
}
