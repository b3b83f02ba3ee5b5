/**
 * The plain TypeScript twin of every C kernel: used when the C library is absent and as the
 * reference in tests. Same contract (ffi/types.ts), same heap, same tie rule.
 *
 * Float32 scans accumulate in float64 and round the sum to float32, so scores differ from
 * the C paths (which accumulate in float32, in a different order) by rounding only. The int8
 * scan rounds every step to float32 in the C order, so its scores are bit-identical to C's.
 */
import { NeedleError } from "../storage/errors.ts";
import { TopKHeap } from "./heap.ts";
import type { Int8ScanInput, Kernels, Metric, ScanInput, TopK } from "./types.ts";
import {
  checkAssignInput,
  checkBitset,
  checkInt8ScanInput,
  checkRowIds,
  checkScanInput,
  emptyTopK,
  trimTopK,
} from "./validate.ts";
import { inverseNorm } from "./vector-math.ts";

const fround = Math.fround;

/**
 * Debug checks of the reference path, on in tests (NEEDLE_DEBUG_ASSERTS=1, set by the test
 * preload): a score that is not a finite number means some input escaped the limits that keep
 * scores finite (ffi/score-range.ts). A test about non-finite ordering turns it off.
 */
export const referenceDebugChecks = { finiteScores: process.env.NEEDLE_DEBUG_ASSERTS === "1" };

/**
 * A score that is not finite (NaN, or an infinity from overflow) ranks below everything, as in
 * C: it becomes -Infinity.
 */
function sanitize(key: number): number {
  if (Number.isFinite(key)) return key;
  if (referenceDebugChecks.finiteScores) {
    throw new NeedleError("INTERNAL", `assertion failed: a kernel score is not finite (${key})`);
  }
  return Number.NEGATIVE_INFINITY;
}

function dotAt(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, dim: number): number {
  let sum = 0;
  for (let d = 0; d < dim; d++) sum += a[aOffset + d]! * b[bOffset + d]!;
  return fround(sum);
}

function squaredDistanceAt(
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  dim: number,
): number {
  let sum = 0;
  for (let d = 0; d < dim; d++) {
    const difference = a[aOffset + d]! - b[bOffset + d]!;
    sum += difference * difference;
  }
  return fround(sum);
}

/** Higher-is-better float32 key of one row: the metric's score, negated for euclidean. */
function rowKey(input: ScanInput, row: number, queryInverseNorm: number): number {
  const offset = row * input.dim;
  switch (input.metric) {
    case "euclidean":
      return sanitize(-squaredDistanceAt(input.query, 0, input.vectors, offset, input.dim));
    case "dotproduct":
      return sanitize(dotAt(input.query, 0, input.vectors, offset, input.dim));
    default:
      return sanitize(
        fround(
          fround(dotAt(input.query, 0, input.vectors, offset, input.dim) * input.inverseNorms![row]!) *
            queryInverseNorm,
        ),
      );
  }
}

function finishTopK(heap: TopKHeap, metric: Metric): TopK {
  const count = heap.finish();
  if (metric === "euclidean") {
    for (let i = 0; i < count; i++) heap.keys[i] = -heap.keys[i]!;
  }
  return trimTopK(heap.rows, heap.keys, count);
}

function queryInverseNormOf(input: ScanInput): number {
  return input.metric === "cosine" ? inverseNorm(input.query) : 0;
}

function scanTopK(input: ScanInput): TopK {
  checkScanInput(input);
  if (input.rows === 0) return emptyTopK;
  const heap = new TopKHeap(Math.min(input.k, input.rows));
  const queryInverseNorm = queryInverseNormOf(input);
  for (let row = 0; row < input.rows; row++) heap.offer(rowKey(input, row, queryInverseNorm), row);
  return finishTopK(heap, input.metric);
}

function scanTopKBitset(input: ScanInput, bitset: Uint8Array): TopK {
  checkScanInput(input);
  checkBitset(input, bitset);
  if (input.rows === 0) return emptyTopK;
  const heap = new TopKHeap(Math.min(input.k, input.rows));
  const queryInverseNorm = queryInverseNormOf(input);
  for (let byte = 0; byte * 8 < input.rows; byte++) {
    let bits = bitset[byte]!;
    while (bits !== 0) {
      const bit = 31 - Math.clz32(bits & -bits);
      bits &= bits - 1;
      const row = byte * 8 + bit;
      if (row >= input.rows) break;
      heap.offer(rowKey(input, row, queryInverseNorm), row);
    }
  }
  return finishTopK(heap, input.metric);
}

