/**
 * Row bitmaps: sets of row numbers (uint32) backed by roaring bitmaps in WebAssembly.
 *
 * This is the ONE file that knows the `roaring-wasm` package; everything else uses RowBitmap,
 * so replacing the library touches only this file.
 *
 * Invariants and rules:
 *   1. `initBitmaps()` is awaited once per process before any RowBitmap is made; after it every
 *      call here is synchronous. Making a bitmap before it is an INTERNAL error.
 *   2. A RowBitmap owns WASM memory that JavaScript's garbage collector cannot see. Whoever
 *      creates or receives a RowBitmap disposes it exactly once it is no longer needed:
 *      `bitmap.dispose()`, or `using bitmap = ...` (Symbol.dispose). Dispose is idempotent.
 *      Functions that return a RowBitmap hand ownership to the caller; functions that take one
 *      only borrow it.
 *   3. A FinalizationRegistry frees the WASM memory of a RowBitmap that was garbage collected
 *      without being disposed, and counts it (`leakedBitmapCount()`), so a missing dispose is a
 *      bug we can see in tests, not a slow leak in production.
 *   4. Using a disposed RowBitmap is an INTERNAL error (never a silent empty set).
 *   5. Serialized bytes are roaring's portable format (the Java/Go/C interchange format), so
 *      slab files do not depend on this library's version. Deserialization never trusts its
 *      input: malformed bytes, trailing bytes and rows beyond a stated bound are CORRUPTION
 *      errors naming the file.
 */
import { RoaringBitmap32, RoaringUint8Array, roaringLibraryInitialize } from "roaring-wasm";
import { assert, corruption, NeedleError } from "./errors.ts";

/** Row numbers are uint32; this is one past the largest. */
export const rowNumberEnd = 2 ** 32;

let initialized = false;
let liveCount = 0;
let leakedCount = 0;

/** Awaits the WASM module once; safe to call many times. */
export async function initBitmaps(): Promise<void> {
  if (initialized) return;
  await roaringLibraryInitialize();
  initialized = true;
}

const finalizer = new FinalizationRegistry<RoaringBitmap32>((inner) => {
  if (inner.isDisposed) return;
  inner.dispose();
  liveCount--;
  leakedCount++;
});

/** RowBitmaps created and not yet disposed (nor collected). For leak tests and metrics. */
export function liveBitmapCount(): number {
  return liveCount;
}

/** RowBitmaps that were garbage collected without dispose(): each one is a bug. */
export function leakedBitmapCount(): number {
  return leakedCount;
}

/**
 * Bytes of WASM linear memory the bitmap library holds. The memory only grows, so a leak
 * shows as growth across create/dispose cycles that should reuse freed space.
 */
export function bitmapHeapBytes(): number {
  assert(initialized, "initBitmaps() was awaited before using bitmaps");
  const probe = new RoaringUint8Array(1);
  try {
    return probe.asTypedArray().buffer.byteLength;
  } finally {
    probe.dispose();
  }
}

function checkRow(row: number): void {
  if (!Number.isInteger(row) || row < 0 || row >= rowNumberEnd) {
    throw new NeedleError("INTERNAL", `row number ${row} is not a uint32`);
  }
}

function isAscending(values: Uint32Array): boolean {
  for (let i = 1; i < values.length; i++) if (values[i - 1]! > values[i]!) return false;
  return true;
}

export class RowBitmap implements Disposable, Iterable<number> {
  #inner: RoaringBitmap32 | undefined;

  /** An empty bitmap. */
  constructor() {
    assert(initialized, "initBitmaps() was awaited before using bitmaps");
    this.#inner = this.#adopt(new RoaringBitmap32());
  }

