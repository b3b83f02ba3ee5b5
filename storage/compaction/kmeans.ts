/**
 * Partitioning a slab's rows for its IVF index (DESIGN.md decision 5): seeded k-means on a
 * sample, every row assigned to its nearest centroid, partitions far above the mean size split
 * by 2-means, and the rows ordered partition by partition (the slab writes them in that order
 * so a partition's vectors and codes are contiguous).
 *
 * Spaces: cosine clusters unit vectors (spherical k-means: centroids renormalised); euclidean
 * clusters the raw vectors; dotproduct clusters augmented vectors [x, sqrt(M^2 - |x|^2)] (M the
 * largest row norm). Every augmented row has norm M, and a query [q, 0] has q.x as its inner
 * product with [x, ...], so maximum inner product becomes nearest neighbour and partitions
 * mean something for MIPS too. `centroidDim` is dim + 1 then.
 *
 * Deterministic for a given seed and input (the kernels' assignments are deterministic: ties go
 * to the smaller centroid).
 */
import { kernels } from "../../ffi/mod.ts";
import type { Metric } from "../../ffi/types.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";

export interface KMeansInput {
  vectors: Float32Array;
  rows: number;
  dim: number;
  metric: Metric;
  partitions: number;
  seed: number;
  /** Lloyd rounds on the sample (default 10). */
  rounds?: number;
  /** Rows sampled per partition for training (default 64). */
  samplePerPartition?: number;
  /** A partition above this multiple of the mean size is split (default 3). */
  splitAbove?: number;
}

export interface Partitioning {
  /** `partitionCount x centroidDim` float32. */
  centroids: Float32Array;
  partitionCount: number;
  /** dim, or dim + 1 for dotproduct (augmented space). */
  centroidDim: number;
  /** The metric centroids are compared with in their space. */
  centroidMetric: Metric;
  /** Per row: its partition. */
  assignment: Uint32Array;
  /** Rows in partition order (ascending row within a partition). */
  order: Uint32Array;
  /** Partition p holds `order[offsets[p] .. offsets[p + 1])`. */
  offsets: Uint32Array;
}

/** The space rows are clustered in: a copy for cosine (unit rows) and dotproduct (augmented). */
export function clusteringSpace(vectors: Float32Array, rows: number, dim: number, metric: Metric) {
  if (metric === "euclidean") return { space: vectors, spaceDim: dim, spaceMetric: "euclidean" as Metric };
  if (metric === "cosine") {
    const space = new Float32Array(rows * dim);
    for (let row = 0; row < rows; row++) {
      let squares = 0;
      for (let i = 0; i < dim; i++) squares += vectors[row * dim + i]! ** 2;
      const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
      for (let i = 0; i < dim; i++) space[row * dim + i] = vectors[row * dim + i]! * scale;
    }
    return { space, spaceDim: dim, spaceMetric: "cosine" as Metric };
  }
  const spaceDim = dim + 1;
  const norms = new Float64Array(rows);
  let largest = 0;
  for (let row = 0; row < rows; row++) {
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += vectors[row * dim + i]! ** 2;
    norms[row] = squares;
    largest = Math.max(largest, squares);
  }
  const space = new Float32Array(rows * spaceDim);
  for (let row = 0; row < rows; row++) {
    space.set(vectors.subarray(row * dim, (row + 1) * dim), row * spaceDim);
    space[row * spaceDim + dim] = Math.sqrt(Math.max(0, largest - norms[row]!));
  }
  return { space, spaceDim, spaceMetric: "euclidean" as Metric };
}

