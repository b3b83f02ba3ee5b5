/**
 * chooseIvfRows: the rows an IVF search scores are exactly the eligible rows of the partitions
 * it probes, whether eligibility comes as a bitset (counted and copied a byte at a time) or as
 * a row list, with partition boundaries anywhere inside a byte; prefilter when few are eligible.
 */
import { expect, test } from "bun:test";
import { gaussian, seededRandom } from "../../ffi/seeded-random.ts";
import type { IvfIndex } from "../../storage/slab/mod.ts";
import { bitsetFromRows } from "./block-search.ts";
import { chooseIvfRows } from "./ivf-search.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);

test(`probed rows are the eligible rows of the probed partitions, bitset or row list (seed ${seed})`, () => {
  const random = seededRandom(seed);
  const dim = 3;
  for (let trial = 0; trial < 60; trial++) {
    const partitionCount = 2 + Math.floor(random() * 30);
    const offsets = new Uint32Array(partitionCount + 1);
    for (let p = 1; p <= partitionCount; p++) offsets[p] = offsets[p - 1]! + Math.floor(random() * 23);
    const rowCount = offsets[partitionCount]!;
    if (rowCount === 0) continue;
    const index: IvfIndex = {
      partitionCount,
      centroidDim: dim,
      centroidMetric: "euclidean",
      probes: 1 + Math.floor(random() * partitionCount),
      seed: 1,
      recallInDistribution: 1,
      recallOutOfDistribution: 1,
      rescoreFactor: 0,
      centroids: Float32Array.from({ length: partitionCount * dim }, () => gaussian(random)),
      offsets,
    };
    const density = random();
    const eligibleRows = Uint32Array.from(
      Array.from({ length: rowCount }, (_, row) => row).filter(() => random() < density),
    );
    const query = Float32Array.from({ length: dim }, () => gaussian(random));
    const fromBits = chooseIvfRows(
      index,
      query,
      "euclidean",
      10,
      { bitset: bitsetFromRows(eligibleRows, rowCount) },
      rowCount,
    );
    const fromList = chooseIvfRows(index, query, "euclidean", 10, { rows: eligibleRows }, rowCount);
    expect(fromBits.strategy).toBe(fromList.strategy);
    expect(fromBits.partitionsProbed).toBe(fromList.partitionsProbed);
    if (fromBits.strategy === "prefilter") continue; // every eligible row is scored
    const rows = (choice: typeof fromBits) => Array.from((choice.eligible as { rows: Uint32Array }).rows);
    expect(rows(fromBits)).toEqual(rows(fromList));
    // Every returned row is eligible, ascending, and lies in some partition; the rows of a
    // partition are all returned or none.
    const eligibleSet = new Set(eligibleRows);
    const returned = rows(fromBits);
    for (let i = 0; i < returned.length; i++) {
      expect(eligibleSet.has(returned[i]!)).toBe(true);
      if (i > 0) expect(returned[i]!).toBeGreaterThan(returned[i - 1]!);
    }
    const returnedSet = new Set(returned);
    for (let p = 0; p < partitionCount; p++) {
      const inPartition = [...eligibleRows].filter((row) => row >= offsets[p]! && row < offsets[p + 1]!);
      const taken = inPartition.filter((row) => returnedSet.has(row)).length;
      expect(taken === 0 || taken === inPartition.length).toBe(true);
    }
  }
});
