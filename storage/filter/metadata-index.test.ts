import { beforeAll, describe, expect, test } from "bun:test";
import { initBitmaps, undisposedBitmapCount } from "../bitmap.ts";
import { NeedleError } from "../errors.ts";
import type { Filter, Metadata } from "../types.ts";
import { encodeMetadataIndex, MetadataIndex } from "./metadata-index.ts";
import { parseFilter } from "./parse.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";

beforeAll(async () => {
  await initBitmaps();
});

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000_000);
console.log(`metadata-index.test seed=${seed} (replay with NEEDLE_TEST_SEED=${seed})`);

const movies: (Metadata | undefined)[] = [
  { genre: "drama", year: 2019, rating: 7.5, tags: ["classic", "long"], awarded: true },
  { genre: "comedy", year: 2020, rating: -1, tags: [], awarded: false },
  undefined,
  { genre: "drama", year: 2021.5, tags: ["long", "long"] },
  { genre: "1", year: "2020" as unknown as number, awarded: true },
  { year: 2020, rating: 7.5 },
];

function rows(index: MetadataIndex, raw: unknown): number[] {
  using bitmap = index.evaluate(parseFilter(raw), movies.length);
  return [...bitmap.toUint32Array()];
}

function corruptionOf(action: () => unknown): NeedleError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(NeedleError);
    return error as NeedleError;
  }
  throw new Error("expected a CORRUPTION error");
}