  #adopt(inner: RoaringBitmap32): RoaringBitmap32 {
    liveCount++;
    finalizer.register(this, inner, this);
    return inner;
  }

  /** Wraps a bitmap this module made; the new RowBitmap owns it. */
  static #wrap(inner: RoaringBitmap32): RowBitmap {
    const bitmap = new RowBitmap();
    bitmap.#replace(inner);
    return bitmap;
  }

  #replace(inner: RoaringBitmap32): void {
    const old = this.#live();
    finalizer.unregister(this);
    old.dispose();
    liveCount--;
    this.#inner = this.#adopt(inner);
  }

  #live(): RoaringBitmap32 {
    if (this.#inner === undefined) throw new NeedleError("INTERNAL", "RowBitmap used after dispose()");
    return this.#inner;
  }

  /** A bitmap of the given rows (any order, duplicates allowed). */
  static fromUint32Array(rows: Uint32Array | readonly number[]): RowBitmap {
    const bitmap = new RowBitmap();
    bitmap.addMany(rows);
    return bitmap;
  }

  /** Rows start (inclusive) to end (exclusive). */
  static fromRange(start: number, end: number): RowBitmap {
    const bitmap = new RowBitmap();
    if (end > start) bitmap.#live().addRange(start, end);
    return bitmap;
  }

  /**
   * Reads roaring's portable format. An empty input is the empty bitmap. `rowEnd` bounds the
   * rows the bitmap may hold (exclusive). Anything malformed is CORRUPTION naming `file`.
   */
  static deserialize(bytes: Uint8Array, file: string, rowEnd: number = rowNumberEnd): RowBitmap {
    assert(initialized, "initBitmaps() was awaited before using bitmaps");
    if (bytes.byteLength === 0) return new RowBitmap();
    let inner: RoaringBitmap32;
    try {
      inner = RoaringBitmap32.deserialize(bytes, "portable");
    } catch (error) {
      throw corruption(file, `roaring bitmap of ${bytes.byteLength} bytes does not deserialize`, error);
    }
    const bitmap = RowBitmap.#wrap(inner);
    // The library stops reading where the bitmap ends; bytes after it mean the bound we were
    // given is wrong, so the surrounding structure is not what its writer wrote.
    if (inner.getSerializationSizeInBytes("portable") !== bytes.byteLength) {
      bitmap.dispose();
      throw corruption(file, `roaring bitmap does not fill its ${bytes.byteLength} bytes`);
    }
    if (!inner.isEmpty && inner.maximum() >= rowEnd) {
      const maximum = inner.maximum();
      bitmap.dispose();
      throw corruption(file, `roaring bitmap holds row ${maximum}, beyond the ${rowEnd} rows`);
    }
    return bitmap;
  }

  get size(): number {
    return this.#live().size;
  }

  get isEmpty(): boolean {
    return this.#live().isEmpty;
  }

  get isDisposed(): boolean {
    return this.#inner === undefined;
  }

  /** The largest row, or undefined when empty. */
  maximum(): number | undefined {
    const inner = this.#live();
    return inner.isEmpty ? undefined : inner.maximum();
  }

  has(row: number): boolean {
    return this.#live().has(row);
  }

  add(row: number): this {
    checkRow(row);
    this.#live().add(row);
    return this;
  }

  /**
   * Adds rows in any order. Sorts a copy first when needed: roaring inserts ascending runs in
   * linear time but unsorted input costs a shifting insert per row (measured 25x slower).
   */
  addMany(rows: Uint32Array | readonly number[]): this {
    let values: Uint32Array;
    if (rows instanceof Uint32Array) {
      values = rows;
    } else {
      for (const row of rows) checkRow(row);
      values = Uint32Array.from(rows);
    }
    if (!isAscending(values)) values = (values === rows ? values.slice() : values).sort();
    this.#live().addMany(values);
    return this;
  }

  /** Adds rows start..end-1. */
  addRange(start: number, end: number): this {
    if (end > start) this.#live().addRange(start, end);
    return this;
  }

  /** Flips membership of rows start..end-1 (complement within a range). */
  flipRange(start: number, end: number): this {
    if (end > start) this.#live().flipRange(start, end);
    return this;
  }

  andInPlace(other: RowBitmap): this {
    this.#live().andInPlace(other.#live());
    return this;
  }

  orInPlace(other: RowBitmap): this {
    this.#live().orInPlace(other.#live());
    return this;
  }

  andNotInPlace(other: RowBitmap): this {
    this.#live().andNotInPlace(other.#live());
    return this;
  }

  and(other: RowBitmap): RowBitmap {
    return RowBitmap.#wrap(RoaringBitmap32.and(this.#live(), other.#live()));
  }

  or(other: RowBitmap): RowBitmap {
    return RowBitmap.#wrap(RoaringBitmap32.or(this.#live(), other.#live()));
  }

  andNot(other: RowBitmap): RowBitmap {
    return RowBitmap.#wrap(RoaringBitmap32.andNot(this.#live(), other.#live()));
  }

  clone(): RowBitmap {
    return RowBitmap.#wrap(this.#live().clone());
  }

  isEqual(other: RowBitmap): boolean {
    return this.#live().isEqual(other.#live());
  }

  /** The rows in ascending order, copied out of WASM memory. */
  toUint32Array(): Uint32Array {
    return this.#live().toUint32Array();
  }

  /** Roaring's portable format, compressed with run containers where they are smaller. */
  serialize(): Uint8Array {
    const inner = this.#live();
    inner.runOptimize();
    return inner.serialize("portable");
  }

  /** Ascending rows. Copies in chunks so no iterator object holds WASM memory. */
  *[Symbol.iterator](): Iterator<number> {
    const chunkRowsMax = 4096;
    let start = 0;
    for (;;) {
      const chunk = this.#live().sliceUint32Array(start, start + chunkRowsMax);
      yield* chunk;
      if (chunk.length < chunkRowsMax) return;
      start += chunkRowsMax;
    }
  }

  /** Frees the WASM memory. Idempotent. */
  dispose(): void {
    const inner = this.#inner;
    if (inner === undefined) return;
    this.#inner = undefined;
    finalizer.unregister(this);
    inner.dispose();
    liveCount--;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
