/**
 * Packed slabs: records of many namespaces under composite keys, written sorted, give each
 * namespace one contiguous run found by its prefix (names that are prefixes of each other,
 * ids that look like other namespaces); a slab whose run is not contiguous is CORRUPTION.
 */
import { expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { NeedleError } from "../errors.ts";
import { encodeSlab } from "../slab/encode.ts";
import { compareIds } from "../slab/ids.ts";
import { SlabReader } from "../slab/reader.ts";
import type { VectorRecord } from "../types.ts";
import { idOfPackedKey, packedKey, packedSlabNamespace, runPrefix } from "./packed-keys.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);

function packedSlab(records: VectorRecord[], sorted = true): SlabReader {
  const ordered = sorted ? [...records].sort((a, b) => compareIds(a.id, b.id)) : records;
  const bytes = encodeSlab({
    slabId: "packed-1",
    namespace: packedSlabNamespace,
    level: 0,
    dim: 2,
    metric: "euclidean",
    records: ordered,
    minLsn: 1n,
    maxLsn: 9n,
    sourceSlabs: [],
    createdAt: 1_764_460_800_000,
  });
  return SlabReader.fromBytes(bytes, "packed-1.slab");
}

test(`every namespace's run is its rows, contiguous, and holds exactly its ids (seed ${seed})`, () => {
  const random = seededRandom(seed);
  const names = ["a", "ab", "a b", "abc", "b", "", "__default__", "t1", "t10", "t1\u0001"];
  const model = new Map<string, Set<string>>();
  const records: VectorRecord[] = [];
  for (const name of names) {
    const ids = new Set<string>();
    const count = Math.floor(random() * 6);
    for (let i = 0; i < count; i++)
      ids.add(random() < 0.3 ? `ab\u0000x${i}` : `id-${Math.floor(random() * 50)}`);
    model.set(name, ids);
    for (const id of ids)
      records.push({ id: packedKey(name, id), values: new Float32Array([random(), random()]) });
  }
  const reader = packedSlab(records);
  for (const [name, ids] of model) {
    const { start, end } = reader.rowRangeOfPrefix(runPrefix(name));
    expect(end - start).toBe(ids.size);
    const found = new Set<string>();
    for (let row = start; row < end; row++) found.add(idOfPackedKey(reader.id(row)));
    expect(found).toEqual(ids);
  }
  expect(reader.rowRangeOfPrefix(runPrefix("missing"))).toEqual({ start: 0, end: 0 });
  expect(reader.info.namespace).toBe(packedSlabNamespace);
});

test("a run whose rows are not contiguous is CORRUPTION naming the file", () => {
  const records: VectorRecord[] = ["a", "b", "a"].map((name, i) => ({
    id: packedKey(name, `r${i}`),
    values: new Float32Array([i, i]),
  }));
  const reader = packedSlab(records, false);
  let caught: unknown;
  try {
    reader.rowRangeOfPrefix(runPrefix("a"));
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(NeedleError);
  expect((caught as NeedleError).code).toBe("CORRUPTION");
  expect((caught as NeedleError).file).toBe("packed-1.slab");
});

test("a run view reads like a slab of the namespace's own rows", async () => {
  const { RunView } = await import("./run-view.ts");
  const records: VectorRecord[] = [];
  for (const [name, count] of [
    ["a", 3],
    ["b", 2],
    ["c", 4],
  ] as const) {
    for (let i = 0; i < count; i++) {
      records.push({
        id: packedKey(name, `id${i}`),
        values: new Float32Array([name.charCodeAt(0), i]),
        metadata: { tenant: name, i },
      });
    }
  }
  const reader = packedSlab(records);
  let released = 0;
  const view = new RunView(reader, "b", () => released++);
  expect(view.info.rowCount).toBe(2);
  expect(view.rowOffset).toBe(3);
  expect(Array.from(view.vectors)).toEqual([98, 0, 98, 1]);
  expect(view.inverseNorms.length).toBe(2);
  expect(view.int8Scales.length).toBe(2);
  expect(view.id(1)).toBe("id1");
  expect(view.rowOf("id0")).toBe(0);
  expect(view.rowOf("id3")).toBe(-1); // c's id3, a row of another run
  expect([...view.idsFrom("")]).toEqual([
    ["id0", 0],
    ["id1", 1],
  ]);
  expect(view.record(0, { values: false, metadata: true })).toEqual({
    id: "id0",
    metadata: { tenant: "b", i: 0 },
  });
  expect(() => view.id(2)).toThrow(RangeError);
  view.close();
  expect(released).toBe(1);
});
