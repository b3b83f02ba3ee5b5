/**
 * What the float32 scan kernels can score without overflow, and what they cannot.
 *
 * Dot products and squared distances: a score sums at most `dimension` (20,000) dense products
 * plus 2,048 sparse ones. With every component of magnitude at most M, |q.x| <= 22,048 M^2 and
 * |q - x|^2 <= 20,000 (2M)^2 = 80,000 M^2. For M = 1e16 both stay below 8e36, well inside
 * float32's 3.4e38 (partial sums too: they are bounded by the same sums). So components of
 * dotproduct and euclidean vectors are limited to `componentMagnitudeMax` where they enter
 * Needle (gateway/schemas), and their scores are always finite.
 *
 * Cosine needs no limit: it has a direction for every non-zero finite vector. The kernels
 * compute it as dot x (1/|row|) x (1/|query|) in float32, which is safe while both norms lie in
 * [2^-60, 2^60] (`kernelSafeNorms`): the inverse norms are then normal float32 numbers and the
 * dot product of a unit-scale query with the row stays far from overflow. A row outside that
 * range (an "extreme" row: huge, or so small its inverse norm overflows) is scored in float64
 * instead (actors/search/block-search.ts), and a query outside it is normalised in float64
 * before the scan: cosine does not change under scaling.
 */

export const componentMagnitudeMax = 1e16;

/**
 * True when a stored (float32) component is within the limit. The comparison is with 1e16
 * rounded to float32 (1.0000000272564224e16), so a client that sends exactly 1e16 is accepted.
 */
export function isWithinComponentMagnitude(value: number): boolean {
  return Math.abs(value) <= componentMagnitudeMaxFloat32;
}
const componentMagnitudeMaxFloat32 = Math.fround(componentMagnitudeMax);

/** Inverse norms (1/|v|) the float32 cosine kernels handle: 2^-60 .. 2^60. */
export const kernelSafeInverseNormMin = 2 ** -60;
export const kernelSafeInverseNormMax = 2 ** 60;

/** True when a row or query with this float32 inverse norm can go through the cosine kernels. */
export function isKernelSafeInverseNorm(inverseNorm: number): boolean {
  return inverseNorm >= kernelSafeInverseNormMin && inverseNorm <= kernelSafeInverseNormMax;
}

/** 1/|v| in float64 (0 for the zero vector): exact enough for any finite float32 vector. */
export function inverseNormFloat64(vector: Float32Array, offset = 0, dim = vector.length): number {
  let sum = 0;
  for (let d = offset; d < offset + dim; d++) sum += vector[d]! * vector[d]!;
  return sum > 0 ? 1 / Math.sqrt(sum) : 0;
}

/** The vector scaled to unit length in float64, rounded to float32 (cosine's direction). */
export function unitVector(vector: Float32Array): Float32Array {
  const scale = inverseNormFloat64(vector);
  const out = new Float32Array(vector.length);
  for (let d = 0; d < vector.length; d++) out[d] = vector[d]! * scale;
  return out;
}

/** Cosine similarity of a query and one row, in float64, rounded to float32 like kernel scores. */
export function cosineFloat64(
  query: Float32Array,
  vectors: Float32Array,
  offset: number,
  dim: number,
): number {
  let dot = 0;
  let queryNorm = 0;
  let rowNorm = 0;
  for (let d = 0; d < dim; d++) {
    const q = query[d]!;
    const x = vectors[offset + d]!;
    dot += q * x;
    queryNorm += q * q;
    rowNorm += x * x;
  }
  if (queryNorm === 0 || rowNorm === 0) return 0;
  return Math.fround(dot / (Math.sqrt(queryNorm) * Math.sqrt(rowNorm)));
}
