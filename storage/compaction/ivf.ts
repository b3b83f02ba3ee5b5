/**
 * IVF basics shared by the build (calibration) and the search: ranking a slab's partitions
 * for a query, in the space its centroids live in (kmeans.ts): cosine compares with the unit
 * centroids by cosine; euclidean with the raw centroids; dotproduct puts the query in the
 * augmented space as [q, 0], where the squared distance to an augmented row [x, s] is
 * |q|^2 + M^2 - 2 q.x, so nearer means a larger inner product.
 */
import { kernels } from "../../ffi/mod.ts";
import type { Metric } from "../types.ts";
import type { IvfIndex } from "../slab/vector-index.ts";

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