describe("MetadataIndex", () => {
  test("evaluates each operator", () => {
    using index = MetadataIndex.decode(encodeMetadataIndex(movies), "movies.slab");
    expect(index.rowCount).toBe(6);
    expect(index.fieldNames).toEqual(["awarded", "genre", "rating", "tags", "year"]);
    expect(rows(index, { genre: "drama" })).toEqual([0, 3]);
    expect(rows(index, { genre: { $ne: "drama" } })).toEqual([1, 2, 4, 5]);
    expect(rows(index, { genre: 1 })).toEqual([]); // "1" is a string
    expect(rows(index, { year: 2020 })).toEqual([1, 5]); // row 4 holds the string "2020"
    expect(rows(index, { year: "2020" })).toEqual([4]);
    expect(rows(index, { year: { $gte: 2020, $lt: 2021.5 } })).toEqual([1, 5]);
    expect(rows(index, { year: { $gt: 2020 } })).toEqual([3]);
    expect(rows(index, { year: { $lte: 2019 } })).toEqual([0]);
    expect(rows(index, { genre: { $gt: 0 } })).toEqual([]);
    expect(rows(index, { rating: { $in: [7.5, -1, "x"] } })).toEqual([0, 1, 5]);
    expect(rows(index, { rating: { $nin: [7.5] } })).toEqual([1, 2, 3, 4]);
    expect(rows(index, { tags: "long" })).toEqual([0, 3]);
    expect(rows(index, { tags: { $ne: "long" } })).toEqual([1, 2, 4, 5]);
    expect(rows(index, { tags: { $in: ["classic", "none"] } })).toEqual([0]);
    expect(rows(index, { tags: { $exists: true } })).toEqual([0, 1, 3]); // [] counts as present
    expect(rows(index, { awarded: true })).toEqual([0, 4]);
    expect(rows(index, { awarded: false })).toEqual([1]);
    expect(rows(index, { awarded: { $ne: true } })).toEqual([1, 2, 3, 5]);
    expect(rows(index, { awarded: { $exists: false } })).toEqual([2, 3, 5]);
    expect(rows(index, { unknown: { $ne: 1 } })).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rows(index, { unknown: { $exists: true } })).toEqual([]);
    expect(rows(index, { $or: [{ genre: "comedy" }, { rating: 7.5 }] })).toEqual([0, 1, 5]);
    expect(rows(index, { $and: [{ genre: "drama" }, { tags: "classic" }] })).toEqual([0]);
    expect(rows(index, {})).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("an empty input is an index with no fields, any row count", () => {
    using index = MetadataIndex.decode(new Uint8Array(0), "none.slab");
    expect(index.rowCount).toBeUndefined();
    using all = index.evaluate(parseFilter({ a: { $nin: ["x"] } }), 10);
    expect(all.size).toBe(10);
    using none = index.evaluate(parseFilter({ a: "x" }), 10);
    expect(none.size).toBe(0);
  });

  test("a row count other than the indexed one is CORRUPTION naming the file", () => {
    using index = MetadataIndex.decode(encodeMetadataIndex(movies), "movies.slab");
    const error = corruptionOf(() => index.evaluate(parseFilter({ genre: "drama" }), 7));
    expect(error.code).toBe("CORRUPTION");
    expect(error.file).toBe("movies.slab");
  });

  test("the encoding is deterministic whatever the key order", () => {
    const reordered = movies.map((metadata) =>
      metadata === undefined ? undefined : Object.fromEntries(Object.entries(metadata).reverse()),
    );
    expect(encodeMetadataIndex(reordered)).toEqual(encodeMetadataIndex(movies));
  });

  test("dispose frees every cached bitmap and evaluate results are the caller's", () => {
    const before = undisposedBitmapCount();
    const index = MetadataIndex.decode(encodeMetadataIndex(movies), "movies.slab");
    const result = index.evaluate(
      parseFilter({ $or: [{ genre: "drama" }, { awarded: true }, { tags: "long" }] }),
      6,
    );
    expect(undisposedBitmapCount()).toBeGreaterThan(before + 1); // cached bitmaps plus the result
    index.dispose();
    index.dispose();
    expect(undisposedBitmapCount()).toBe(before + 1);
    expect([...result.toUint32Array()]).toEqual([0, 3, 4]);
    result.dispose();
    expect(undisposedBitmapCount()).toBe(before);
    expect(() => index.evaluate(parseFilter({ genre: "drama" }), 6)).toThrow(/after dispose/);
  });

  test("large numeric ranges come from binary search over sorted pairs", () => {
    const random = seededRandom(seed);
    const values = Array.from({ length: 5000 }, () => Math.round((random() - 0.5) * 2000) / 10);
    using index = MetadataIndex.decode(
      encodeMetadataIndex(values.map((value) => ({ value }))),
      "numbers.slab",
    );
    for (let i = 0; i < 50; i++) {
      const low = Math.round((random() - 0.5) * 2000) / 10;
      using bitmap = index.evaluate(parseFilter({ value: { $gte: low, $lt: low + 10 } }), values.length);
      const expected = values.flatMap((value, row) => (value >= low && value < low + 10 ? [row] : []));
      expect([...bitmap.toUint32Array()]).toEqual(expected);
    }
  });
});

describe("MetadataIndex.decode fuzz", () => {
  const probeFilters: Filter[] = [
    { a: "x" },
    { a: { $ne: "y" } },
    { n: { $gt: 0 } },
    { n: { $lte: 1.5 } },
    { n: { $in: [1, 2, "x"] } },
    { b: true },
    { b: { $ne: false } },
    { l: { $nin: ["x", "z"] } },
    { l: { $exists: false } },
    { $or: [{ a: "y" }, { n: -1 }, { missing: { $exists: true } }] },
  ].map((raw) => parseFilter(raw));

  function validIndexBytes(random: () => number, rowCount: number): Uint8Array {
    const vocabulary = ["x", "y", "z", "é"];
    const metadatas = Array.from({ length: rowCount }, (): Metadata | undefined => {
      if (random() < 0.1) return undefined;
      const metadata: Metadata = {};
      if (random() < 0.8) metadata.a = vocabulary[Math.floor(random() * 4)]!;
      if (random() < 0.8) metadata.n = Math.floor(random() * 8) / 2 - 1;
      if (random() < 0.6) metadata.b = random() < 0.5;
      if (random() < 0.6) metadata.l = vocabulary.filter(() => random() < 0.4);
      return metadata;
    });
    return encodeMetadataIndex(metadatas);
  }

  function mutate(random: () => number, original: Uint8Array): Uint8Array {
    const bytes = original.slice();
    const position = () => Math.floor(random() * bytes.length);
    switch (Math.floor(random() * 6)) {
      case 0: // flip one bit
        bytes[position()]! ^= 1 << Math.floor(random() * 8);
        return bytes;
      case 1: // scribble a few bytes
        for (let i = 0; i < 1 + Math.floor(random() * 4); i++) bytes[position()] = Math.floor(random() * 256);
        return bytes;
      case 2: {
        // overwrite a u32 with an interesting value
        const at = Math.max(0, position() - 4);
        const interesting = [0, 1, 2, 0x7fffffff, 0xffffffff, bytes.length, bytes.length - at, 16];
        new DataView(bytes.buffer).setUint32(
          at,
          interesting[Math.floor(random() * interesting.length)]!,
          true,
        );
        return bytes;
      }
      case 3: // truncate
        return bytes.slice(0, position());
      case 4: {
        // insert a byte
        const at = position();
        return new Uint8Array([...bytes.subarray(0, at), Math.floor(random() * 256), ...bytes.subarray(at)]);
      }
      default: {
        // delete a run of bytes
        const at = position();
        return new Uint8Array([
          ...bytes.subarray(0, at),
          ...bytes.subarray(at + 1 + Math.floor(random() * 8)),
        ]);
      }
    }
  }

  test("mutations give CORRUPTION or a usable index, never another exception", () => {
    const random = seededRandom(seed + 1);
    const rowCount = 64;
    const original = validIndexBytes(random, rowCount);
    const before = undisposedBitmapCount();
    const outcomes = { decodeCorruption: 0, evaluateCorruption: 0, usable: 0 };
    for (let round = 0; round < 3000; round++) {
      const bytes = mutate(random, original);
      let index: MetadataIndex;
      try {
        index = MetadataIndex.decode(bytes, "fuzz.slab");
      } catch (error) {
        expectCorruption(error, round);
        outcomes.decodeCorruption++;
        continue;
      }
      try {
        for (const filter of probeFilters) {
          using bitmap = index.evaluate(filter, rowCount);
          expect(bitmap.size).toBeLessThanOrEqual(rowCount);
        }
        outcomes.usable++;
      } catch (error) {
        expectCorruption(error, round);
        outcomes.evaluateCorruption++;
      } finally {
        index.dispose();
      }
    }
    console.log(`decode fuzz outcomes: ${JSON.stringify(outcomes)}`);
    expect(undisposedBitmapCount()).toBe(before);
    expect(outcomes.decodeCorruption).toBeGreaterThan(1000);
    expect(outcomes.usable).toBeGreaterThan(0);
  });

  function expectCorruption(error: unknown, round: number): void {
    if (!(error instanceof NeedleError) || error.code !== "CORRUPTION" || error.file !== "fuzz.slab") {
      throw new Error(
        `round ${round} (seed=${seed}) threw something other than CORRUPTION: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
  }
});