function scanTopKRows(input: ScanInput, rowIds: Uint32Array): TopK {
  checkScanInput(input);
  checkRowIds(input, rowIds);
  if (rowIds.length === 0) return emptyTopK;
  const heap = new TopKHeap(Math.min(input.k, rowIds.length));
  const queryInverseNorm = queryInverseNormOf(input);
  for (const row of rowIds) heap.offer(rowKey(input, row, queryInverseNorm), row);
  return finishTopK(heap, input.metric);
}

function scanTopKInt8(input: Int8ScanInput): TopK {
  checkInt8ScanInput(input);
  if (input.rows === 0) return emptyTopK;
  const heap = new TopKHeap(Math.min(input.k, input.rows));
  const keyOf = int8RowKey(input);
  for (let row = 0; row < input.rows; row++) heap.offer(keyOf(row), row);
  return finishTopK(heap, input.metric);
}

function scanTopKInt8Rows(input: Int8ScanInput, rowIds: Uint32Array): TopK {
  checkInt8ScanInput(input);
  checkRowIds(input, rowIds);
  if (rowIds.length === 0) return emptyTopK;
  const heap = new TopKHeap(Math.min(input.k, rowIds.length));
  const keyOf = int8RowKey(input);
  for (const row of rowIds) heap.offer(keyOf(row), row);
  return finishTopK(heap, input.metric);
}

/** A row's int8 key, as the C template computes it (every parameter crosses into C as float32). */
function int8RowKey(input: Int8ScanInput): (row: number) => number {
  const { dim, codes, queryCodes } = input;
  const queryScale = fround(input.queryScale);
  const queryInverseNorm = fround(input.queryInverseNorm ?? 0);
  const querySquaredNorm = fround(input.querySquaredNorm ?? 0);
  return (row) => {
    const offset = row * dim;
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += queryCodes[d]! * codes[offset + d]!;
    const approximate = fround(fround(dot) * fround(queryScale * input.scales[row]!));
    let key: number;
    if (input.metric === "euclidean") {
      key = -fround(fround(querySquaredNorm + input.squaredNorms![row]!) - fround(2 * approximate));
    } else if (input.metric === "dotproduct") {
      key = approximate;
    } else {
      key = fround(fround(approximate * input.inverseNorms![row]!) * queryInverseNorm);
    }
    return sanitize(key);
  };
}

function assignNearest(
  vectors: Float32Array,
  count: number,
  centroids: Float32Array,
  centroidCount: number,
  dim: number,
  metric: Metric,
  assignments: Uint32Array,
  scores?: Float32Array,
): void {
  checkAssignInput(vectors, count, centroids, centroidCount, dim, assignments, scores);
  const centroidInverseNorms = new Float32Array(metric === "cosine" ? centroidCount : 0);
  for (let c = 0; c < centroidInverseNorms.length; c++)
    centroidInverseNorms[c] = inverseNorm(centroids, c * dim, dim);
  for (let i = 0; i < count; i++) {
    const offset = i * dim;
    const vectorInverseNorm = metric === "cosine" ? inverseNorm(vectors, offset, dim) : 0;
    let best = 0;
    let bestKey = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < centroidCount; c++) {
      let key: number;
      if (metric === "euclidean") {
        key = -squaredDistanceAt(vectors, offset, centroids, c * dim, dim);
      } else if (metric === "dotproduct") {
        key = dotAt(vectors, offset, centroids, c * dim, dim);
      } else {
        const dot = dotAt(vectors, offset, centroids, c * dim, dim);
        key = fround(fround(dot * centroidInverseNorms[c]!) * vectorInverseNorm);
      }
      key = sanitize(key);
      // Strictly better only: ties keep the smaller centroid index.
      if (c === 0 || key > bestKey) {
        best = c;
        bestKey = key;
      }
    }
    assignments[i] = best;
    if (scores !== undefined) scores[i] = metric === "euclidean" ? -bestKey : bestKey;
  }
}

export const typescriptKernels: Kernels = Object.freeze({
  name: "typescript",
  scanTopK,
  scanTopKBitset,
  scanTopKRows,
  scanTopKInt8,
  scanTopKInt8Rows,
  assignNearest,
});
