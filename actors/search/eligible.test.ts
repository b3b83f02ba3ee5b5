/** eligibleFromBitsets: exactly the rows set in both bitsets, as a row list when few are. */
import { expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { eligibleFromBitsets, isEligible } from "./block-search.ts";

test("the rows of live AND matching, as a bitset or (when few) an ascending row list", () => {
  const random = seededRandom(9);
  let lists = 0;
  let bitsets = 0;
  for (let trial = 0; trial < 200; trial++) {
    const rowCount = 1 + Math.floor(random() * 3000);
    const density = random() * random();
    const bits = () => {
      const bitset = new Uint8Array((rowCount + 7) >> 3);
      for (let row = 0; row < rowCount; row++) if (random() < density) bitset[row >> 3]! |= 1 << (row & 7);
      return bitset;
    };
    const live = bits();
    const matching = bits();
    const eligible = eligibleFromBitsets(live, matching, rowCount);
    const expected: number[] = [];
    for (let row = 0; row < rowCount; row++) {
      if ((live[row >> 3]! >> (row & 7)) & 1 && (matching[row >> 3]! >> (row & 7)) & 1) expected.push(row);
    }
    if ("rows" in eligible) {
      lists++;
      expect([...eligible.rows]).toEqual(expected);
      expect(expected.length).toBeLessThanOrEqual(rowCount / 16);
    } else {
      bitsets++;
      const got: number[] = [];
      for (let row = 0; row < rowCount; row++) if (isEligible(eligible, row)) got.push(row);
      expect(got).toEqual(expected);
    }
  }
  expect(lists).toBeGreaterThan(10);
  expect(bitsets).toBeGreaterThan(10);
});
