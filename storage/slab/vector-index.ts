/**
 * VECTOR_INDEX (section kind 11, slab format 1.1) for `vectorIndex: "ivf"`: the partitions of
 * an IVF slab (storage/compaction/DESIGN.md, decision 4). The slab's rows are stored in
 * partition order, so partition p is the row range `[offsets[p], offsets[p + 1])`, and its
 * float32 vectors are contiguous. SPEC.md describes every byte; this is its executable twin.
 *
 * Layout (little-endian; encoding 0):
 *   0   u32 indexType = 1 (IVF)        4  u32 indexVersion = 2 (1 is read too: no int8 stage)
 *   8   u32 partitionCount P (>= 1)    12 u32 centroidDim (dim, or dim + 1 for dotproduct)
 *   16  u32 centroidMetric (0 cosine, 1 euclidean, 2 dotproduct)
 *   20  u32 probes (calibrated, 1..P)  24 u32 seed
 *   28  f32 recall in distribution     32 f32 recall out of distribution (at `probes`)
 *   36  u32 rescoreFactor (version 2): int8 candidates rescored per result wanted; 0 = none
 *   40  zero up to 64
 *   64  f32 x P x centroidDim centroids, then zero up to a multiple of 64
 *       u32 x (P + 1) partition offsets: 0, non-decreasing, ending at rowCount
 */
import type { Metric } from "../types.ts";
import { alignUp, f32View, u32View } from "./format.ts";

export const ivfIndexType = 1;
export const ivfIndexVersion = 2;
/** Version 1 had no rescoreFactor (bytes 36..64 zero): its slabs score probed rows in float32. */
const ivfIndexVersionWithoutRescore = 1;
/** More int8 candidates per result than this would cost more than scoring in float32. */
export const rescoreFactorMax = 1_000;
const headerBytes = 64;
const metricCodes: Metric[] = ["cosine", "euclidean", "dotproduct"];

export interface IvfIndex {
  partitionCount: number;
  centroidDim: number;
  /** The metric centroids are compared with, in their space (kmeans.ts). */
  centroidMetric: Metric;
  /** Partitions a top-10 query probes by default (calibrated when the slab was built). */
  probes: number;
  seed: number;
  /** Mean recall@10 of the calibration queries at `probes`. */
  recallInDistribution: number;
  recallOutOfDistribution: number;
  /**
   * Candidates per result that a query picks from the probed rows by their int8 codes and
   * rescores exactly (k x factor, calibrated with the probes); 0: probed rows are scored in
   * float32 directly (version 1 slabs).
   */
  rescoreFactor: number;
  /** `partitionCount x centroidDim`. */
  centroids: Float32Array;
  /** `partitionCount + 1` row offsets. */
  offsets: Uint32Array;
}

function layout(partitionCount: number, centroidDim: number) {
  const centroidsEnd = headerBytes + 4 * partitionCount * centroidDim;
  const offsetsStart = alignUp(centroidsEnd);
  return { centroidsEnd, offsetsStart, length: offsetsStart + 4 * (partitionCount + 1) };
}

export function vectorIndexBytes(index: IvfIndex): number {
  return layout(index.partitionCount, index.centroidDim).length;
}

/** Writes the section into `target` (zeroed, `vectorIndexBytes(index)` long). */
export function fillVectorIndex(target: Uint8Array, index: IvfIndex): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(0, ivfIndexType, true);
  view.setUint32(4, ivfIndexVersion, true);
  view.setUint32(8, index.partitionCount, true);
  view.setUint32(12, index.centroidDim, true);
  view.setUint32(16, metricCodes.indexOf(index.centroidMetric), true);
  view.setUint32(20, index.probes, true);
  view.setUint32(24, index.seed >>> 0, true);
  view.setFloat32(28, index.recallInDistribution, true);
  view.setFloat32(32, index.recallOutOfDistribution, true);
  view.setUint32(36, index.rescoreFactor, true);
  const { offsetsStart } = layout(index.partitionCount, index.centroidDim);
  f32View(target, headerBytes, index.partitionCount * index.centroidDim).set(index.centroids);
  u32View(target, offsetsStart, index.partitionCount + 1).set(index.offsets);
}

