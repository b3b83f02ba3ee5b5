/** What the flush sends to the slab-building worker: plain, cloneable columns. */
import { Packr } from "msgpackr";
import type { Memtable } from "../../storage/memtable/mod.ts";
import { metadataForPacking, metadataFromPacked } from "../../storage/metadata.ts";
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

/**
 * A job as it crosses to the worker: ids, sparse values and metadata packed into one buffer,
 * both buffers transferred. Structured cloning 200,000 rows' ids and metadata objects took the
 * event loop about 0.6 s (a recovery's bulk packed flush); packing them takes a tenth of that.
 */
export interface WireJob {
  header: SlabBuildJob["header"];
  values: Float32Array<ArrayBuffer>;
  columns: Uint8Array<ArrayBuffer>;
}

// Records (msgpackr's repeated-shape extension): metadata of one tenant's rows share keys.
const jobPackr = new Packr({ useRecords: true, moreTypes: true });

export function wireJobOf(job: SlabBuildJob): WireJob {
  const metadata = job.metadata.map((row) => (row === undefined ? null : metadataForPacking(row)));
  const sparse = job.sparse.map((row) => row ?? null);
  // pack() answers a view of msgpackr's shared buffer (a Buffer, whose slice() is another
  // view): copied into a buffer of its own, since that buffer is transferred (detached here).
  const columns = new Uint8Array(jobPackr.pack({ ids: job.ids, sparse, metadata }));
  return { header: job.header, values: job.values, columns };
}

export function jobOfWire(wire: WireJob): SlabBuildJob {
  const { ids, sparse, metadata } = jobPackr.unpack(wire.columns) as {
    ids: string[];
    sparse: (SparseValues | null)[];
    metadata: (Metadata | null)[];
  };
  return {
    header: wire.header,
    ids,
    values: wire.values,
    sparse: sparse.map((row) => row ?? undefined),
    metadata: metadata.map((row) => (row === null ? undefined : metadataFromPacked(row))),
  };
}