export function partition(input: KMeansInput): Partitioning {
  const { rows, dim, metric } = input;
  const { space, spaceDim, spaceMetric } = clusteringSpace(input.vectors, rows, dim, metric);
  const random = seededRandom(input.seed);
  const wanted = Math.max(1, Math.min(input.partitions, rows));

  // Training sample: distinct rows, chosen by a partial Fisher-Yates shuffle.
  const sampleSize = Math.min(rows, wanted * (input.samplePerPartition ?? 64));
  const picks = Uint32Array.from({ length: rows }, (_, row) => row);
  for (let i = 0; i < sampleSize; i++) {
    const j = i + Math.floor(random() * (rows - i));
    const swap = picks[i]!;
    picks[i] = picks[j]!;
    picks[j] = swap;
  }
  const sample = new Float32Array(sampleSize * spaceDim);
  for (let i = 0; i < sampleSize; i++) sample.set(rowOf(space, picks[i]!, spaceDim), i * spaceDim);

  let centroids: Float32Array = new Float32Array(wanted * spaceDim);
  for (let c = 0; c < wanted; c++) centroids.set(rowOf(sample, c, spaceDim), c * spaceDim);
  const sampleAssignment = new Uint32Array(sampleSize);
  const sampleScores = new Float32Array(sampleSize);
  for (let round = 0; round < (input.rounds ?? 10); round++) {
    kernels().assignNearest(
      sample,
      sampleSize,
      centroids,
      wanted,
      spaceDim,
      spaceMetric,
      sampleAssignment,
      sampleScores,
    );
    centroids = means(
      sample,
      sampleSize,
      spaceDim,
      sampleAssignment,
      wanted,
      centroids,
      sampleScores,
      spaceMetric,
    );
  }

  let count = wanted;
  let assignment = new Uint32Array(rows);
  kernels().assignNearest(space, rows, centroids, count, spaceDim, spaceMetric, assignment);
  // Balance: split partitions far above the mean size with 2-means on their rows.
  const limit = Math.max(2, Math.ceil(((input.splitAbove ?? 3) * rows) / count));
  for (let pass = 0; pass < 4; pass++) {
    const sizes = sizesOf(assignment, count);
    const oversized = [...sizes.keys()].filter((p) => sizes[p]! > limit);
    if (oversized.length === 0) break;
    const grown = new Float32Array((count + oversized.length) * spaceDim);
    grown.set(centroids);
    oversized.forEach((p, i) => {
      const [a, b] = twoMeans(space, spaceDim, spaceMetric, assignment, p, random);
      grown.set(a, p * spaceDim);
      grown.set(b, (count + i) * spaceDim);
    });
    centroids = grown;
    count += oversized.length;
    assignment = new Uint32Array(rows);
    kernels().assignNearest(space, rows, centroids, count, spaceDim, spaceMetric, assignment);
  }

  const sizes = sizesOf(assignment, count);
  const offsets = new Uint32Array(count + 1);
  for (let p = 0; p < count; p++) offsets[p + 1] = offsets[p]! + sizes[p]!;
  const cursor = offsets.slice(0, count);
  const order = new Uint32Array(rows);
  for (let row = 0; row < rows; row++) order[cursor[assignment[row]!]!++] = row;
  return {
    centroids,
    partitionCount: count,
    centroidDim: spaceDim,
    centroidMetric: spaceMetric,
    assignment,
    order,
    offsets,
  };
}

function rowOf(vectors: Float32Array, row: number, dim: number): Float32Array {
  return vectors.subarray(row * dim, (row + 1) * dim);
}

function sizesOf(assignment: Uint32Array, count: number): Uint32Array {
  const sizes = new Uint32Array(count);
  for (const p of assignment) sizes[p]!++;
  return sizes;
}

/**
 * New centroids: the mean of each partition's rows (renormalised for cosine). An empty
 * partition takes the row that fits its own centroid worst, so no centroid is wasted.
 */
function means(
  vectors: Float32Array,
  count: number,
  dim: number,
  assignment: Uint32Array,
  partitions: number,
  previous: Float32Array,
  scores: Float32Array,
  metric: Metric,
): Float32Array {
  const sums = new Float64Array(partitions * dim);
  const sizes = new Uint32Array(partitions);
  for (let i = 0; i < count; i++) {
    const p = assignment[i]!;
    sizes[p]!++;
    for (let d = 0; d < dim; d++) sums[p * dim + d]! += vectors[i * dim + d]!;
  }
  const next = new Float32Array(partitions * dim);
  // Worst-fitting rows first (lowest similarity; for euclidean, largest distance).
  const worst = Uint32Array.from({ length: count }, (_, i) => i).sort((a, b) =>
    metric === "euclidean" ? scores[b]! - scores[a]! || a - b : scores[a]! - scores[b]! || a - b,
  );
  let donor = 0;
  for (let p = 0; p < partitions; p++) {
    if (sizes[p] === 0) {
      next.set(donor < count ? rowOf(vectors, worst[donor++]!, dim) : rowOf(previous, p, dim), p * dim);
      continue;
    }
    let squares = 0;
    for (let d = 0; d < dim; d++) {
      const mean = sums[p * dim + d]! / sizes[p]!;
      next[p * dim + d] = mean;
      squares += mean * mean;
    }
    if (metric === "cosine" && squares > 0) {
      const scale = 1 / Math.sqrt(squares);
      for (let d = 0; d < dim; d++) next[p * dim + d]! *= scale;
    }
  }
  return next;
}

/** Two centroids for the rows of partition `p` (a few rounds of 2-means from two of its rows). */
function twoMeans(
  space: Float32Array,
  dim: number,
  metric: Metric,
  assignment: Uint32Array,
  p: number,
  random: () => number,
): [Float32Array, Float32Array] {
  const members: number[] = [];
  for (let row = 0; row < assignment.length; row++) if (assignment[row] === p) members.push(row);
  const vectors = new Float32Array(members.length * dim);
  members.forEach((row, i) => {
    vectors.set(rowOf(space, row, dim), i * dim);
  });
  const first = Math.floor(random() * members.length);
  let second = Math.floor(random() * (members.length - 1));
  if (second >= first) second++;
  let centroids: Float32Array = new Float32Array(2 * dim);
  centroids.set(rowOf(vectors, first, dim), 0);
  centroids.set(rowOf(vectors, second, dim), dim);
  const local = new Uint32Array(members.length);
  const scores = new Float32Array(members.length);
  for (let round = 0; round < 6; round++) {
    kernels().assignNearest(vectors, members.length, centroids, 2, dim, metric, local, scores);
    centroids = means(vectors, members.length, dim, local, 2, centroids, scores, metric);
  }
  return [centroids.slice(0, dim), centroids.slice(dim)];
}
