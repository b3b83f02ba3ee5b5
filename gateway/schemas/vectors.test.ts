import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { parseInput } from "./errors.ts";
import {
  dimensionMax,
  idCharsMax,
  metadataBytesMax,
  recordsPerUpsertMax,
  sparseEntriesMax,
} from "./limits.ts";
import { checkRecordsForIndex, metadata, record } from "./vectors.ts";
import { refused } from "./testing.ts";

const upsert = z.object({ records: z.array(record).min(1).max(recordsPerUpsertMax) });

/** Runs `action`, expects an INVALID_ARGUMENT NeedleError, and returns it. */
function records(...items: unknown[]) {
  return { records: items };
}

describe("record schema", () => {
  test("converts values to Float32Array and keeps the record", () => {
    const parsed = parseInput(
      upsert,
      records({
        id: "a",
        values: [1, 2.5, -3],
        metadata: { genre: "jazz", year: 1959, live: false, tags: ["x", "y"] },
      }),
    );
    const [only] = parsed.records;
    expect(only?.values).toBeInstanceOf(Float32Array);
    expect(Array.from(only?.values ?? [])).toEqual([1, 2.5, -3]);
    expect(only?.metadata).toEqual({ genre: "jazz", year: 1959, live: false, tags: ["x", "y"] });
  });

  test("metadata is copied, so later mutation of the input cannot change it", () => {
    const input = { genre: "jazz", tags: ["x"] };
    const parsed = parseInput(metadata, input);
    input.tags.push("y");
    input.genre = "rock";
    expect(parsed).toEqual({ genre: "jazz", tags: ["x"] });
  });

  test("NaN and Infinity are refused at their exact position", () => {
    const nan = refused(() =>
      parseInput(upsert, records({ id: "a", values: [0, 1] }, { id: "b", values: [1, Number.NaN] })),
    );
    expect(nan.field).toBe("records[1].values[1]");
    expect(nan.received).toBe("NaN");
    const infinite = refused(() =>
      parseInput(upsert, records({ id: "a", values: [Number.POSITIVE_INFINITY] })),
    );
    expect(infinite.field).toBe("records[0].values[0]");
    const overflow = refused(() => parseInput(upsert, records({ id: "a", values: [1, 1e39] })));
    expect(overflow.field).toBe("records[0].values[1]");
    expect(overflow.message).toContain("float32");
  });

  test("a non-number inside values names its index", () => {
    const error = refused(() => parseInput(upsert, records({ id: "a", values: [1, "2"] })));
    expect(error.field).toBe("records[0].values[1]");
  });

  test("over-long vectors are refused with the limit", () => {
    const error = refused(() =>
      parseInput(upsert, records({ id: "a", values: new Array(dimensionMax + 1).fill(0.5) })),
    );
    expect(error.field).toBe("records[0].values");
    expect(error.limit).toBe(`at most ${dimensionMax} items`);
  });

  test("ids: empty, over-long and non-ASCII are refused", () => {
    expect(refused(() => parseInput(upsert, records({ id: "", values: [1] }))).field).toBe("records[0].id");
    const long = refused(() => parseInput(upsert, records({ id: "x".repeat(idCharsMax + 1), values: [1] })));
    expect(long.field).toBe("records[0].id");
    expect(long.limit).toBe(`at most ${idCharsMax} characters`);
    const accented = refused(() => parseInput(upsert, records({ id: "café", values: [1] })));
    expect(accented.message).toContain("ASCII");
    expect(parseInput(upsert, records({ id: "x".repeat(idCharsMax), values: [1] })).records).toHaveLength(1);
  });

  test("1001 records are refused, 1000 accepted", () => {
    const many = Array.from({ length: recordsPerUpsertMax + 1 }, (_, i) => ({ id: `r${i}`, values: [1] }));
    const error = refused(() => parseInput(upsert, { records: many }));
    expect(error.field).toBe("records");
    expect(error.limit).toBe(`at most ${recordsPerUpsertMax} items`);
    expect(error.received).toBe(`an array of ${recordsPerUpsertMax + 1}`);
    expect(parseInput(upsert, { records: many.slice(1) }).records).toHaveLength(recordsPerUpsertMax);
  });

  test("metadata: null values, nested objects, mixed lists and $ keys are refused", () => {
    const nullValue = refused(() =>
      parseInput(upsert, records({ id: "a", values: [1], metadata: { genre: null } })),
    );
    expect(nullValue.field).toBe("records[0].metadata.genre");
    expect(nullValue.message).toContain("null");
    const nested = refused(() =>
      parseInput(upsert, records({ id: "a", values: [1], metadata: { inner: { a: 1 } } })),
    );
    expect(nested.field).toBe("records[0].metadata.inner");
    expect(nested.message).toContain("nested");
    const mixed = refused(() =>
      parseInput(upsert, records({ id: "a", values: [1], metadata: { list: ["a", 2] } })),
    );
    expect(mixed.field).toBe("records[0].metadata.list[1]");
    const dollar = refused(() =>
      parseInput(upsert, records({ id: "a", values: [1], metadata: { $bad: 1 } })),
    );
    expect(dollar.field).toBe("records[0].metadata.$bad");
    const notObject = refused(() => parseInput(upsert, records({ id: "a", values: [1], metadata: ["a"] })));
    expect(notObject.field).toBe("records[0].metadata");
  });

  test("metadata over 40 KB of JSON is refused; exactly at the limit is accepted", () => {
    // {"text":"..."} is 11 bytes of framing around the string.
    const atLimit = { text: "a".repeat(metadataBytesMax - 11) };
    expect(JSON.stringify(atLimit).length).toBe(metadataBytesMax);
    expect(parseInput(metadata, atLimit)).toEqual(atLimit);
    const error = refused(() =>
      parseInput(upsert, records({ id: "a", values: [1], metadata: { text: "a".repeat(metadataBytesMax) } })),
    );
    expect(error.field).toBe("records[0].metadata");
    expect(error.limit).toBe(`at most ${metadataBytesMax} bytes as JSON`);
    // Multi-byte characters count by their UTF-8 bytes: 20,000 "é" are 40,000 bytes.
    const wide = refused(() => parseInput(metadata, { text: "é".repeat(20_480) }));
    expect(wide.received).toBe(`${20_480 * 2 + 11} bytes`);
  });

  test("sparse values are sorted ascending and keep their pairing", () => {
    const parsed = parseInput(
      upsert,
      records({ id: "a", sparseValues: { indices: [9, 2, 5], values: [0.9, 0.2, 0.5] } }),
    );
    const sparse = parsed.records[0]?.sparseValues;
    expect(Array.from(sparse?.indices ?? [])).toEqual([2, 5, 9]);
    expect(Array.from(sparse?.values ?? [])).toEqual([0.2, 0.5, 0.9].map(Math.fround));
  });

  test("sparse: duplicates, unequal lengths, non-uint32 indices and too many entries are refused", () => {
    const duplicate = refused(() =>
      parseInput(upsert, records({ id: "a", sparseValues: { indices: [4, 1, 4], values: [1, 2, 3] } })),
    );
    expect(duplicate.field).toBe("records[0].sparseValues.indices[2]");
    expect(duplicate.message).toContain("duplicate");
    const unequal = refused(() =>
      parseInput(upsert, records({ id: "a", sparseValues: { indices: [1, 2], values: [1] } })),
    );
    expect(unequal.field).toBe("records[0].sparseValues.values");
    const negative = refused(() =>
      parseInput(upsert, records({ id: "a", sparseValues: { indices: [-1], values: [1] } })),
    );
    expect(negative.field).toBe("records[0].sparseValues.indices[0]");
    const fraction = refused(() =>
      parseInput(upsert, records({ id: "a", sparseValues: { indices: [1.5], values: [1] } })),
    );
    expect(fraction.field).toBe("records[0].sparseValues.indices[0]");
    const big = refused(() =>
      parseInput(upsert, records({ id: "a", sparseValues: { indices: [2 ** 32], values: [1] } })),
    );
    expect(big.field).toBe("records[0].sparseValues.indices[0]");
    const indices = Array.from({ length: sparseEntriesMax + 1 }, (_, i) => i);
    const tooMany = refused(() =>
      parseInput(upsert, records({ id: "a", sparseValues: { indices, values: indices.map(() => 1) } })),
    );
    expect(tooMany.field).toBe("records[0].sparseValues.indices");
    const nan = refused(() =>
      parseInput(upsert, records({ id: "a", sparseValues: { indices: [1, 2], values: [1, Number.NaN] } })),
    );
    expect(nan.field).toBe("records[0].sparseValues.values[1]");
  });

  test("a record needs values or sparseValues, and unknown fields are refused", () => {
    expect(refused(() => parseInput(upsert, records({ id: "a" }))).field).toBe("records[0]");
    expect(
      refused(() => parseInput(upsert, records({ id: "a", values: [1], metdata: {} }))).message,
    ).toContain("metdata");
  });
});

