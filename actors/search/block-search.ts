/**
 * Exact top-k over one block of rows (the memtable or one slab), the same code for both.
 *
 * Dense queries use the fused top-k kernels. Hybrid queries (dense + sparse) are exact too:
 * a row's hybrid score is its dense score plus its sparse dot product, and the sparse dot
 * product is zero for every row that shares no index with the query. So the best k rows are
 * among (a) the rows that overlap the query's sparse indices, scored fully, and (b) the best k
 * dense rows that do not overlap, which sit inside the dense top (k + overlapCount).
 * Sparse-only queries score only overlapping rows (a row that shares no index has no score).
 */
import { kernels, lowerIsBetter, type Metric, sparseDot, type TopK } from "../../ffi/mod.ts";
import type { SparseValues } from "../../storage/types.ts";

export interface Block {
  rowCount: number;
  dim: number;
  vectors: Float32Array;
  inverseNorms: Float32Array;
  sparseValues(row: number): SparseValues | undefined;
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

export function isEligible(eligible: Eligible, row: number): boolean {
  if ("bitset" in eligible) return ((eligible.bitset[row >> 3]! >> (row & 7)) & 1) === 1;
  return binarySearch(eligible.rows, row);
}

function eligibleCount(eligible: Eligible, rowCount: number): number {
  if ("rows" in eligible) return eligible.rows.length;
  let count = 0;
  const full = rowCount >> 3;
  for (let i = 0; i < full; i++) count += popcount8[eligible.bitset[i]!]!;
  for (let row = full << 3; row < rowCount; row++) if (isEligible(eligible, row)) count++;
  return count;
}

const popcount8 = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let b = byte; b; b >>= 1) bits += b & 1;
  return bits;
});

export function searchBlock(block: Block, query: BlockQuery, eligible: Eligible): Candidate[] {
  if (block.rowCount === 0) return [];
  const sparse = query.sparseVector;
  if (!query.vector) return sparse ? sparseOnly(block, sparse, query.k, eligible) : [];
  if (!sparse || sparse.indices.length === 0) {
    return fromTopK(denseTopK(block, query.vector, query.metric, query.k, eligible));
  }
  return hybrid(block, query.vector, sparse, query, eligible);
}

function denseTopK(block: Block, vector: Float32Array, metric: Metric, k: number, eligible: Eligible): TopK {
  const input = {
    query: vector,
    vectors: block.vectors,
    rows: block.rowCount,
    dim: block.dim,
    metric,
    inverseNorms: metric === "cosine" ? block.inverseNorms : undefined,
    k: Math.min(k, Math.max(1, eligibleCount(eligible, block.rowCount))),
  };
  const active = kernels();
  return "bitset" in eligible
    ? active.scanTopKBitset(input, eligible.bitset)
    : active.scanTopKRows(input, eligible.rows);
}

function fromTopK(topK: TopK): Candidate[] {
  const candidates: Candidate[] = new Array(topK.rows.length);
  for (let i = 0; i < topK.rows.length; i++) candidates[i] = { row: topK.rows[i]!, score: topK.scores[i]! };
  return candidates;
}

function sparseOnly(block: Block, query: SparseValues, k: number, eligible: Eligible): Candidate[] {
  const candidates: Candidate[] = [];
  forEachEligible(eligible, block.rowCount, (row) => {
    const sparse = block.sparseValues(row);
    if (sparse && overlaps(sparse, query)) candidates.push({ row, score: sparseDot(query, sparse) });
  });
  return bestK(candidates, k, false);
}

function hybrid(
  block: Block,
  vector: Float32Array,
  sparse: SparseValues,
  query: BlockQuery,
  eligible: Eligible,
): Candidate[] {
  const overlapping: Candidate[] = [];
  forEachEligible(eligible, block.rowCount, (row) => {
    const rowSparse = block.sparseValues(row);
    if (rowSparse && overlaps(rowSparse, sparse))
      overlapping.push({ row, score: sparseDot(sparse, rowSparse) });
  });
  const denseK = query.k + overlapping.length;
  const dense = fromTopK(denseTopK(block, vector, query.metric, denseK, eligible));
  const overlapRows = new Set(overlapping.map((c) => c.row));
  const denseScoreOfRow = new Map<number, number>();
  for (const candidate of dense) denseScoreOfRow.set(candidate.row, candidate.score);
  // Overlapping rows outside the dense top list still need their dense score: score them by row list.
  const missing = overlapping.filter((c) => !denseScoreOfRow.has(c.row)).map((c) => c.row);
  if (missing.length > 0) {
    const rows = Uint32Array.from(missing).sort();
    for (const candidate of fromTopK(denseTopK(block, vector, query.metric, rows.length, { rows }))) {
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

function binarySearch(sorted: Uint32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const at = sorted[mid]!;
    if (at === value) return true;
    if (at < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
