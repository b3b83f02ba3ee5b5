/**
 * Indexing a compaction output (storage/compaction/DESIGN.md, decisions 4-7): an output of
 * level 1 or above with at least `indexRowsMin` dense rows gets IVF partitions. Its rows are
 * reordered partition by partition (so each partition is a contiguous range of the file), and
 * its row map is reordered the same way, so the commit still knows where every row came from.
 * Memtables and level 0 stay exact (invariant 7), and so do small outputs.
 */
import { buildIvf } from "../../storage/compaction/ivf-build.ts";
import type { IvfIndex } from "../../storage/slab/mod.ts";
import type { RowMap } from "./compaction-edit.ts";
import type { SlabBuildJob } from "./slab-build-job.ts";

export interface IndexedJob {
  job: SlabBuildJob;
  rows: RowMap;
  vectorIndex?: IvfIndex;
}

export function indexJob(job: SlabBuildJob, rows: RowMap, indexRowsMin: number): IndexedJob {
  const { dim, level, metric, slabId } = job.header;
  const count = job.ids.length;
  if (level < 1 || dim === 0 || count < indexRowsMin) return { job, rows };
  const { index, order } = buildIvf({ vectors: job.values, rows: count, dim, metric, seed: seedOf(slabId) });
  const values = new Float32Array(count * dim);
  const permuted: SlabBuildJob = { header: job.header, ids: [], values, sparse: [], metadata: [] };
  const map: RowMap = { source: new Uint32Array(count), row: new Uint32Array(count) };
  for (let i = 0; i < count; i++) {
    const from = order[i]!;
    values.set(job.values.subarray(from * dim, (from + 1) * dim), i * dim);
    permuted.ids.push(job.ids[from]!);
    permuted.sparse.push(job.sparse[from]);
    permuted.metadata.push(job.metadata[from]);
    map.source[i] = rows.source[from]!;
    map.row[i] = rows.row[from]!;
  }
  return { job: permuted, rows: map, vectorIndex: index };
}

/** A seed from the slab id (FNV-1a): the same output is always partitioned the same way. */
function seedOf(slabId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < slabId.length; i++) {
    hash ^= slabId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