describe("checkRecordsForIndex", () => {
  const dense = { dimension: 3, metric: "cosine", vectorType: "dense" } as const;
  const sparse = { metric: "dotproduct", vectorType: "sparse" } as const;
  const parse = (...items: unknown[]) => parseInput(upsert, records(...items)).records;

  test("wrong dimension names the record and both sizes", () => {
    const error = refused(() =>
      checkRecordsForIndex(parse({ id: "a", values: [1, 2, 3] }, { id: "b", values: [1, 2] }), dense),
    );
    expect(error.field).toBe("records[1].values");
    expect(error.limit).toBe("dimension 3");
    expect(error.received).toBe("2 values");
  });

  test("cosine refuses an all-zero vector; euclidean accepts it", () => {
    const zero = parse({ id: "a", values: [0, 0, 0] });
    expect(refused(() => checkRecordsForIndex(zero, dense)).field).toBe("records[0].values");
    expect(() => checkRecordsForIndex(zero, { ...dense, metric: "euclidean" })).not.toThrow();
  });

  test("dense index requires values; sparse values only with dotproduct", () => {
    const onlySparse = parse({ id: "a", sparseValues: { indices: [1], values: [1] } });
    expect(refused(() => checkRecordsForIndex(onlySparse, dense)).field).toBe("records[0].values");
    const hybrid = parse({ id: "a", values: [1, 2, 3], sparseValues: { indices: [1], values: [1] } });
    expect(refused(() => checkRecordsForIndex(hybrid, dense)).field).toBe("records[0].sparseValues");
    expect(() => checkRecordsForIndex(hybrid, { ...dense, metric: "dotproduct" })).not.toThrow();
  });

  test("sparse index requires sparseValues and refuses dense values", () => {
    expect(refused(() => checkRecordsForIndex(parse({ id: "a", values: [1] }), sparse)).field).toBe(
      "records[0].values",
    );
    // `values: []` means "no dense values", so a sparse record written that way is fine.
    const emptyDense = parse({ id: "a", values: [], sparseValues: { indices: [3], values: [1] } });
    expect(emptyDense[0]?.values).toBeUndefined();
    expect(() => checkRecordsForIndex(emptyDense, sparse)).not.toThrow();
  });
});
