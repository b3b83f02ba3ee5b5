/**
 * VECTOR_INDEX (format 1.1): an IVF slab round-trips, is marked 1.1, and every structural
 * defect of the section is CORRUPTION naming the file even when its checksum is right (the
 * test helpers recompute checksums); the writer refuses an index that does not fit its rows.
 */
import { describe, expect, test } from "bun:test";
import { NeedleError } from "../errors.ts";
import type { Metric } from "../types.ts";
import { encodeSlab } from "./encode.ts";
import { SectionKind } from "./format.ts";
import { SlabReader } from "./reader.ts";
import { layoutRaw, parseRaw, randomRecords, seededRandom } from "./testing.ts";
import type { IvfIndex } from "./vector-index.ts";

const dim = 4;
const rows = 12;

function index(metric: Metric, overrides: Partial<IvfIndex> = {}): IvfIndex {
  const centroidDim = metric === "dotproduct" ? dim + 1 : dim;
  return {
    partitionCount: 3,
    centroidDim,
    centroidMetric: metric === "cosine" ? "cosine" : "euclidean",
    probes: 2,
    seed: 77,
    recallInDistribution: 0.98,
    recallOutOfDistribution: 0.975,
    rescoreFactor: 4,
    centroids: Float32Array.from({ length: 3 * centroidDim }, (_, i) => i / 10),
    offsets: new Uint32Array([0, 5, 5, rows]),
    ...overrides,
  };
}

function build(metric: Metric, vectorIndex: IvfIndex | undefined): Uint8Array {
  return encodeSlab({
    slabId: "ivf",
    namespace: "ns",
    level: 1,
    dim,
    metric,
    records: randomRecords(seededRandom(5), { rows, dim, sparse: "none", metadata: "some" }),
    minLsn: 1n,
    maxLsn: 2n,
    sourceSlabs: ["a", "b"],
    createdAt: 1_764_460_800_000,
    vectorIndex,
  });
}

function caught(action: () => unknown): NeedleError {
  try {
    action();
  } catch (error) {
    if (error instanceof NeedleError) return error;
    throw error;
  }
  throw new Error("expected an error");
}

describe("VECTOR_INDEX", () => {
  for (const metric of ["cosine", "euclidean", "dotproduct"] as const) {
    test(`an IVF slab round-trips (${metric}) and is format 1.1; one without stays 1.0`, () => {
      const written = index(metric);
      const bytes = build(metric, written);
      const reader = SlabReader.fromBytes(bytes, "ivf.slab");
      expect(reader.info.vectorIndex).toBe("ivf");
      const read = reader.vectorIndex!;
      expect({ ...read, centroids: [...read.centroids], offsets: [...read.offsets] }).toEqual({
        ...written,
        recallInDistribution: Math.fround(0.98),
        recallOutOfDistribution: Math.fround(0.975),
        centroids: [...written.centroids].map(Math.fround),
        offsets: [...written.offsets],
      });
      expect(parseRaw(bytes).versionMinor).toBe(1);
      const plain = build(metric, undefined);
      expect(parseRaw(plain).versionMinor).toBe(0);
      expect(SlabReader.fromBytes(plain, "plain.slab").vectorIndex).toBeUndefined();
    });
  }

  test("every structural defect is CORRUPTION naming the file, checksums notwithstanding", () => {
    const good = build("euclidean", index("euclidean"));
    const section = parseRaw(good).sections.find((s) => s.kind === SectionKind.vectorIndex)!.bytes;
    const u32 = (at: number, value: number) => (bytes: Uint8Array) => {
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, value, true);
      return bytes;
    };
    const f32 = (at: number, value: number) => (bytes: Uint8Array) => {
      new DataView(bytes.buffer, bytes.byteOffset).setFloat32(at, value, true);
      return bytes;
    };
    const offsetsAt = section.length - 4 * 4;
    const defects: [string, (bytes: Uint8Array) => Uint8Array][] = [
      ["index type", u32(0, 2)],
      ["index version", u32(4, 9)],
      ["more partitions than rows", u32(8, rows + 1)],
      ["centroid dimension", u32(12, dim + 1)],
      ["centroid metric", u32(16, 0)],
      ["probes beyond the partitions", u32(20, 4)],
      ["zero probes", u32(20, 0)],
      ["a rescore factor above its maximum", u32(36, 1_001)],
      [
        "reserved byte",
        (bytes) => {
          bytes[40] = 1;
          return bytes;
        },
      ],
      ["a non-finite centroid", f32(64, Number.NaN)],
      ["offsets not starting at 0", u32(offsetsAt, 1)],
      ["decreasing offsets", u32(offsetsAt + 8, 3)],
      ["offsets not ending at the row count", u32(offsetsAt + 12, rows - 1)],
      ["a truncated section", (bytes) => bytes.subarray(0, bytes.length - 4)],
    ];
    for (const [name, damage] of defects) {
      const raw = parseRaw(good);
      const entry = raw.sections.find((s) => s.kind === SectionKind.vectorIndex)!;
      const copy = entry.bytes.slice();
      entry.bytes = damage(copy);
      const file = `${name}.slab`;
      const error = caught(() => SlabReader.fromBytes(layoutRaw(raw), file));
      expect({ name, code: error.code, file: error.file }).toEqual({ name, code: "CORRUPTION", file });
      expect(error.message).toContain("VECTOR_INDEX");
    }
  });

  test("a version 1 section (before the int8 stage) reads with rescoreFactor 0", () => {
    const raw = parseRaw(build("cosine", index("cosine")));
    const entry = raw.sections.find((s) => s.kind === SectionKind.vectorIndex)!;
    const view = new DataView(entry.bytes.buffer, entry.bytes.byteOffset);
    view.setUint32(4, 1, true);
    view.setUint32(36, 0, true);
    const read = SlabReader.fromBytes(layoutRaw(raw), "v1.slab").vectorIndex!;
    expect(read.rescoreFactor).toBe(0);
    expect(read.probes).toBe(2);
    // In version 1 bytes 36..64 are all reserved: a factor there is a defect.
    view.setUint32(36, 4, true);
    expect(caught(() => SlabReader.fromBytes(layoutRaw(raw), "v1.slab")).code).toBe("CORRUPTION");
  });

  test("the writer refuses an index that does not fit the rows, naming vectorIndex", () => {
    for (const bad of [
      index("euclidean", { offsets: new Uint32Array([0, 5, 5, rows - 1]) }),
      index("euclidean", { offsets: new Uint32Array([0, 6, 5, rows]) }),
      index("euclidean", { probes: 4 }),
      index("euclidean", { centroids: new Float32Array(5) }),
      index("euclidean", { partitionCount: rows + 1 }),
      index("euclidean", { rescoreFactor: 1_001 }),
      index("euclidean", { rescoreFactor: 2.5 }),
    ]) {
      const error = caught(() => build("euclidean", bad));
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.field).toBe("vectorIndex");
    }
  });
});
