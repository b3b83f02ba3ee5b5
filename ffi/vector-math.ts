/**
 * Small vector helpers the engine needs outside the scan kernels. Norms are accumulated in
 * float64 in index order, exactly as the C library computes a query's inverse norm, so the
 * values agree bit for bit.
 */
import { invalidArgument } from "../storage/errors.ts";

/** A sparse vector: `indices` strictly ascending, `values[i]` belongs to `indices[i]`. */
export interface SparseVector {
  indices: Uint32Array;
  values: Float32Array;
}

/**
 * 1/||vector|| as float32, or 0 for an all-zero vector (so cosine scores of it are 0).
 * `offset` and `dim` pick one row of a row-major block; without them the whole array is used.
 */
export function inverseNorm(vector: Float32Array, offset?: number, dim?: number): number {
  // No default parameters and a loop bound fixed before the loop: with `offset = 0,
  // dim = vector.length` and `d < offset + dim`, Bun's JIT ran this loop about 10x slower.
  const start = offset ?? 0;
  return inverseNormOfRange(vector, start, start + (dim ?? vector.length));
}

function inverseNormOfRange(vector: Float32Array, start: number, end: number): number {
  let sum = 0;
  for (let d = start; d < end; d++) {
    const value = vector[d]!;
    sum += value * value;
  }
  return sum > 0 ? Math.fround(1 / Math.sqrt(sum)) : 0;
}

/** Writes 1/||row|| for each of `rows` rows of `vectors` into `out`. */
export function computeInverseNorms(
  vectors: Float32Array,
  rows: number,
  dim: number,
  out: Float32Array,
): void {
  if (vectors.length < rows * dim) {
    throw invalidArgument(
      "vectors",
      `vectors holds ${vectors.length} values, ${rows * dim} needed`,
      rows * dim,
      vectors.length,
    );
  }
  if (out.length < rows)
    throw invalidArgument("out", `out holds ${out.length} values, ${rows} needed`, rows, out.length);
  for (let row = 0; row < rows; row++) out[row] = inverseNormOfRange(vectors, row * dim, row * dim + dim);
}

/** Dot product of two sparse vectors by merging their ascending index lists; float64 sum. */
export function sparseDot(a: SparseVector, b: SparseVector): number {
  let i = 0;
  let j = 0;
  let sum = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const indexA = a.indices[i]!;
    const indexB = b.indices[j]!;
    if (indexA === indexB) {
      sum += a.values[i]! * b.values[j]!;
      i++;
      j++;
    } else if (indexA < indexB) {
      i++;
    } else {
      j++;
    }
  }
  return sum;
}
