/**
 * IVF basics shared by the build (calibration) and the search: ranking a slab's partitions
 * for a query, in the space its centroids live in (kmeans.ts): cosine compares with the unit
 * centroids by cosine; euclidean with the raw centroids; dotproduct puts the query in the
 * augmented space as [q, 0], where the squared distance to an augmented row [x, s] is
 * |q|^2 + M^2 - 2 q.x, so nearer means a larger inner product.
 */
import { kernels } from "../../ffi/mod.ts";
import { int8Code, int8Scale, inverseNorm } from "../slab/encode.ts";
import type { IvfIndex } from "../slab/vector-index.ts";
import type { Metric } from "../types.ts";

const centroidInverseNorms = new WeakMap<IvfIndex, Float32Array>();

function inverseNormsOf(index: IvfIndex): Float32Array {
  let norms = centroidInverseNorms.get(index);
  if (norms === undefined) {
    const { centroids, centroidDim, partitionCount } = index;
    norms = new Float32Array(partitionCount);
    for (let p = 0; p < partitionCount; p++) {
      let squares = 0;
      for (let i = 0; i < centroidDim; i++) squares += centroids[p * centroidDim + i]! ** 2;
      norms[p] = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    }
    centroidInverseNorms.set(index, norms);
  }
  return norms;
}

/** The query in the centroids' space. */
export function queryInCentroidSpace(index: IvfIndex, query: Float32Array, metric: Metric): Float32Array {
  if (metric !== "dotproduct") return query;
  const augmented = new Float32Array(index.centroidDim);
  augmented.set(query);
  return augmented;
}

/** The best `count` partitions for the query (all of them by default), best first. */
export function rankPartitions(
  index: IvfIndex,
  query: Float32Array,
  metric: Metric,
  count = index.partitionCount,
): Uint32Array {
  const ranked = kernels().scanTopK({
    query: queryInCentroidSpace(index, query, metric),
    vectors: index.centroids,
    rows: index.partitionCount,
    dim: index.centroidDim,
    metric: index.centroidMetric,
    inverseNorms: index.centroidMetric === "cosine" ? inverseNormsOf(index) : undefined,
    k: Math.max(1, Math.min(count, index.partitionCount)),
  });
  return ranked.rows;
}

/** Per row: its partition (rows are stored in partition order). */
export function partitionOfRows(offsets: Uint32Array): Uint32Array {
  const partitions = offsets.length - 1;
  const of = new Uint32Array(offsets[partitions]!);
  for (let p = 0; p < partitions; p++) of.fill(p, offsets[p]!, offsets[p + 1]!);
  return of;
}

/** A slab's int8 view of its rows (INT8_CODES, INT8_SCALES, INVERSE_NORMS). */
export interface QuantizedRows {
  rows: number;
  dim: number;
  codes: Int8Array;
  scales: Float32Array;
  inverseNorms: Float32Array;
}

const squaredNormsOf = new WeakMap<Float32Array, Float32Array>();

/**
 * |x|^2 per row for the euclidean int8 estimate, derived from the stored inverse norms (no
 * format change; the estimate only picks candidates). A zero inverse norm is a zero row, or one
 * so small that its square is 0 in float32 anyway.
 */
function squaredNorms(inverseNorms: Float32Array): Float32Array {
  let norms = squaredNormsOf.get(inverseNorms);
  if (norms === undefined) {
    norms = new Float32Array(inverseNorms.length);
    for (let row = 0; row < norms.length; row++) {
      const inverse = inverseNorms[row]!;
      norms[row] = inverse > 0 ? 1 / (inverse * inverse) : 0;
    }
    squaredNormsOf.set(inverseNorms, norms);
  }
  return norms;
}

/**
 * The `count` best of `rowIds` (ascending) by the int8 estimate of their score, returned
 * ascending: the candidates a query rescores exactly (DESIGN.md decision 24). The query is
 * quantized like the rows (symmetric, max |x| / 127).
 */
export function int8Candidates(
  quantized: QuantizedRows,
  query: Float32Array,
  metric: Metric,
  rowIds: Uint32Array,
  count: number,
): Uint32Array {
  const { dim } = quantized;
  const queryScale = int8Scale(query);
  const queryCodes = new Int8Array(dim);
  for (let i = 0; i < dim; i++) queryCodes[i] = int8Code(query[i]!, queryScale);
  let querySquaredNorm = 0;
  if (metric === "euclidean") for (let i = 0; i < dim; i++) querySquaredNorm += query[i]! * query[i]!;
  const best = kernels().scanTopKInt8Rows(
    {
      queryCodes,
      queryScale,
      codes: quantized.codes,
      scales: quantized.scales,
      rows: quantized.rows,
      dim,
      metric,
      k: Math.max(1, Math.min(count, rowIds.length)),
      inverseNorms: quantized.inverseNorms,
      queryInverseNorm: metric === "cosine" ? inverseNorm(query) : undefined,
      squaredNorms: metric === "euclidean" ? squaredNorms(quantized.inverseNorms) : undefined,
      querySquaredNorm: metric === "euclidean" ? querySquaredNorm : undefined,
    },
    rowIds,
  );
  return best.rows.slice().sort();
}
