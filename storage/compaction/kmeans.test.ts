/**
 * partition() on seeded clustered data (uneven, anisotropic Gaussian clusters) for each metric:
 * every row sits in the partition of its nearest centroid (checked by an independent float64
 * computation in the clustering space, the augmented one for dotproduct), the order lists each
 * row once partition by partition, no partition is far above the mean, and the same seed gives
 * the same partitions.
 */
import { describe, expect, test } from "bun:test";
import { metrics, type Metric } from "../../ffi/types.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { partition } from "./kmeans.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`kmeans.test.ts seed=${seed} (NEEDLE_TEST_SEED to replay)`);

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Rows from 12 clusters of very different sizes and shapes. */
function clustered(random: () => number, rows: number, dim: number): Float32Array {
  const clusters = 12;
  const weights = Array.from({ length: clusters }, (_, c) => 1 / (c + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const centres = Array.from({ length: clusters }, () =>
    Array.from({ length: dim }, () => gaussian(random) * 4),
  );
  const spreads = Array.from({ length: clusters }, () =>
    Array.from({ length: dim }, () => 0.2 + random() * 1.5),
  );
  const vectors = new Float32Array(rows * dim);
  for (let row = 0; row < rows; row++) {
    let pick = random() * total;
    let c = 0;
    while (pick > weights[c]! && c < clusters - 1) pick -= weights[c++]!;
    for (let d = 0; d < dim; d++)
      vectors[row * dim + d] = centres[c]![d]! + gaussian(random) * spreads[c]![d]!;
  }
  return vectors;
}

/** The row in the clustering space, computed here independently (float64). */
function spaceRow(
  vectors: Float32Array,
  row: number,
  dim: number,
  metric: Metric,
  largestSquares: number,
): number[] {
  const x = Array.from(vectors.subarray(row * dim, (row + 1) * dim));
  const squares = x.reduce((sum, v) => sum + v * v, 0);
  if (metric === "cosine") return x.map((v) => v / Math.sqrt(squares));
  if (metric === "dotproduct") return [...x, Math.sqrt(largestSquares - squares)];
  return x;
}

function closeness(x: number[], centroid: Float32Array, metric: Metric): number {
  let dot = 0;
  let l2 = 0;
  let norm = 0;
  x.forEach((v, d) => {
    dot += v * centroid[d]!;
    l2 += (v - centroid[d]!) ** 2;
    norm += centroid[d]! ** 2;
  });
  return metric === "cosine" ? dot / Math.sqrt(norm) : -l2;
}

describe("partition", () => {
  for (const metric of metrics) {
    test(`${metric}: nearest centroid, contiguous order, balanced, deterministic (seed ${seed})`, () => {
      const random = seededRandom(seed);
      const rows = 3_000;
      const dim = 12;
      const vectors = clustered(random, rows, dim);
      const partitions = Math.round(2 * Math.sqrt(rows));
      const result = partition({ vectors, rows, dim, metric, partitions, seed });
      const again = partition({ vectors, rows, dim, metric, partitions, seed });
      expect(again.assignment).toEqual(result.assignment);
      expect(again.centroids).toEqual(result.centroids);

      const { partitionCount: count, centroidDim, offsets, order, assignment } = result;
      expect(centroidDim).toBe(metric === "dotproduct" ? dim + 1 : dim);
      expect(count).toBeGreaterThanOrEqual(partitions);
      expect(offsets[0]).toBe(0);
      expect(offsets[count]).toBe(rows);
      const seen = new Uint8Array(rows);
      for (let p = 0; p < count; p++) {
        for (let i = offsets[p]!; i < offsets[p + 1]!; i++) {
          const row = order[i]!;
          expect(assignment[row]).toBe(p);
          seen[row]!++;
          if (i > offsets[p]!) expect(row).toBeGreaterThan(order[i - 1]!);
        }
      }
      expect(seen.every((times) => times === 1)).toBe(true);

      let largestSquares = 0;
      for (let row = 0; row < rows; row++) {
        let squares = 0;
        for (let d = 0; d < dim; d++) squares += vectors[row * dim + d]! ** 2;
        largestSquares = Math.max(largestSquares, squares);
      }
      const centroid = (p: number) => result.centroids.subarray(p * centroidDim, (p + 1) * centroidDim);
      for (let row = 0; row < rows; row++) {
        const x = spaceRow(vectors, row, dim, metric, largestSquares);
        let best = Number.NEGATIVE_INFINITY;
        for (let p = 0; p < count; p++) best = Math.max(best, closeness(x, centroid(p), metric));
        const mine = closeness(x, centroid(assignment[row]!), metric);
        if (mine < best - 1e-4 * (1 + Math.abs(best)))
          throw new Error(
            `seed ${seed} ${metric}: row ${row} not in its nearest partition (${mine} < ${best})`,
          );
      }

      let largest = 0;
      for (let p = 0; p < count; p++) largest = Math.max(largest, offsets[p + 1]! - offsets[p]!);
      expect(largest).toBeLessThanOrEqual(4 * (rows / count));
    });
  }
});

test("fewer rows than partitions: one partition per row at most", () => {
  const vectors = Float32Array.from({ length: 5 * 3 }, (_, i) => (i % 7) - 3);
  const result = partition({ vectors, rows: 5, dim: 3, metric: "euclidean", partitions: 20, seed: 1 });
  expect(result.partitionCount).toBeLessThanOrEqual(5);
  expect(result.offsets[result.partitionCount]).toBe(5);
});
