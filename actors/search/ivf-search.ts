/**
 * Which rows of an IVF slab a dense query scores (storage/compaction/DESIGN.md, decisions 6
 * and 8). The slab's rows are in partition order, so a partition is a row range.
 *
 *   1. Rank the partitions by their centroids (storage/compaction/ivf.ts).
 *   2. The unfiltered cost is the rows of the first `probes` partitions: the calibrated
 *      probes, scaled by sqrt(k / 10) for k > 10 and by the query's effort.
 *   3. Prefilter: when no more rows are eligible than that (a selective filter), score every
 *      eligible row exactly; the answer is exact.
 *   4. Otherwise visit partitions in rank order until as many eligible rows were seen as the
 *      unfiltered cost: a filter that matches few rows near the query (anti-correlated) makes
 *      the search probe further instead of returning fewer or worse rows.
 * The chosen rows are then scored exactly (block-search.ts), so scores are never estimates;
 * on slabs with a rescore factor (`int8Stage`) only the best of them by their int8 codes are.
 */
import { int8Candidates, type QuantizedRows, rankPartitions } from "../../storage/compaction/ivf.ts";
import type { IvfIndex } from "../../storage/slab/mod.ts";
import type { Metric } from "../../storage/types.ts";
import { type Eligible, eligibleCount, popcount8 } from "./block-search.ts";

export interface IvfChoice {
  strategy: "prefilter" | "ivf";
  /** The rows to score exactly (ascending), or undefined for every eligible row (prefilter). */
  eligible: Eligible | undefined;
  partitionsProbed: number;
}

/** Probes for a query: the calibrated count, scaled for k and the caller's effort. */
export function probesFor(index: IvfIndex, k: number, effort: number): number {
  const scaled = Math.ceil(index.probes * effort * Math.max(1, Math.sqrt(k / 10)));
  return Math.max(1, Math.min(index.partitionCount, scaled));
}

export function chooseIvfRows(
  index: IvfIndex,
  vector: Float32Array,
  metric: Metric,
  k: number,
  eligible: Eligible,
  rowCount: number,
  effort = 1,
): IvfChoice {
  const { offsets, partitionCount } = index;
  const probes = probesFor(index, k, effort);
  // Ranking every partition costs a top-P heap (measured: 38 us for 365 partitions against
  // 12 us for the best 24); most queries need only their probes, so rank a few more than
  // that first and every partition only when a filter makes the search probe further.
  let order = rankPartitions(index, vector, metric, Math.max(2 * probes, 32));
  let target = 0;
  for (let i = 0; i < probes; i++) target += offsets[order[i]! + 1]! - offsets[order[i]!]!;
  target = Math.max(target, k);
  if (eligibleCount(eligible, rowCount) <= target) {
    return { strategy: "prefilter", eligible: undefined, partitionsProbed: 0 };
  }
  const chosen: number[] = [];
  let seen = 0;
  for (let i = 0; i < partitionCount && seen < target; i++) {
    if (i === order.length) order = rankPartitions(index, vector, metric);
    const p = order[i]!;
    seen += eligibleIn(eligible, offsets[p]!, offsets[p + 1]!);
    chosen.push(p);
  }
  chosen.sort((a, b) => offsets[a]! - offsets[b]!);
  const rows = new Uint32Array(seen);
  let written = 0;
  for (const p of chosen) written = copyEligible(eligible, offsets[p]!, offsets[p + 1]!, rows, written);
  return { strategy: "ivf", eligible: { rows: rows.subarray(0, written) }, partitionsProbed: chosen.length };
}

/**
 * The int8 stage (storage/compaction/DESIGN.md decision 24): of the rows an IVF choice would
 * score, the best k x rescoreFactor (scaled by the effort) by their int8 estimate, plus any
 * row of extreme norm among them (its estimate is meaningless; block-search scores it in
 * float64), ascending. Undefined when the slab has no factor or the rows are few anyway.
 */
export function int8Stage(
  index: IvfIndex,
  quantized: QuantizedRows,
  vector: Float32Array,
  metric: Metric,
  k: number,
  rows: Uint32Array,
  effort: number,
  extremeRows: Uint32Array,
): Uint32Array | undefined {
  if (index.rescoreFactor === 0) return undefined;
  const count = Math.max(k, Math.ceil(k * index.rescoreFactor * effort));
  if (rows.length <= count) return undefined;
  const candidates = int8Candidates(quantized, vector, metric, rows, count);
  if (extremeRows.length === 0) return candidates;
  const extra: number[] = [];
  for (const row of extremeRows) if (positionIn(rows, row) >= 0) extra.push(row);
  if (extra.length === 0) return candidates;
  const merged = new Set<number>(candidates);
  for (const row of extra) merged.add(row);
  return Uint32Array.from(merged).sort();
}

function positionIn(sorted: Uint32Array, value: number): number {
  const at = lowerBound(sorted, value);
  return at < sorted.length && sorted[at] === value ? at : -1;
}

/**
 * Eligible rows in [start, end). A bitset is counted a byte at a time (a popcount table), with
 * the partial bytes at the ends bit by bit: a selective filter makes the search probe most
 * partitions, and counting bit by bit cost about a millisecond per query at 150k rows.
 */
function eligibleIn(eligible: Eligible, start: number, end: number): number {
  if ("rows" in eligible) return lowerBound(eligible.rows, end) - lowerBound(eligible.rows, start);
  const bits = eligible.bitset;
  let count = 0;
  let row = start;
  for (; row < end && (row & 7) !== 0; row++) count += (bits[row >> 3]! >> (row & 7)) & 1;
  for (; row + 8 <= end; row += 8) count += popcount8[bits[row >> 3]!]!;
  for (; row < end; row++) count += (bits[row >> 3]! >> (row & 7)) & 1;
  return count;
}

/** Writes the eligible rows of [start, end) to `out` from `at`, ascending; skips empty bytes. */
function copyEligible(eligible: Eligible, start: number, end: number, out: Uint32Array, at: number): number {
  if ("rows" in eligible) {
    const from = lowerBound(eligible.rows, start);
    const to = lowerBound(eligible.rows, end);
    out.set(eligible.rows.subarray(from, to), at);
    return at + (to - from);
  }
  const bits = eligible.bitset;
  let written = at;
  let row = start;
  for (; row < end && (row & 7) !== 0; row++) if ((bits[row >> 3]! >> (row & 7)) & 1) out[written++] = row;
  for (; row + 8 <= end; row += 8) {
    let byte = bits[row >> 3]!;
    while (byte !== 0) {
      const bit = 31 - Math.clz32(byte & -byte);
      out[written++] = row + bit;
      byte &= byte - 1;
    }
  }
  for (; row < end; row++) if ((bits[row >> 3]! >> (row & 7)) & 1) out[written++] = row;
  return written;
}

function lowerBound(sorted: Uint32Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
