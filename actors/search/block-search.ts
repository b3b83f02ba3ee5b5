/**
 * Exact top-k over one block of rows (the memtable or one slab), the same code for both.
 *
 * Dense queries use the fused top-k kernels. Hybrid queries (dense + sparse) are exact too:
 * a row's hybrid score is its dense score plus its sparse dot product, and the sparse dot
 * product is zero for every row that shares no index with the query. So the best k rows are
 * among (a) the rows that overlap the query's sparse indices, scored fully, and (b) the best k
 * dense rows that do not overlap, which sit inside the dense top (k + overlapCount).
 * Sparse-only queries score only overlapping rows (a row that shares no index has no score).
 *
 * Cosine over rows of extreme norm (ffi/score-range.ts: huge, or so small the float32 inverse
 * norm overflows): the block names them (`extremeRows`), the kernels scan every other eligible
 * row, the extreme ones are scored in float64, and the two lists merge. The kernels never see
 * a row they would score as infinity or NaN, and ordinary rows keep their kernel scores.
 *
 * Every score returned is a finite number: a non-finite one (which the limits at the door make
 * impossible for data accepted today) ranks last in the kernels and is dropped here; with
 * NEEDLE_DEBUG_ASSERTS=1 (tests) it fails an assertion instead.
 */
import {
  cosineFloat64,
  kernels,
  lowerIsBetter,
  type Metric,
  referenceDebugChecks,
  sparseDot,
} from "../../ffi/mod.ts";
import { NeedleError } from "../../storage/errors.ts";
import { positionOf, type SparsePostings, sparseScores } from "../../storage/slab/sparse-postings.ts";
import type { SparseValues } from "../../storage/types.ts";

export interface Block {
  rowCount: number;
  dim: number;
  vectors: Float32Array;
  inverseNorms: Float32Array;
  sparseValues(row: number): SparseValues | undefined;
  /** Rows of extreme norm, ascending, that cosine scores in float64; absent: none. */
  extremeRows?: ArrayLike<number>;
  /** Posting lists of the block's sparse rows (slabs); absent: sparse rows are scanned. */
  sparsePostings?: () => SparsePostings | undefined;
}

export interface BlockQuery {
  metric: Metric;
  k: number;
  vector?: Float32Array;
  sparseVector?: SparseValues;
}

/** Which rows may be returned: every set bit of a bitset, or an ascending row list. */
export type Eligible = { bitset: Uint8Array } | { rows: Uint32Array };

export interface Candidate {
  row: number;
  score: number;
}

/** Below this share of eligible rows a row list beats a bitset scan. */
const rowListShareMax = 1 / 16;

export function eligibleFromRows(rows: Uint32Array, rowCount: number): Eligible {
  if (rows.length > rowCount * rowListShareMax) return { bitset: bitsetFromRows(rows, rowCount) };
  return { rows };
}

export function bitsetFromRows(rows: Uint32Array, rowCount: number): Uint8Array {
  const bitset = new Uint8Array((rowCount + 7) >> 3);
  for (const row of rows) bitset[row >> 3]! |= 1 << (row & 7);
  return bitset;
}

/**
 * `live AND matching` as the search wants it: a bitset, or a row list when few rows are left
 * (the same rule as `eligibleFromRows`).
 */
export function eligibleFromBitsets(live: Uint8Array, matching: Uint8Array, rowCount: number): Eligible {
  const bytes = (rowCount + 7) >> 3;
  const bitset = new Uint8Array(bytes);
  let count = 0;
  for (let i = 0; i < bytes; i++) {
    const both = live[i]! & matching[i]!;
    bitset[i] = both;
    count += popcount8[both]!;
  }
  if (count > rowCount * rowListShareMax) return { bitset };
  const rows = new Uint32Array(count);
  let at = 0;
  for (let i = 0; i < bytes; i++) {
    let byte = bitset[i]!;
    while (byte !== 0) {
      const bit = 31 - Math.clz32(byte & -byte);
      rows[at++] = (i << 3) + bit;
      byte &= byte - 1;
    }
  }
  return { rows };
}

