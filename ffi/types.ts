/**
 * The kernel contract shared by the C library binding and its plain TypeScript twin.
 * Every kernel takes a whole batch and returns the best `k` rows, best first.
 *
 * Scores are reported the way Pinecone reports them:
 *   - cosine:     cosine similarity, higher first (uses per-row inverse norms)
 *   - dotproduct: dot product, higher first
 *   - euclidean:  squared L2 distance, lower first
 * Ties are broken by the smaller row number, so both implementations agree on ties
 * whenever their scores are bit-identical.
 */

export type Metric = "cosine" | "euclidean" | "dotproduct";

export const metrics: readonly Metric[] = ["cosine", "euclidean", "dotproduct"];

/** True when a smaller score is better for this metric (only euclidean). */
export function lowerIsBetter(metric: Metric): boolean {
  return metric === "euclidean";
}

export interface ScanInput {
  /** The query, length `dim`. For cosine it need not be normalised. */
  query: Float32Array;
  /** `rows * dim` float32 values, row-major. May be a view over memory-mapped file bytes. */
  vectors: Float32Array;
  rows: number;
  dim: number;
  metric: Metric;
  /** cosine only: 1/||row|| per row (0 for an all-zero row). Length `rows`. */
  inverseNorms?: Float32Array;
  /** How many best rows to return; 1..10000. */
  k: number;
}

export interface TopK {
  /** Row numbers (0-based within the scanned block), best first. */
  rows: Uint32Array;
  /** Scores matching `rows`, Pinecone's convention for the metric. */
  scores: Float32Array;
}

/**
 * Scalar-quantized rows: row r is approximated by `scales[r] * codes[r*dim .. r*dim+dim)`.
 * The query is quantized the same way (`queryCodes`, `queryScale`). Approximate scores are
 * computed from the int32 dot product of codes, then turned into the metric's score using
 * exact norms: cosine uses `inverseNorms` and `queryInverseNorm`; euclidean uses
 * `squaredNorms` and `querySquaredNorm` (|q|^2 + |x|^2 - 2 q.x).
 */
export interface Int8ScanInput {
  queryCodes: Int8Array;
  queryScale: number;
  codes: Int8Array;
  scales: Float32Array;
  rows: number;
  dim: number;
  metric: Metric;
  k: number;
  inverseNorms?: Float32Array;
  queryInverseNorm?: number;
  squaredNorms?: Float32Array;
  querySquaredNorm?: number;
}

export interface Kernels {
  /** Which implementation runs: "c:avx512", "c:avx2", "c:scalar", "c:neon" or "typescript". */
  readonly name: string;
  /** Exact float32 scan of every row. */
  scanTopK(input: ScanInput): TopK;
  /** Only rows whose bit is set: bit r is `(bitset[r >> 3] >> (r & 7)) & 1`. */
  scanTopKBitset(input: ScanInput, bitset: Uint8Array): TopK;
  /** Only the listed rows (ascending, each < rows). Returned `rows` are row numbers, not list positions. */
  scanTopKRows(input: ScanInput, rowIds: Uint32Array): TopK;
  /** Approximate scan over int8 codes (for candidate generation before exact rescoring). */
  scanTopKInt8(input: Int8ScanInput): TopK;
  /** The int8 scan over the listed rows only (ascending, each < rows), like `scanTopKRows`. */
  scanTopKInt8Rows(input: Int8ScanInput, rowIds: Uint32Array): TopK;
  /**
   * For each of `count` vectors, the index of the best centroid by `metric` (cosine is
   * handled directly: vectors and centroids need not be normalised).
   * Writes `assignments[i]` and, when given, `scores[i]`.
   */
  assignNearest(
    vectors: Float32Array,
    count: number,
    centroids: Float32Array,
    centroidCount: number,
    dim: number,
    metric: Metric,
    assignments: Uint32Array,
    scores?: Float32Array,
  ): void;
}