/** Reads and checks the section against the slab (`fail` throws CORRUPTION naming the file). */
export function readVectorIndex(
  bytes: Uint8Array,
  rowCount: number,
  dim: number,
  metric: Metric,
  fail: (message: string) => never,
): IvfIndex {
  if (bytes.length < headerBytes) fail(`VECTOR_INDEX is ${bytes.length} bytes, shorter than its header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint32(0, true);
  const version = view.getUint32(4, true);
  if (type !== ivfIndexType || (version !== ivfIndexVersion && version !== ivfIndexVersionWithoutRescore)) {
    fail(`VECTOR_INDEX is type ${type} version ${version}, not IVF version 1 or ${ivfIndexVersion}`);
  }
  const rescoreFactor = version === ivfIndexVersion ? view.getUint32(36, true) : 0;
  const partitionCount = view.getUint32(8, true);
  const centroidDim = view.getUint32(12, true);
  const centroidMetric = metricCodes[view.getUint32(16, true)];
  const probes = view.getUint32(20, true);
  const expectedDim = metric === "dotproduct" ? dim + 1 : dim;
  const expectedMetric: Metric = metric === "cosine" ? "cosine" : "euclidean";
  if (partitionCount < 1 || partitionCount > rowCount)
    fail(`VECTOR_INDEX has ${partitionCount} partitions for ${rowCount} rows`);
  if (centroidDim !== expectedDim)
    fail(`VECTOR_INDEX centroids have ${centroidDim} dimensions, not ${expectedDim}`);
  if (centroidMetric !== expectedMetric)
    fail(`VECTOR_INDEX compares centroids by ${String(centroidMetric)}, not ${expectedMetric}`);
  if (probes < 1 || probes > partitionCount)
    fail(`VECTOR_INDEX probes ${probes} is outside 1..${partitionCount}`);
  if (rescoreFactor > rescoreFactorMax)
    fail(`VECTOR_INDEX rescoreFactor ${rescoreFactor} is above ${rescoreFactorMax}`);
  const reservedFrom = version === ivfIndexVersion ? 40 : 36;
  for (let position = reservedFrom; position < headerBytes; position++) {
    if (bytes[position] !== 0) fail(`VECTOR_INDEX reserved byte ${position} is not zero`);
  }
  const { centroidsEnd, offsetsStart, length } = layout(partitionCount, centroidDim);
  if (bytes.length !== length) fail(`VECTOR_INDEX is ${bytes.length} bytes, not ${length}`);
  for (let position = centroidsEnd; position < offsetsStart; position++) {
    if (bytes[position] !== 0) fail(`VECTOR_INDEX padding byte ${position} is not zero`);
  }
  const centroids = f32View(bytes, headerBytes, partitionCount * centroidDim);
  for (let i = 0; i < centroids.length; i++) {
    if (!Number.isFinite(centroids[i]!)) fail(`VECTOR_INDEX centroid value ${i} is not finite`);
  }
  const offsets = u32View(bytes, offsetsStart, partitionCount + 1);
  if (offsets[0] !== 0) fail("VECTOR_INDEX partition offsets do not start at 0");
  for (let p = 0; p < partitionCount; p++) {
    if (offsets[p + 1]! < offsets[p]!) fail(`VECTOR_INDEX partition offsets decrease at partition ${p}`);
  }
  if (offsets[partitionCount] !== rowCount)
    fail(`VECTOR_INDEX partition offsets end at ${offsets[partitionCount]}, not ${rowCount}`);
  return {
    partitionCount,
    centroidDim,
    centroidMetric: centroidMetric!,
    probes,
    seed: view.getUint32(24, true),
    recallInDistribution: view.getFloat32(28, true),
    recallOutOfDistribution: view.getFloat32(32, true),
    rescoreFactor,
    centroids,
    offsets,
  };
}