export function isEligible(eligible: Eligible, row: number): boolean {
  if ("bitset" in eligible) return ((eligible.bitset[row >> 3]! >> (row & 7)) & 1) === 1;
  return positionOf(eligible.rows, row) >= 0;
}

export function eligibleCount(eligible: Eligible, rowCount: number): number {
  if ("rows" in eligible) return eligible.rows.length;
  let count = 0;
  const full = rowCount >> 3;
  for (let i = 0; i < full; i++) count += popcount8[eligible.bitset[i]!]!;
  for (let row = full << 3; row < rowCount; row++) if (isEligible(eligible, row)) count++;
  return count;
}

/** The eligible rows as an ascending list (a bitset's set rows; a row list as it is). */
export function eligibleRowList(eligible: Eligible, rowCount: number): Uint32Array {
  if ("rows" in eligible) return eligible.rows;
  const rows = new Uint32Array(rowCount);
  let count = 0;
  for (let row = 0; row < rowCount; row++) if (isEligible(eligible, row)) rows[count++] = row;
  return rows.subarray(0, count);
}

export const popcount8 = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let b = byte; b; b >>= 1) bits += b & 1;
  return bits;
});

export function searchBlock(block: Block, query: BlockQuery, eligible: Eligible): Candidate[] {
  if (block.rowCount === 0) return [];
  const sparse = query.sparseVector;
  let found: Candidate[];
  if (!query.vector) found = sparse ? sparseOnly(block, sparse, query.k, eligible) : [];
  else if (!sparse || sparse.indices.length === 0)
    found = denseBest(block, query.vector, query.metric, query.k, eligible);
  else found = hybrid(block, query.vector, sparse, query, eligible);
  return finiteOnly(found);
}

/** The invariant above: only finite scores leave; in tests a non-finite one is a failure. */
function finiteOnly(candidates: Candidate[]): Candidate[] {
  if (candidates.every((candidate) => Number.isFinite(candidate.score))) return candidates;
  if (referenceDebugChecks.finiteScores) {
    throw new NeedleError("INTERNAL", "assertion failed: a search score is not a finite number");
  }
  return candidates.filter((candidate) => Number.isFinite(candidate.score));
}

/** The best k eligible rows by the dense score, best first (extreme rows in float64 for cosine). */
function denseBest(
  block: Block,
  vector: Float32Array,
  metric: Metric,
  k: number,
  eligible: Eligible,
): Candidate[] {
  const extreme = metric === "cosine" ? eligibleExtremeRows(block, eligible) : [];
  if (extreme.length === 0) return denseKernel(block, vector, metric, k, eligible);
  const found = denseKernel(block, vector, metric, k, withoutRows(eligible, extreme));
  for (const row of extreme) {
    found.push({ row, score: cosineFloat64(vector, block.vectors, row * block.dim, block.dim) });
  }
  return bestK(found, k, false);
}

function eligibleExtremeRows(block: Block, eligible: Eligible): number[] {
  const extreme = block.extremeRows;
  if (extreme === undefined || extreme.length === 0) return [];
  const rows: number[] = [];
  for (let i = 0; i < extreme.length; i++) if (isEligible(eligible, extreme[i]!)) rows.push(extreme[i]!);
  return rows;
}

/** `eligible` without `rows` (ascending), as a new bitset or row list. */
function withoutRows(eligible: Eligible, rows: number[]): Eligible {
  if ("bitset" in eligible) {
    const bitset = eligible.bitset.slice();
    for (const row of rows) bitset[row >> 3]! &= ~(1 << (row & 7));
    return { bitset };
  }
  const removed = new Set(rows);
  return { rows: eligible.rows.filter((row) => !removed.has(row)) };
}

