import { beforeAll, describe, expect, test } from "bun:test";
import {
  bitmapHeapBytes,
  initBitmaps,
  leakedBitmapCount,
  RowBitmap,
  undisposedBitmapCount,
} from "./bitmap.ts";
import { NeedleError } from "./errors.ts";
import { seededRandom } from "../ffi/seeded-random.ts";

beforeAll(async () => {
  await initBitmaps();
});

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`bitmap.test seed=${seed}`);

function randomRows(random: () => number, count: number, end: number): number[] {
  return Array.from({ length: count }, () => Math.floor(random() * end));
}

describe("RowBitmap", () => {
  test("set operations agree with plain sets", () => {
    const random = seededRandom(seed);
    for (let round = 0; round < 50; round++) {
      const end = 1 + Math.floor(random() * 200_000);
      const left = randomRows(random, Math.floor(random() * 3000), end);
      const right = randomRows(random, Math.floor(random() * 3000), end);
      const leftSet = new Set(left);
      const rightSet = new Set(right);
      using a = RowBitmap.fromUint32Array(left);
      using b = RowBitmap.fromUint32Array(Uint32Array.from(right));
      const sorted = (values: Iterable<number>) => [...values].sort((x, y) => x - y);
      expect(a.size).toBe(leftSet.size);
      expect([...a.toUint32Array()]).toEqual(sorted(leftSet));
      using both = a.and(b);
      expect([...both.toUint32Array()]).toEqual(sorted([...leftSet].filter((row) => rightSet.has(row))));
      using either = a.or(b);
      expect([...either.toUint32Array()]).toEqual(sorted(new Set([...left, ...right])));
      using only = a.andNot(b);
      expect([...only.toUint32Array()]).toEqual(sorted([...leftSet].filter((row) => !rightSet.has(row))));
      using inPlace = a.clone();
      inPlace.andNotInPlace(b).orInPlace(b).andInPlace(b);
      expect(inPlace.isEqual(b)).toBe(true);
      using flipped = a.clone().flipRange(0, end);
      expect(flipped.size).toBe(end - leftSet.size);
      expect([...a]).toEqual(sorted(leftSet));
      for (const row of right.slice(0, 20)) expect(a.has(row)).toBe(leftSet.has(row));
    }
  });

  test("iteration crosses chunk boundaries in order", () => {
    using range = RowBitmap.fromRange(10, 10_010);
    const rows = [...range];
    expect(rows.length).toBe(10_000);
    expect(rows[0]).toBe(10);
    expect(rows[9_999]).toBe(10_009);
    expect(rows.every((row, i) => i === 0 || row === rows[i - 1]! + 1)).toBe(true);
  });

  test("portable serialization round trips, including run-compressed ranges", () => {
    const random = seededRandom(seed + 1);
    for (let round = 0; round < 30; round++) {
      using bitmap = RowBitmap.fromUint32Array(randomRows(random, Math.floor(random() * 5000), 1 << 20));
      bitmap.addRange(500_000, 500_000 + Math.floor(random() * 70_000));
      const bytes = bitmap.serialize();
      using back = RowBitmap.deserialize(bytes, "test.bin");
      expect(back.isEqual(bitmap)).toBe(true);
    }
    using empty = RowBitmap.deserialize(new Uint8Array(0), "test.bin");
    expect(empty.isEmpty).toBe(true);
  });

  test("corrupt bytes, trailing bytes and out-of-bound rows are CORRUPTION naming the file", () => {
    using bitmap = RowBitmap.fromUint32Array([1, 5, 70_000, 900_000]);
    const bytes = bitmap.serialize();
    const cases: Uint8Array[] = [
      bytes.subarray(0, bytes.length - 1),
      new Uint8Array([...bytes, 0]),
      new Uint8Array([1, 2, 3]),
      Uint8Array.from(bytes, (byte, i) => (i < 4 ? byte ^ 0xff : byte)),
    ];
    for (const input of cases) {
      let caught: unknown;
      try {
        RowBitmap.deserialize(input, "slab-7.bin").dispose();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(NeedleError);
      expect((caught as NeedleError).code).toBe("CORRUPTION");
      expect((caught as NeedleError).file).toBe("slab-7.bin");
    }
    expect(() => RowBitmap.deserialize(bytes, "slab-7.bin", 900_000)).toThrow(/beyond the 900000 rows/);
    const live = undisposedBitmapCount();
    try {
      RowBitmap.deserialize(bytes, "slab-7.bin", 10);
    } catch {}
    expect(undisposedBitmapCount()).toBe(live);
  });

  test("mutated bytes give CORRUPTION or a well-formed bitmap within its bound", () => {
    const random = seededRandom(seed + 3);
    const rowEnd = 300_000;
    using source = RowBitmap.fromUint32Array(randomRows(random, 3000, rowEnd)); // array containers
    source.addRange(100_000, 120_000); // a run container
    source.addMany(Uint32Array.from({ length: 10_000 }, (_, i) => 200_000 + i * 3)); // a bitset container
    const original = source.serialize();
    const outcomes = { corruption: 0, valid: 0 };
    for (let round = 0; round < 1500; round++) {
      const bytes = original.slice();
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) {
        bytes[Math.floor(random() * bytes.length)]! ^= 1 << Math.floor(random() * 8);
      }
      const input = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
      let bitmap: RowBitmap;
      try {
        bitmap = RowBitmap.deserialize(input, "mutated.bin", rowEnd);
      } catch (error) {
        if (!(error instanceof NeedleError) || error.code !== "CORRUPTION") {
          throw new Error(`round ${round} (seed=${seed}) threw ${String(error)}`);
        }
        outcomes.corruption++;
        continue;
      }
      using _ = bitmap;
      const rows = bitmap.toUint32Array();
      expect(rows.length).toBe(bitmap.size);
      for (let i = 1; i < rows.length; i++)
        if (rows[i - 1]! >= rows[i]!) throw new Error(`round ${round}: unsorted`);
      expect(bitmap.maximum() ?? 0).toBeLessThan(rowEnd);
      outcomes.valid++;
    }
    console.log(`bitmap mutation outcomes: ${JSON.stringify(outcomes)}`);
    expect(outcomes.corruption).toBeGreaterThan(500);
    expect(outcomes.valid).toBeGreaterThan(0);
  });

  test("dispose is idempotent and use after dispose is an INTERNAL error", () => {
    const before = undisposedBitmapCount();
    const bitmap = RowBitmap.fromUint32Array([1, 2, 3]);
    expect(undisposedBitmapCount()).toBe(before + 1);
    bitmap.dispose();
    bitmap.dispose();
    bitmap[Symbol.dispose]();
    expect(bitmap.isDisposed).toBe(true);
    expect(undisposedBitmapCount()).toBe(before);
    expect(() => bitmap.size).toThrow(/after dispose/);
    {
      using scoped = RowBitmap.fromRange(0, 100);
      expect(scoped.size).toBe(100);
      expect(undisposedBitmapCount()).toBe(before + 1);
    }
    expect(undisposedBitmapCount()).toBe(before);
  });

  test("the finalizer frees and counts bitmaps dropped without dispose()", async () => {
    const undisposed = undisposedBitmapCount();
    const leaked = leakedBitmapCount();
    (() => {
      for (let i = 0; i < 100; i++) RowBitmap.fromRange(0, 1000 + i);
    })();
    expect(undisposedBitmapCount()).toBe(undisposed + 100);
    // Collection is up to the engine; a conservative stack scan may keep a few alive.
    for (let round = 0; round < 50 && leakedBitmapCount() - leaked < 100; round++) {
      Bun.gc(true);
      await Bun.sleep(1);
    }
    const freed = leakedBitmapCount() - leaked;
    expect(freed).toBeGreaterThan(50);
    expect(undisposedBitmapCount()).toBe(undisposed + 100);
  });

  test("no WASM memory leaks across many create/dispose cycles", () => {
    const random = seededRandom(seed + 2);
    const values = Uint32Array.from(randomRows(random, 5_000, 1 << 22));
    const cycle = () => {
      using a = RowBitmap.fromUint32Array(values);
      using b = a.clone();
      using c = a.or(b);
      using d = RowBitmap.deserialize(c.serialize(), "cycle.bin");
      expect(d.size).toBe(a.size);
    };
    for (let i = 0; i < 20; i++) cycle();
    const heapBefore = bitmapHeapBytes();
    const liveBefore = undisposedBitmapCount();
    for (let i = 0; i < 300; i++) cycle();
    expect(undisposedBitmapCount()).toBe(liveBefore);
    expect(bitmapHeapBytes()).toBe(heapBefore);

    // Control: the probe does see memory held by bitmaps that are not disposed. Each clone of
    // `dense` holds 16 bitmap containers (128 KiB); hold enough to outgrow the free space.
    using dense = RowBitmap.fromUint32Array(Uint32Array.from({ length: 1 << 19 }, (_, i) => i * 2));
    const held: RowBitmap[] = [];
    const heldMax = Math.ceil(heapBefore / (128 * 1024)) + 64;
    while (held.length < heldMax && bitmapHeapBytes() === heapBefore) held.push(dense.clone());
    expect(bitmapHeapBytes()).toBeGreaterThan(heapBefore);
    expect(undisposedBitmapCount()).toBe(liveBefore + 1 + held.length);
    for (const bitmap of held) bitmap.dispose();
    expect(undisposedBitmapCount()).toBe(liveBefore + 1);
  });
});
