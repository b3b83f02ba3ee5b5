/**
 * The build input of a compaction (storage/compaction/DESIGN.md, decision 2): the rows of the
 * source slabs that are live in the snapshot, read straight from the slab files, split into
 * `outputCount` slab build jobs of near-equal row counts, each with its row map (where every
 * output row came from, for the commit's `editManifest` and `mapLive`).
 *
 * Runs where the files are (the slab-builder worker, later an executor): the rows never pass
 * through the namespace's event loop. Sources are read oldest first, rows ascending, so the
 * output order is deterministic.
 */
import { assert } from "../../storage/errors.ts";
import { SlabReader } from "../../storage/slab/mod.ts";
import type { RowMap } from "./compaction-edit.ts";
import type { SlabBuildJob } from "./slab-build-job.ts";

export interface CompactionSource {
  /** Local path of the source slab file. */
  path: string;
  /** Rows live in the snapshot (the last committed manifest): bit r set when row r is copied. */
  live: Uint8Array;
}

export interface CompactionJob {
  job: SlabBuildJob;
  rows: RowMap;
}

/**
 * One job per output. `headers[i]` names output i (slab id, level, LSN range, sources); its
 * `dim` and `metric` must match every source's.
 */
export function compactionJobs(
  sources: readonly CompactionSource[],
  headers: readonly SlabBuildJob["header"][],
): CompactionJob[] {
  const readers = sources.map((source) => SlabReader.openFile(source.path));
  try {
    const origins: { source: number; row: number }[] = [];
    readers.forEach((reader, source) => {
      const header = headers[0];
      if (header !== undefined) {
        assert(reader.info.dim === header.dim, "compaction sources share the output's dimension");
        assert(reader.info.metric === header.metric, "compaction sources share the output's metric");
      }
      const live = sources[source]!.live;
      for (let row = 0; row < reader.info.rowCount; row++) {
        if ((live[row >> 3]! >> (row & 7)) & 1) origins.push({ source, row });
      }
    });
    if (origins.length === 0) return [];
    assert(headers.length >= 1, "a compaction with live rows has at least one output");
    const jobs: CompactionJob[] = [];
    let start = 0;
    headers.forEach((header, output) => {
      const count =
        Math.floor(origins.length / headers.length) + (output < origins.length % headers.length ? 1 : 0);
      const part = origins.slice(start, start + count);
      start += count;
      if (part.length > 0) jobs.push(jobOf(readers, part, header));
    });
    return jobs;
  } finally {
    for (const reader of readers) reader.close();
  }
}

function jobOf(
  readers: SlabReader[],
  part: { source: number; row: number }[],
  header: SlabBuildJob["header"],
): CompactionJob {
  const dim = header.dim;
  const values = new Float32Array(part.length * dim);
  const job: SlabBuildJob = { header, ids: [], values, sparse: [], metadata: [] };
  const rows: RowMap = { source: new Uint32Array(part.length), row: new Uint32Array(part.length) };
  part.forEach(({ source, row }, i) => {
    const reader = readers[source]!;
    if (dim > 0) values.set(reader.vectors.subarray(row * dim, (row + 1) * dim), i * dim);
    job.ids.push(reader.id(row));
    const sparse = reader.sparseValues(row);
    // Copies: the job outlives the readers (and may be sent to another thread).
    job.sparse.push(sparse && { indices: sparse.indices.slice(), values: sparse.values.slice() });
    job.metadata.push(reader.metadata(row));
    rows.source[i] = source;
    rows.row[i] = row;
  });
  return { job, rows };
}
