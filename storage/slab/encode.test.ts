import { describe, expect, test } from "bun:test";
import type { VectorRecord } from "../types.ts";
import { NeedleError } from "../errors.ts";
import { type SlabBuildInput, encodeSlab, int8Code, int8Scale, inverseNorm } from "./encode.ts";
import { SlabReader } from "./reader.ts";
import { parseRaw } from "./testing.ts";

function input(records: VectorRecord[], overrides: Partial<SlabBuildInput> = {}): SlabBuildInput {
  return {
    slabId: "s1",
    namespace: "",
    level: 0,
    dim: 2,
    metric: "cosine",
    records,
    minLsn: 0n,
    maxLsn: 0n,
    sourceSlabs: [],
    createdAt: 0,
    ...overrides,
  };
}

const dense = (id: string, a = 1, b = 2): VectorRecord => ({ id, values: new Float32Array([a, b]) });

function expectInvalid(build: () => unknown, field: string): void {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(NeedleError);
    expect((error as NeedleError).code).toBe("INVALID_ARGUMENT");
    expect((error as NeedleError).field).toBe(field);
    return;
  }
  throw new Error(`expected INVALID_ARGUMENT on ${field}`);
}

describe("encodeSlab refuses bad input before writing", () => {
  test("a slab holds at least one record", () => {
    expectInvalid(() => encodeSlab(input([])), "records");
  });

  test("duplicate ids", () => {
    expectInvalid(() => encodeSlab(input([dense("a"), dense("b"), dense("a")])), "records[2].id");
  });

  test("ids: empty, lone surrogate, too long", () => {
    expectInvalid(() => encodeSlab(input([dense("")])), "records[0].id");
    expectInvalid(() => encodeSlab(input([dense("ok"), dense("x\uD800")])), "records[1].id");
    expectInvalid(() => encodeSlab(input([dense("中".repeat(700))])), "records[0].id");
  });

  test("dense values: wrong length, wrong type, not finite, present at dim 0", () => {
    expectInvalid(() => encodeSlab(input([{ id: "a", values: new Float32Array(3) }])), "records[0].values");
    expectInvalid(() => encodeSlab(input([{ id: "a" }])), "records[0].values");
    expectInvalid(
      () => encodeSlab(input([{ id: "a", values: [1, 2] as unknown as Float32Array }])),
      "records[0].values",
    );
    expectInvalid(() => encodeSlab(input([dense("a", Number.NaN)])), "records[0].values[0]");
    expectInvalid(() => encodeSlab(input([dense("a", 1, Number.POSITIVE_INFINITY)])), "records[0].values[1]");
    expectInvalid(() => encodeSlab(input([dense("a")], { dim: 0 })), "records[0].values");
  });

  test("sparse values: unequal lengths, duplicate indices, not finite", () => {
    const sparse = (indices: number[], values: number[]): VectorRecord => ({
      id: "s",
      sparseValues: { indices: new Uint32Array(indices), values: new Float32Array(values) },
    });
    expectInvalid(
      () => encodeSlab(input([sparse([1, 2], [1])], { dim: 0 })),
      "records[0].sparseValues.values",
    );
    expectInvalid(
      () => encodeSlab(input([sparse([4, 1, 4], [1, 2, 3])], { dim: 0 })),
      "records[0].sparseValues.indices",
    );
    expectInvalid(
      () => encodeSlab(input([sparse([1], [Number.NaN])], { dim: 0 })),
      "records[0].sparseValues.values[0]",
    );
  });

  test("metadata must be flat with string lists", () => {
    const withMetadata = (metadata: unknown): VectorRecord => ({
      ...dense("m"),
      metadata: metadata as never,
    });
    expectInvalid(() => encodeSlab(input([withMetadata({ a: { nested: 1 } })])), "records[0].metadata");
    expectInvalid(() => encodeSlab(input([withMetadata({ a: null })])), "records[0].metadata");
    expectInvalid(() => encodeSlab(input([withMetadata({ a: [1, 2] })])), "records[0].metadata");
    expectInvalid(() => encodeSlab(input([withMetadata({ a: Number.NaN })])), "records[0].metadata");
    expectInvalid(() => encodeSlab(input([withMetadata([1])])), "records[0].metadata");
  });

  test("a slab too large to map is refused before its values are read", () => {
    // Every record shares one array: the size check must come before the value checks.
    const shared = new Float32Array(20_000);
    const records = Array.from({ length: 43_000 }, (_, row) => ({ id: `r${row}`, values: shared }));
    expectInvalid(() => encodeSlab(input(records, { dim: 20_000 })), "records");
  });

  test("identity fields and LSNs", () => {
    expectInvalid(() => encodeSlab(input([dense("a")], { slabId: "" })), "slabId");
    expectInvalid(() => encodeSlab(input([dense("a")], { level: -1 })), "level");
    expectInvalid(() => encodeSlab(input([dense("a")], { dim: 1.5 })), "dim");
    expectInvalid(() => encodeSlab(input([dense("a")], { metric: "manhattan" as never })), "metric");
    expectInvalid(() => encodeSlab(input([dense("a")], { minLsn: 5n, maxLsn: 4n })), "minLsn");
    expectInvalid(() => encodeSlab(input([dense("a")], { maxLsn: 1n << 64n })), "maxLsn");
    expectInvalid(() => encodeSlab(input([dense("a")], { minLsn: 1 as never })), "minLsn");
    expectInvalid(() => encodeSlab(input([dense("a")], { sourceSlabs: [""] })), "sourceSlabs[0]");
  });
});

