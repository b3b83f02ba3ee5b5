/**
 * IVF build (ivf-build.ts): deterministic for a seed; the calibrated probes are the smallest
 * that reach the target on the calibration queries, which an independent recount confirms.
 */
import { expect, test } from "bun:test";
import { kernels } from "../../ffi/mod.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";
import type { Metric } from "../types.ts";
import { buildIvf, partitionCountFor, recallTarget } from "./ivf-build.ts";
import { partitionOfRows, rankPartitions } from "./ivf.ts";

const rows = 3_000;
const dim = 12;

function clustered(seed: number): Float32Array {
  const random = seededRandom(seed);
  const centers = Array.from({ length: 15 }, () =>
    Float32Array.from({ length: dim }, () => random() * 8 - 4),
  );
  const vectors = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const center = centers[Math.floor(random() * centers.length)]!;
    for (let d = 0; d < dim; d++) vectors[r * dim + d] = center[d]! + random() - 0.5;
  }
  return vectors;
}

for (const metric of ["cosine", "euclidean", "dotproduct"] as Metric[]) {
  test(`buildIvf is deterministic and its rows are a permutation in partition order (${metric})`, () => {
    const vectors = clustered(3);
    const first = buildIvf({ vectors, rows, dim, metric, seed: 9 });
    const second = buildIvf({ vectors, rows, dim, metric, seed: 9 });
    expect(second.index).toEqual(first.index);
    expect(second.order).toEqual(first.order);
    expect(first.index.partitionCount).toBeGreaterThanOrEqual(partitionCountFor(rows));
    expect([...first.order].sort((a, b) => a - b)).toEqual(Array.from({ length: rows }, (_, r) => r));
    const { probes, partitionCount, recallInDistribution, recallOutOfDistribution } = first.index;
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(probes).toBeLessThanOrEqual(partitionCount);
    if (probes < partitionCount) {
      expect(recallInDistribution).toBeGreaterThanOrEqual(recallTarget);
      expect(recallOutOfDistribution).toBeGreaterThanOrEqual(recallTarget);
    }
  });
}

test("probing the calibrated partitions finds most true neighbours of fresh queries; probing all finds every one", () => {
  const vectors = clustered(4);
  const metric: Metric = "euclidean";
  const { index, order } = buildIvf({ vectors, rows, dim, metric, seed: 2 });
  const ordered = new Float32Array(rows * dim);
  order.forEach((from, to) => {
    ordered.set(vectors.subarray(from * dim, (from + 1) * dim), to * dim);
  });
  const partitionOf = partitionOfRows(index.offsets);
  const random = seededRandom(77);
  let found = 0;
  let foundAll = 0;
  const queries = 100;
  for (let q = 0; q < queries; q++) {
    const base = Math.floor(random() * rows);
    const query = Float32Array.from(
      ordered.subarray(base * dim, (base + 1) * dim),
      (x) => x + (random() - 0.5) * 0.3,
    );
    const truth = kernels().scanTopK({ query, vectors: ordered, rows, dim, metric, k: 10 }).rows;
    const probed = new Set(rankPartitions(index, query, metric, index.probes));
    const all = new Set(rankPartitions(index, query, metric));
    for (const row of truth) {
      if (probed.has(partitionOf[row]!)) found++;
      if (all.has(partitionOf[row]!)) foundAll++;
    }
  }
  expect(foundAll).toBe(queries * 10);
  expect(found / (queries * 10)).toBeGreaterThanOrEqual(0.95);
});
