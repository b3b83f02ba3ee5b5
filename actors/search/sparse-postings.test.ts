/**
 * Sparse and hybrid search over posting lists (storage/slab/sparse-postings.ts) give exactly
 * the answers of the row-by-row scan (rows, scores bit for bit, order), with and without
 * eligibility, on seeded random blocks.
 */
import { expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { buildSparsePostings } from "../../storage/slab/sparse-postings.ts";
import type { SparseValues } from "../../storage/types.ts";
import { type Block, type Eligible, searchBlock } from "./block-search.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? 20261204);

function randomSparse(random: () => number, vocabulary: number): SparseValues | undefined {
  if (random() < 0.1) return undefined;
  const set = new Set<number>();
  const entries = 1 + Math.floor(random() * 12);
  while (set.size < entries) set.add(Math.floor(random() * vocabulary));
  const indices = Uint32Array.from([...set].sort((a, b) => a - b));
  return { indices, values: Float32Array.from(indices, () => random() * 2 - 0.5) };
}

test(`posting lists answer sparse and hybrid queries exactly like the row scan (seed ${seed})`, () => {
  const random = seededRandom(seed);
  for (let trial = 0; trial < 20; trial++) {
    const rowCount = 50 + Math.floor(random() * 400);
    const dim = 4;
    const vocabulary = 20 + Math.floor(random() * 300);
    const rows = Array.from({ length: rowCount }, () => randomSparse(random, vocabulary));
    const offsets = new Uint32Array(rowCount + 1);
    rows.forEach((row, r) => {
      offsets[r + 1] = offsets[r]! + (row?.indices.length ?? 0);
    });
    const indices = new Uint32Array(offsets[rowCount]!);
    const values = new Float32Array(offsets[rowCount]!);
    rows.forEach((row, r) => {
      if (row) {
        indices.set(row.indices, offsets[r]!);
        values.set(row.values, offsets[r]!);
      }
    });
    const vectors = Float32Array.from({ length: rowCount * dim }, () => random() - 0.5);
    const scanned: Block = {
      rowCount,
      dim,
      vectors,
      inverseNorms: new Float32Array(rowCount).fill(1),
      sparseValues: (row) => rows[row],
    };
    const postings = buildSparsePostings(offsets, indices, values, rowCount);
    const indexed: Block = { ...scanned, sparsePostings: () => postings };
    const bitset = Uint8Array.from({ length: (rowCount + 7) >> 3 }, () => Math.floor(random() * 256));
    const eligibles: Eligible[] = [
      { bitset: new Uint8Array((rowCount + 7) >> 3).fill(255) },
      { bitset },
      { rows: Uint32Array.from({ length: rowCount }, (_, r) => r).filter(() => random() < 0.2) },
    ];
    for (const eligible of eligibles) {
      const sparseVector = randomSparse(random, vocabulary) ?? {
        indices: new Uint32Array([1]),
        values: new Float32Array([1]),
      };
      const k = 1 + Math.floor(random() * 15);
      const sparseOnly = { metric: "dotproduct" as const, k, sparseVector };
      expect(searchBlock(indexed, sparseOnly, eligible)).toEqual(searchBlock(scanned, sparseOnly, eligible));
      const hybrid = { ...sparseOnly, vector: Float32Array.from({ length: dim }, () => random() - 0.5) };
      expect(searchBlock(indexed, hybrid, eligible)).toEqual(searchBlock(scanned, hybrid, eligible));
    }
  }
});

test("postings list each dimension's rows ascending, once per entry", () => {
  const offsets = new Uint32Array([0, 2, 2, 5]);
  const indices = new Uint32Array([3, 7, 1, 3, 9]);
  const values = new Float32Array([0.5, 1, 2, 3, 4]);
  const postings = buildSparsePostings(offsets, indices, values, 3);
  expect([...postings.dims]).toEqual([1, 3, 7, 9]);
  expect([...postings.starts]).toEqual([0, 1, 3, 4, 5]);
  expect([...postings.rows]).toEqual([2, 0, 2, 0, 2]);
  expect([...postings.values]).toEqual([2, 0.5, 3, 1, 4]);
});
