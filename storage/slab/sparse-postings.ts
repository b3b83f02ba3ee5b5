/**
 * Posting lists over a slab's sparse dimensions (storage/compaction/DESIGN.md, decision 9, as
 * built: derived in memory from the SPARSE section the first time a sparse or hybrid query
 * reaches the slab, not stored in the file). A sparse query then touches only the rows that
 * share a dimension with it, instead of decoding every row's sparse values.
 *
 * Scores are exact and equal, bit for bit, to the row-wise `sparseDot`: each row's products
 * are added in ascending dimension order, starting from 0, in float64.
 */
import type { SparseValues } from "../types.ts";

export interface SparsePostings {
  /** Distinct dimensions, ascending. */
  dims: Uint32Array;
  /** Dimension i's postings are `[starts[i], starts[i + 1])`. */
  starts: Uint32Array;
  /** Per posting: the row (ascending within a dimension) and its value. */
  rows: Uint32Array;
  values: Float32Array;
}

/** Inverts CSR sparse rows (`offsets` of rowCount + 1, `indices` and `values` per entry). */
export function buildSparsePostings(
  offsets: Uint32Array,
  indices: Uint32Array,
  values: Float32Array,
  rowCount: number,
): SparsePostings {
  const counts = new Map<number, number>();
  const entries = offsets[rowCount]!;
  for (let e = 0; e < entries; e++) counts.set(indices[e]!, (counts.get(indices[e]!) ?? 0) + 1);
  const dims = Uint32Array.from(counts.keys()).sort();
  const starts = new Uint32Array(dims.length + 1);
  const cursor = new Map<number, number>();
  dims.forEach((dim, i) => {
    starts[i + 1] = starts[i]! + counts.get(dim)!;
    cursor.set(dim, starts[i]!);
  });
  const rows = new Uint32Array(entries);
  const postingValues = new Float32Array(entries);
  for (let row = 0; row < rowCount; row++) {
    for (let e = offsets[row]!; e < offsets[row + 1]!; e++) {
      const at = cursor.get(indices[e]!)!;
      rows[at] = row;
      postingValues[at] = values[e]!;
      cursor.set(indices[e]!, at + 1);
    }
  }
  return { dims, starts, rows, values: postingValues };
}

/** Every eligible row sharing a dimension with the query, with its exact sparse dot product. */
export function sparseScores(
  postings: SparsePostings,
  query: SparseValues,
  eligible: (row: number) => boolean,
): Map<number, number> {
  const order = Array.from(query.indices.keys()).sort((a, b) => query.indices[a]! - query.indices[b]!);
  const scores = new Map<number, number>();
  for (const term of order) {
    const at = positionOf(postings.dims, query.indices[term]!);
    if (at < 0) continue;
    const weight = query.values[term]!;
    for (let p = postings.starts[at]!; p < postings.starts[at + 1]!; p++) {
      const row = postings.rows[p]!;
      if (!eligible(row)) continue;
      scores.set(row, (scores.get(row) ?? 0) + weight * postings.values[p]!);
    }
  }
  return scores;
}

/** Where `value` is in the ascending `sorted`, or -1. */
export function positionOf(sorted: Uint32Array, value: number): number {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const at = sorted[middle]!;
    if (at === value) return middle;
    if (at < value) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}
