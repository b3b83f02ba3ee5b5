/** What the flush sends to the slab-building worker: plain, cloneable columns. */
import type { Memtable } from "../../storage/memtable/mod.ts";
import type { SlabBuildInput } from "../../storage/slab/mod.ts";
import type { Metadata, SparseValues, VectorRecord } from "../../storage/types.ts";

export interface SlabBuildJob {
  header: Omit<SlabBuildInput, "records" | "metadataIndex">;
  ids: string[];
  /** rows * dim values, row after row (empty when dim is 0); transferred, not copied. */
  values: Float32Array<ArrayBuffer>;
  sparse: (SparseValues | undefined)[];
  metadata: (Metadata | undefined)[];
}

/** Collects the given rows of a frozen memtable into one job, vectors in one compact block. */
export function jobFromMemtable(
  memtable: Memtable,
  rows: number[],
  header: SlabBuildJob["header"],
): SlabBuildJob {
  const dim = memtable.dim;
  const values = new Float32Array(rows.length * dim);
  const source = memtable.vectors;
  rows.forEach((row, i) => {
    values.set(source.subarray(row * dim, (row + 1) * dim), i * dim);
  });
  return {
    header,
    ids: rows.map((row) => memtable.id(row)),
    values,
    sparse: rows.map((row) => memtable.sparseValues(row)),
    metadata: rows.map((row) => memtable.metadata(row)),
  };
}

/** Collects records (ids unique) into one job, in the order given; `ids` replaces their ids. */
export function jobFromRecords(
  records: VectorRecord[],
  header: SlabBuildJob["header"],
  ids?: string[],
): SlabBuildJob {
  const dim = header.dim;
  const values = new Float32Array(records.length * dim);
  records.forEach((record, i) => {
    if (dim > 0 && record.values) values.set(record.values, i * dim);
  });
  return {
    header,
    ids: ids ?? records.map((record) => record.id),
    values,
    sparse: records.map((record) => record.sparseValues),
    metadata: records.map((record) => record.metadata),
  };
}

export function recordsOfJob(job: SlabBuildJob): VectorRecord[] {
  const dim = job.header.dim;
  return job.ids.map((id, i) => {
    const record: VectorRecord = { id };
    if (dim > 0) record.values = job.values.subarray(i * dim, (i + 1) * dim);
    const sparse = job.sparse[i];
    if (sparse) record.sparseValues = sparse;
    const metadata = job.metadata[i];
    if (metadata) record.metadata = metadata;
    return record;
  });
}
