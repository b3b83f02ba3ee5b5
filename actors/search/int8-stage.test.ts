/**
 * The int8 stage of an IVF search (ivf-search.ts `int8Stage`): which rows are rescored
 * exactly. Checked against an independent float64 computation of the same int8 estimate,
 * and against the exact scores: the candidates hold the exact best rows when the estimate's
 * error is small next to the gaps between scores.
 */
import { describe, expect, test } from "bun:test";
import { metrics } from "../../ffi/mod.ts";
import { gaussian, seededRandom } from "../../ffi/seeded-random.ts";
import type { QuantizedRows } from "../../storage/compaction/ivf.ts";
import { int8Code, int8Scale, inverseNorm } from "../../storage/slab/encode.ts";
import type { IvfIndex } from "../../storage/slab/mod.ts";
import type { Metric } from "../../storage/types.ts";
import { int8Stage } from "./ivf-search.ts";

const dim = 32;
const rows = 600;

function dataset(seed: number) {
  const random = seededRandom(seed);
  const vectors = Float32Array.from({ length: rows * dim }, () => gaussian(random));
  const codes = new Int8Array(rows * dim);
  const scales = new Float32Array(rows);
  const inverseNorms = new Float32Array(rows);
  for (let row = 0; row < rows; row++) {
    const values = vectors.subarray(row * dim, (row + 1) * dim);
    scales[row] = int8Scale(values);
    inverseNorms[row] = inverseNorm(values);
    for (let i = 0; i < dim; i++) codes[row * dim + i] = int8Code(values[i]!, scales[row]!);
  }
  const quantized: QuantizedRows = { rows, dim, codes, scales, inverseNorms };
  const query = Float32Array.from({ length: dim }, () => gaussian(random));
  return { random, vectors, quantized, query };
}

function index(rescoreFactor: number): IvfIndex {
  return {
    partitionCount: 1,
    centroidDim: dim,
    centroidMetric: "euclidean",
    probes: 1,
    seed: 1,
    recallInDistribution: 1,
    recallOutOfDistribution: 1,
    rescoreFactor,
    centroids: new Float32Array(dim),
    offsets: new Uint32Array([0, rows]),
  };
}

/** Higher is better, in float64. */
function exactKey(vectors: Float32Array, query: Float32Array, row: number, metric: Metric): number {
  let dot = 0;
  let rowSquares = 0;
  let querySquares = 0;
  for (let i = 0; i < dim; i++) {
    const x = vectors[row * dim + i]!;
    dot += x * query[i]!;
    rowSquares += x * x;
    querySquares += query[i]! ** 2;
  }
  if (metric === "dotproduct") return dot;
  if (metric === "cosine") return dot / Math.sqrt(rowSquares * querySquares);
  return -(rowSquares + querySquares - 2 * dot);
}

function best(rowIds: Uint32Array, count: number, key: (row: number) => number): number[] {
  return Array.from(rowIds)
    .sort((a, b) => key(b) - key(a) || a - b)
    .slice(0, count);
}

describe.each(metrics)("int8 stage (%s)", (metric) => {
  test("candidates: the listed rows best by the int8 estimate, ascending, holding the exact top", () => {
    const { random, vectors, quantized, query } = dataset(17);
    const listed = Uint32Array.from({ length: rows }, (_, row) => row).filter(() => random() < 0.6);
    const k = 10;
    const candidates = int8Stage(index(4), quantized, query, metric, k, listed, 1, new Uint32Array(0))!;
    expect(candidates.length).toBe(40);
    const inList = new Set(listed);
    for (let i = 0; i < candidates.length; i++) {
      expect(inList.has(candidates[i]!)).toBe(true);
      if (i > 0) expect(candidates[i]!).toBeGreaterThan(candidates[i - 1]!);
    }
    // The estimate recomputed independently (float64 from the codes) picks the same rows,
    // up to float32 rounding at the boundary: compare all but the last few.
    const queryScale = int8Scale(query);
    const queryCodes = Array.from(query, (x) => int8Code(x, queryScale));
    const estimate = (row: number) => {
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += queryCodes[i]! * quantized.codes[row * dim + i]!;
      const approximate = dot * queryScale * quantized.scales[row]!;
      if (metric === "dotproduct") return approximate;
      if (metric === "cosine") return (approximate * quantized.inverseNorms[row]!) / Math.hypot(...query);
      // -(|q|^2 + |x|^2 - 2 q.x) without the constant |q|^2.
      return 2 * approximate - 1 / quantized.inverseNorms[row]! ** 2;
    };
    const chosen = new Set(candidates);
    for (const row of best(listed, 36, estimate)) expect(chosen.has(row)).toBe(true);
    // And the exact top 10 is among the 40 candidates.
    for (const row of best(listed, k, (r) => exactKey(vectors, query, r, metric))) {
      expect(chosen.has(row)).toBe(true);
    }
  });

  test("no stage without a factor or when the rows are few; effort scales the candidates", () => {
    const { quantized, query } = dataset(5);
    const listed = Uint32Array.from({ length: 300 }, (_, i) => i * 2);
    const none = new Uint32Array(0);
    expect(int8Stage(index(0), quantized, query, metric, 10, listed, 1, none)).toBeUndefined();
    expect(int8Stage(index(64), quantized, query, metric, 10, listed, 1, none)).toBeUndefined();
    expect(int8Stage(index(4), quantized, query, metric, 10, listed, 2, none)!.length).toBe(80);
    expect(int8Stage(index(4), quantized, query, metric, 10, listed, 0.1, none)!.length).toBe(10);
  });

  test("rows of extreme norm among the listed rows are always rescored; others are not added", () => {
    const { quantized, query } = dataset(8);
    const listed = Uint32Array.from({ length: 300 }, (_, i) => i * 2);
    const extreme = Uint32Array.from([3, 4, 598]);
    const candidates = int8Stage(index(2), quantized, query, metric, 10, listed, 1, extreme)!;
    expect(candidates).toContain(4);
    expect(candidates).toContain(598);
    expect(candidates).not.toContain(3);
    expect([...candidates].every((row, i) => i === 0 || row > candidates[i - 1]!)).toBe(true);
  });
});
