import { describe, expect, test } from "bun:test";
import { NeedleError } from "../errors.ts";
import { encodeSlab, SlabReader } from "../slab/mod.ts";
import { compareIds, Memtable } from "./mod.ts";

function record(id: string, x: number) {
  return { id, values: Float32Array.from([x, x + 1, x + 2]), metadata: { x } };
}

function setBits(live: Uint8Array, rows: number): number {
  let count = 0;
  for (let row = 0; row < rows; row++) count += (live[row >> 3]! >> (row & 7)) & 1;
  return count;
}

describe("memtable", () => {
  test("append, overwrite by kill + append, and delete keep one live row per id", () => {
    const memtable = new Memtable(3);
    for (let i = 0; i < 1000; i++) memtable.append(record(`id${i}`, i), BigInt(i + 1));
    expect(memtable.rowCount).toBe(1000);
    // Overwrite every third id.
    for (let i = 0; i < 1000; i += 3) {
      expect(memtable.kill(`id${i}`)).toBe(true);
      memtable.append(record(`id${i}`, -i), 2000n);
    }
    expect(memtable.kill("id1")).toBe(true);
    expect(memtable.kill("id1")).toBe(false);
    expect(memtable.kill("never")).toBe(false);
    expect(memtable.liveCount).toBe(999);
    expect(setBits(memtable.live, memtable.rowCount)).toBe(memtable.liveCount);
    const row = memtable.rowOf("id3");
    expect(memtable.isLive(row)).toBe(true);
    expect(Array.from(memtable.values(row)!)).toEqual([-3, -2, -1]);
    expect(memtable.metadata(row)).toEqual({ x: -3 });
    expect(memtable.rowOf("id1")).toBe(-1);
    // Views cover every row, growth preserved earlier rows.
    expect(memtable.vectors.length).toBe(memtable.rowCount * 3);
    expect(memtable.vectors[memtable.rowOf("id2") * 3]).toBe(2);
    expect(memtable.inverseNorms[memtable.rowOf("id2")]).toBeCloseTo(1 / Math.sqrt(4 + 9 + 16), 6);
  });

  test("sorted live ids are in compareIds order and follow changes", () => {
    const memtable = new Memtable(3);
    for (const id of ["b", "a", "c", "aa", "B"]) memtable.append(record(id, 1), 1n);
    expect(memtable.sortedLiveIds()).toEqual(["B", "a", "aa", "b", "c"]);
    memtable.kill("aa");
    expect(memtable.sortedLiveIds()).toEqual(["B", "a", "b", "c"]);
    expect(["b", "a", "B"].sort(compareIds)).toEqual(["B", "a", "b"]);
  });

  test("killAll clears every row; a frozen memtable takes kills but no appends", () => {
    const memtable = new Memtable(3);
    memtable.append(record("a", 1), 1n);
    memtable.append(record("b", 2), 2n);
    memtable.freeze();
    expect(() => memtable.append(record("c", 3), 3n)).toThrow(NeedleError);
    // Records handed out are copies, never views of the memtable's buffer.
    expect(Array.from(memtable.record(1).values!)).toEqual([2, 3, 4]);
    expect(memtable.record(1).values!.buffer).not.toBe(memtable.vectors.buffer);
    expect(memtable.kill("a")).toBe(true);
    memtable.killAll();
    expect(memtable.liveCount).toBe(0);
    expect(memtable.liveRows()).toEqual([]);
  });

  test("invariants are asserted: duplicate live id, LSN going backwards, wrong dimension", () => {
    const memtable = new Memtable(3);
    memtable.append(record("a", 1), 5n);
    expect(() => memtable.append(record("a", 1), 6n)).toThrow(NeedleError);
    expect(() => memtable.append(record("b", 1), 4n)).toThrow(NeedleError);
    expect(() => memtable.append({ id: "c", values: new Float32Array(2) }, 7n)).toThrow(NeedleError);
  });

  test("ids sort and inverse norms match a slab written from the same rows", () => {
    // Non-ASCII ids where UTF-16 order and UTF-8 order disagree, and a vector so small its
    // inverse norm overflows float32 (stored as 0 on both sides).
    const memtable = new Memtable(3);
    const rows = [
      { id: "\uE000", values: Float32Array.from([1e-40, 0, 0]) },
      { id: "\u{1F600}", values: Float32Array.from([3, 4, 0]) },
      { id: "b", values: Float32Array.from([0, 0, 0]) },
      { id: "a", values: Float32Array.from([1, 2, 2]) },
    ];
    for (const [i, row] of rows.entries()) memtable.append(row, BigInt(i + 1));
    memtable.freeze();
    const records = memtable.liveRows().map((row) => memtable.record(row));
    const slab = SlabReader.fromBytes(
      encodeSlab({
        slabId: "s1",
        namespace: "",
        level: 0,
        dim: 3,
        metric: "cosine",
        records,
        minLsn: 1n,
        maxLsn: 4n,
        sourceSlabs: [],
        createdAt: 0,
      }),
      "memtable-as-slab",
    );
    expect(memtable.sortedLiveIds()).toEqual([...slab.idsFrom("")].map(([id]) => id));
    for (const { id } of rows) {
      const norm = memtable.inverseNorms[memtable.rowOf(id)]!;
      expect(Number.isFinite(norm)).toBe(true);
      expect(norm).toBe(slab.inverseNorms[slab.rowOf(id)]!);
    }
  });
});
