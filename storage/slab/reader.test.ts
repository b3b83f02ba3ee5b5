import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Metric, VectorRecord } from "../types.ts";
import { NeedleError } from "../errors.ts";
import { type SlabBuildInput, encodeSlab, int8Code, int8Scale, inverseNorm } from "./encode.ts";
import { compareIds } from "./ids.ts";
import { SlabReader } from "./reader.ts";
import { type RandomRecordsOptions, randomId, randomInt, randomRecords, seededRandom } from "./testing.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? 20261130);
console.log(`slab reader tests: seed ${seed} (set NEEDLE_TEST_SEED to replay)`);

const directory = mkdtempSync(join(tmpdir(), "needle-slab-reader-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function buildInput(records: VectorRecord[], dim: number, metric: Metric = "cosine"): SlabBuildInput {
  return {
    slabId: "slab-0001",
    namespace: "ns-é",
    level: 1,
    dim,
    metric,
    records,
    minLsn: 7n,
    maxLsn: (1n << 63n) + 5n, // above 2^53 and 2^63: must survive as bigint
    sourceSlabs: ["slab-a", "slab-b"],
    createdAt: 1_764_460_800_000,
  };
}

/** Every row read back equals the record written (sparse sorted by index). */
function expectRoundTrip(reader: SlabReader, records: VectorRecord[], dim: number): void {
  expect(reader.info.rowCount).toBe(records.length);
  records.forEach((record, row) => {
    expect(reader.id(row)).toBe(record.id);
    expect(reader.rowOf(record.id)).toBe(row);
    if (dim > 0) {
      expect(reader.values(row)).toEqual(record.values!);
      expect(reader.inverseNorms[row]).toBe(inverseNorm(record.values!));
      const scale = int8Scale(record.values!);
      expect(reader.int8Scales[row]).toBe(scale);
      const codes = Array.from(reader.int8Codes.subarray(row * dim, (row + 1) * dim));
      expect(codes).toEqual(Array.from(record.values!, (value) => int8Code(value, scale)));
    } else {
      expect(reader.values(row)).toBeUndefined();
    }
    if (record.sparseValues === undefined) {
      expect(reader.sparseValues(row)).toBeUndefined();
    } else {
      const order = Array.from(record.sparseValues.indices.keys()).sort(
        (a, b) => record.sparseValues!.indices[a]! - record.sparseValues!.indices[b]!,
      );
      const sparse = reader.sparseValues(row)!;
      expect(Array.from(sparse.indices)).toEqual(order.map((i) => record.sparseValues!.indices[i]!));
      expect(Array.from(sparse.values)).toEqual(order.map((i) => record.sparseValues!.values[i]!));
    }
    expect(reader.metadata(row)).toEqual(record.metadata);
  });
  if (dim > 0) {
    const expected = new Float32Array(records.length * dim);
    records.forEach((record, row) => {
      expected.set(record.values!, row * dim);
    });
    expect(reader.vectors).toEqual(expected);
  } else {
    expect(reader.vectors.length).toBe(0);
    expect(reader.inverseNorms.length).toBe(0);
    expect(reader.int8Codes.length).toBe(0);
  }
}

const shapes: [string, RandomRecordsOptions][] = [
  ["dense with some metadata", { rows: 300, dim: 16, sparse: "none", metadata: "some" }],
  ["dense without metadata", { rows: 120, dim: 3, sparse: "none", metadata: "none" }],
  ["sparse-only with metadata", { rows: 200, dim: 0, sparse: "all", metadata: "all" }],
  ["sparse-only, some rows empty", { rows: 150, dim: 0, sparse: "some", metadata: "none" }],
  ["hybrid", { rows: 250, dim: 8, sparse: "some", metadata: "some" }],
  ["single row", { rows: 1, dim: 5, sparse: "all", metadata: "all" }],
];

describe("round trip", () => {
  shapes.forEach(([label, options], shapeIndex) => {
    test(`${label}: bytes and file`, () => {
      const random = seededRandom(seed + shapeIndex);
      const records = randomRecords(random, options);
      const input = buildInput(records, options.dim, shapeIndex % 2 === 0 ? "cosine" : "dotproduct");
      input.metadataIndex = shapeIndex === 0 ? new Uint8Array([1, 2, 3, 250]) : undefined;
      const file = encodeSlab(input);
      expect(file.length % 32).toBe(0);

      const fromBytes = SlabReader.fromBytes(file, `${label}.slab`);
      expectRoundTrip(fromBytes, records, options.dim);

      const path = join(directory, `shape-${shapeIndex}.slab`);
      writeFileSync(path, file);
      const mapped = SlabReader.openFile(path);
      expectRoundTrip(mapped, records, options.dim);
      // Sections are 64-byte aligned in the file and the mapping starts on a page.
      if (options.dim > 0) expect(mapped.vectors.byteOffset % 64).toBe(0);
      expect(mapped.info).toEqual({
        slabId: "slab-0001",
        namespace: "ns-é",
        level: 1,
        dim: options.dim,
        metric: input.metric,
        rowCount: records.length,
        minLsn: 7n,
        maxLsn: (1n << 63n) + 5n,
        sourceSlabs: ["slab-a", "slab-b"],
        createdAt: 1_764_460_800_000,
        byteLength: file.length,
        vectorIndex: "none",
      });
      if (shapeIndex === 0) expect(Array.from(mapped.metadataIndexBytes!)).toEqual([1, 2, 3, 250]);
      else expect(mapped.metadataIndexBytes).toBeUndefined();
      mapped.close();
    });
  });

  test("the same input encodes to the same bytes", () => {
    const records = randomRecords(seededRandom(seed), { rows: 50, dim: 4, sparse: "some", metadata: "some" });
    expect(encodeSlab(buildInput(records, 4))).toEqual(encodeSlab(buildInput(records, 4)));
  });

  test("an empty metadata index and empty metadata objects survive", () => {
    const records: VectorRecord[] = [
      { id: "a", values: new Float32Array([1, 2]), metadata: {} },
      { id: "b", values: new Float32Array([0, 0]) },
    ];
    const input = buildInput(records, 2);
    input.metadataIndex = new Uint8Array(0);
    const reader = SlabReader.fromBytes(encodeSlab(input), "empty-parts.slab");
    expect(reader.metadataIndexBytes).toEqual(new Uint8Array(0));
    expect(reader.metadata(0)).toEqual({});
    expect(reader.metadata(1)).toBeUndefined();
    expect(reader.inverseNorms[1]).toBe(0);
    expect(reader.int8Scales[1]).toBe(0);
  });

  test("bytes at an odd offset inside a larger buffer are read correctly", () => {
    const records = randomRecords(seededRandom(seed + 7), {
      rows: 40,
      dim: 6,
      sparse: "some",
      metadata: "some",
    });
    const file = encodeSlab(buildInput(records, 6));
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    expectRoundTrip(SlabReader.fromBytes(padded.subarray(3), "odd.slab"), records, 6);
  });

  test("record() brings values and metadata only when asked", () => {
    const records = randomRecords(seededRandom(seed + 8), {
      rows: 20,
      dim: 4,
      sparse: "all",
      metadata: "all",
    });
    const reader = SlabReader.fromBytes(encodeSlab(buildInput(records, 4)), "record.slab");
    expect(reader.record(3, { values: false, metadata: false })).toEqual({ id: records[3]!.id });
    const full = reader.record(3, { values: true, metadata: true });
    expect(full.values).toEqual(records[3]!.values!);
    expect(full.sparseValues?.indices.length).toBe(records[3]!.sparseValues!.indices.length);
    expect(full.metadata).toEqual(records[3]!.metadata!);
    expect(reader.record(3, { values: false, metadata: true }).values).toBeUndefined();
  });
});

describe("ids", () => {
  const random = seededRandom(seed + 100);
  const records = randomRecords(random, { rows: 500, dim: 2, sparse: "none", metadata: "none" });
  const reader = SlabReader.fromBytes(encodeSlab(buildInput(records, 2)), "ids.slab");
  const sortedIds = records.map((record) => record.id).sort(compareIds);

  test("rowOf finds every id and no absent one", () => {
    records.forEach((record, row) => {
      expect(reader.rowOf(record.id)).toBe(row);
    });
    const present = new Set(sortedIds);
    let absentChecked = 0;
    for (let attempt = 0; attempt < 2000; attempt++) {
      const candidate = randomId(random);
      if (present.has(candidate)) continue;
      expect(reader.rowOf(candidate)).toBe(-1);
      absentChecked++;
    }
    expect(absentChecked).toBeGreaterThan(100);
    for (const odd of ["", "\uD800", `${sortedIds[0]}\u0000`, `${sortedIds.at(-1)}z`, "\u{10FFFF}"]) {
      if (!present.has(odd)) expect(reader.rowOf(odd)).toBe(-1);
    }
  });

  test("compareIds orders like UTF-8 bytes", () => {
    for (let i = 0; i < 3000; i++) {
      const a = randomId(random);
      const b = randomId(random);
      expect(Math.sign(compareIds(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
    // The case where JavaScript's own order is wrong: U+E000 sorts before U+1F600 in UTF-8.
    expect(compareIds("\uE000", "😀")).toBeLessThan(0);
    expect("\uE000" < "😀").toBe(false);
  });

  test("idsFrom yields ids in sorted order from the first id >= from", () => {
    const all = [...reader.idsFrom("")];
    expect(all.map(([id]) => id)).toEqual(sortedIds);
    all.forEach(([id, row]) => {
      expect(reader.id(row)).toBe(id);
    });
    for (let i = 0; i < 200; i++) {
      const from = i % 2 === 0 ? sortedIds[randomInt(random, sortedIds.length)]! : randomId(random);
      const expected = sortedIds.filter((id) => compareIds(id, from) >= 0);
      expect([...reader.idsFrom(from)].map(([id]) => id)).toEqual(expected);
    }
    expect([...reader.idsFrom("\u{10FFFF}")]).toEqual([]);
  });

  test("rowOf and idsFrom on a slab of 20,000 rows", () => {
    const many = randomRecords(seededRandom(seed + 101), {
      rows: 20_000,
      dim: 0,
      sparse: "all",
      metadata: "none",
    });
    const large = SlabReader.fromBytes(encodeSlab(buildInput(many, 0)), "many.slab");
    many.forEach((record, row) => {
      if (large.rowOf(record.id) !== row)
        throw new Error(`rowOf(${JSON.stringify(record.id)}) is not ${row}`);
    });
    const ordered = many.map((record) => record.id).sort(compareIds);
    expect([...large.idsFrom("")].map(([id]) => id)).toEqual(ordered);
    for (const probe of [`${ordered[0]}\u0000`, `${ordered[100]}a`, ordered[5_000]!.slice(0, -1)]) {
      expect(large.rowOf(probe)).toBe(many.findIndex((record) => record.id === probe));
    }
  });

  test("a prefix page stops early without reading the rest", () => {
    const prefix = sortedIds[10]!.slice(0, 1);
    const page: string[] = [];
    for (const [id] of reader.idsFrom(prefix)) {
      if (!id.startsWith(prefix) || page.length === 5) break;
      page.push(id);
    }
    expect(page).toEqual(sortedIds.filter((id) => id.startsWith(prefix)).slice(0, 5));
  });
});

describe("lifetime", () => {
  test("copies survive close; views stay valid; the reader refuses use after close", () => {
    const records = randomRecords(seededRandom(seed + 200), {
      rows: 30,
      dim: 4,
      sparse: "some",
      metadata: "some",
    });
    const path = join(directory, "lifetime.slab");
    writeFileSync(path, encodeSlab(buildInput(records, 4)));
    const reader = SlabReader.openFile(path);
    const copy = reader.values(2)!;
    copy[0] = 1234; // a copy: the reader must not see this
    expect(reader.values(2)![0]).toBe(records[2]!.values![0]!);
    const view = reader.vectors;
    // Deleting a mapped file is safe on POSIX: the mapping keeps the inode alive.
    unlinkSync(path);
    reader.close();
    expect(reader.closed).toBe(true);
    expect(view[4]).toBe(records[1]!.values![0]!);
    expect(copy[1]).toBe(records[2]!.values![1]!);
    expect(() => reader.id(0)).toThrow(NeedleError);
    expect(() => reader.vectors).toThrow(NeedleError);
  });

  test("rows out of range are refused", () => {
    const reader = SlabReader.fromBytes(
      encodeSlab(buildInput([{ id: "x", values: new Float32Array([1]) }], 1)),
      "range.slab",
    );
    for (const row of [-1, 1, 0.5, Number.NaN]) {
      expect(() => reader.id(row)).toThrow(NeedleError);
      expect(() => reader.values(row)).toThrow(NeedleError);
    }
  });

  test("missing and unreadable files are IO errors naming the path", () => {
    const path = join(directory, "absent.slab");
    try {
      SlabReader.openFile(path);
      throw new Error("opened a missing file");
    } catch (error) {
      expect(error).toBeInstanceOf(NeedleError);
      expect((error as NeedleError).code).toBe("IO");
      expect((error as NeedleError).file).toBe(path);
    }
  });
});