function denseKernel(
  block: Block,
  vector: Float32Array,
  metric: Metric,
  k: number,
  eligible: Eligible,
): Candidate[] {
  const count = eligibleCount(eligible, block.rowCount);
  // No eligible row (a filter matched none, or only rows of extreme norm): nothing to scan.
  if (count === 0) return [];
  const input = {
    query: vector,
    vectors: block.vectors,
    rows: block.rowCount,
    dim: block.dim,
    metric,
    inverseNorms: metric === "cosine" ? block.inverseNorms : undefined,
    k: Math.min(k, count),
  };
  const active = kernels();
  const topK =
    "bitset" in eligible
      ? active.scanTopKBitset(input, eligible.bitset)
      : active.scanTopKRows(input, eligible.rows);
  const candidates: Candidate[] = new Array(topK.rows.length);
  for (let i = 0; i < topK.rows.length; i++) candidates[i] = { row: topK.rows[i]!, score: topK.scores[i]! };
  return candidates;
}

function sparseOnly(block: Block, query: SparseValues, k: number, eligible: Eligible): Candidate[] {
  return bestK(sparseOverlaps(block, query, eligible), k, false);
}

/** Eligible rows sharing a sparse dimension with the query, with their sparse scores. */
function sparseOverlaps(block: Block, query: SparseValues, eligible: Eligible): Candidate[] {
  const postings = block.sparsePostings?.();
  if (postings !== undefined) {
    const candidates: Candidate[] = [];
    const scores = sparseScores(postings, query, (row) => isEligible(eligible, row));
    for (const [row, score] of scores) candidates.push({ row, score });
    return candidates;
  }
  const candidates: Candidate[] = [];
  forEachEligible(eligible, block.rowCount, (row) => {
    const sparse = block.sparseValues(row);
    if (sparse && overlaps(sparse, query)) candidates.push({ row, score: sparseDot(query, sparse) });
  });
  return candidates;
}

function hybrid(
  block: Block,
  vector: Float32Array,
  sparse: SparseValues,
  query: BlockQuery,
  eligible: Eligible,
): Candidate[] {
  const overlapping = sparseOverlaps(block, sparse, eligible);
  const denseK = query.k + overlapping.length;
  const dense = denseBest(block, vector, query.metric, denseK, eligible);
  const overlapRows = new Set(overlapping.map((c) => c.row));
  const denseScoreOfRow = new Map<number, number>();
  for (const candidate of dense) denseScoreOfRow.set(candidate.row, candidate.score);
  // Overlapping rows outside the dense top list still need their dense score: score them by row list.
  const missing = overlapping.filter((c) => !denseScoreOfRow.has(c.row)).map((c) => c.row);
  if (missing.length > 0) {
    const rows = Uint32Array.from(missing).sort();
    for (const candidate of denseBest(block, vector, query.metric, rows.length, { rows })) {
      denseScoreOfRow.set(candidate.row, candidate.score);
    }
  }
  const all: Candidate[] = overlapping.map((c) => ({
    row: c.row,
    score: c.score + denseScoreOfRow.get(c.row)!,
  }));
  for (const candidate of dense) if (!overlapRows.has(candidate.row)) all.push(candidate);
  return bestK(all, query.k, lowerIsBetter(query.metric));
}

/** Sorts best first (ties by smaller row) and keeps k. */
export function bestK(candidates: Candidate[], k: number, ascending: boolean): Candidate[] {
  candidates.sort((a, b) =>
    a.score === b.score ? a.row - b.row : ascending ? a.score - b.score : b.score - a.score,
  );
  return candidates.length > k ? candidates.slice(0, k) : candidates;
}

function forEachEligible(eligible: Eligible, rowCount: number, visit: (row: number) => void): void {
  if ("rows" in eligible) {
    for (const row of eligible.rows) visit(row);
    return;
  }
  for (let row = 0; row < rowCount; row++) if (isEligible(eligible, row)) visit(row);
}

function overlaps(a: SparseValues, b: SparseValues): boolean {
  let i = 0;
  let j = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const x = a.indices[i]!;
    const y = b.indices[j]!;
    if (x === y) return true;
    if (x < y) i++;
    else j++;
  }
  return false;
}