describe("encodeSlab output", () => {
  test("sparse values are stored sorted by index; empty sparse values are stored as none", () => {
    const records: VectorRecord[] = [
      {
        id: "a",
        sparseValues: { indices: new Uint32Array([9, 3, 5]), values: new Float32Array([0.9, 0.3, 0.5]) },
      },
      { id: "b", sparseValues: { indices: new Uint32Array(0), values: new Float32Array(0) } },
    ];
    const reader = SlabReader.fromBytes(encodeSlab(input(records, { dim: 0 })), "sorted.slab");
    const sparse = reader.sparseValues(0)!;
    expect(Array.from(sparse.indices)).toEqual([3, 5, 9]);
    expect(sparse.values).toEqual(new Float32Array([0.3, 0.5, 0.9]));
    expect(reader.sparseValues(1)).toBeUndefined();
    // The input was not modified.
    expect(Array.from(records[0]!.sparseValues!.indices)).toEqual([9, 3, 5]);
  });

  test("sections start on 64-byte boundaries, in ascending kind order, padding zero", () => {
    const file = encodeSlab(
      input([dense("a"), { ...dense("b"), metadata: { x: "y" } }], { metadataIndex: new Uint8Array(5) }),
    );
    const view = new DataView(file.buffer);
    const footerStart = file.length - 64;
    const tableOffset = Number(view.getBigUint64(footerStart, true));
    expect(tableOffset % 64).toBe(0);
    let previousKind = 0;
    let previousEnd = 64;
    for (let index = 0; index < view.getUint32(footerStart + 16, true); index++) {
      const entryStart = tableOffset + 32 * index;
      const kind = view.getUint32(entryStart, true);
      const offset = Number(view.getBigUint64(entryStart + 8, true));
      const length = Number(view.getBigUint64(entryStart + 16, true));
      expect(kind).toBeGreaterThan(previousKind);
      expect(offset % 64).toBe(0);
      expect(file.subarray(previousEnd, offset).every((byte) => byte === 0)).toBe(true);
      previousKind = kind;
      previousEnd = offset + length;
    }
    expect(parseRaw(file).sections.map((section) => section.kind)).toEqual([1, 2, 3, 4, 5, 6, 7, 9, 10]);
  });

  test("only the sections the data needs are written", () => {
    const kinds = (file: Uint8Array) => parseRaw(file).sections.map((section) => section.kind);
    expect(kinds(encodeSlab(input([dense("a")])))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(
      kinds(
        encodeSlab(
          input(
            [{ id: "a", sparseValues: { indices: new Uint32Array([1]), values: new Float32Array([1]) } }],
            {
              dim: 0,
            },
          ),
        ),
      ),
    ).toEqual([1, 2, 3, 8]);
  });

  test("inverse norms and int8 quantization", () => {
    expect(inverseNorm(new Float32Array([3, 4]))).toBe(Math.fround(0.2));
    expect(inverseNorm(new Float32Array([0, 0]))).toBe(0);
    const values = new Float32Array([-2.54, 1.27, 0.004, -0.005, 0]);
    const scale = int8Scale(values);
    expect(scale).toBe(Math.fround(2.54 / 127));
    const codes = Array.from(values, (value) => int8Code(value, scale));
    expect(codes).toEqual([-127, 64, 0, 0, 0]);
    expect(Object.is(int8Code(-0.001, scale), -0)).toBe(false);
    expect(int8Code(1, 0)).toBe(0);
    // Every code is within -127..127 and reconstructs within half a step.
    values.forEach((value, i) => {
      expect(Math.abs(codes[i]! * scale - value)).toBeLessThanOrEqual(scale / 2 + 1e-7);
    });
  });
});
