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
/** RowBitmaps created and not yet disposed nor collected. */
let liveCount = 0;
/** RowBitmaps the finalizer freed because nobody disposed them. */
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

/**
 * RowBitmaps created and never disposed, whether still alive or already finalized. Unlike a
 * count of live ones it does not move when the garbage collector runs, so tests compare it.
 */
export function undisposedBitmapCount(): number {
  return liveCount + leakedCount;
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

// Roaring's portable format (github.com/RoaringBitmap/RoaringFormatSpec), as the checks below
// read it:
//   cookie u32: 12346 (no run containers) then u32 containerCount; or 12347 in the low 16 bits
//     with containerCount-1 in the high 16, then a bitset of ceil(count/8) bytes marking run
//     containers.
//   count x (u16 key, u16 cardinality-1), keys strictly ascending.
//   count x u32 offsets, present with cookie 12346 or when count >= 4.
//   containers in key order: run = u16 runCount, runCount x (u16 start, u16 length-1), sorted
//     and disjoint; array (cardinality <= 4096) = cardinality x u16 ascending; bitset = 8192
//     bytes whose population count is the cardinality.
const cookieNoRuns = 12346;
const cookieWithRuns = 12347;
const arrayContainerCardinalityMax = 4096;
const bitsetContainerBytes = 8192;
const offsetHeaderContainerCountMin = 4;

function validatePortable(bytes: Uint8Array, file: string, rowEnd: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  const broken = (message: string) =>
    corruption(file, `roaring bitmap (${bytes.byteLength} bytes): ${message}`);
  const need = (count: number) => {
    if (offset + count > bytes.byteLength) throw broken(`needs ${count} bytes at offset ${offset}`);
  };
  const u16 = () => {
    need(2);
    const value = view.getUint16(offset, true);
    offset += 2;
    return value;
  };
  const u32 = () => {
    need(4);
    const value = view.getUint32(offset, true);
    offset += 4;
    return value;
  };
  const cookie = u32();
  let count: number;
  let runFlags: Uint8Array | undefined;
  if (cookie === cookieNoRuns) {
    count = u32();
  } else if ((cookie & 0xffff) === cookieWithRuns) {
    count = (cookie >>> 16) + 1;
    const flagBytes = Math.ceil(count / 8);
    need(flagBytes);
    runFlags = bytes.subarray(offset, offset + flagBytes);
    offset += flagBytes;
  } else {
    throw broken(`unknown cookie ${cookie}`);
  }
  if (count > 65536) throw broken(`${count} containers`);
  need(count * 4);
  const keys: number[] = [];
  const cardinalities: number[] = [];
  for (let i = 0; i < count; i++) {
    const key = u16();
    if (i > 0 && key <= keys[i - 1]!) throw broken(`container keys out of order at ${i}`);
    keys.push(key);
    cardinalities.push(u16() + 1);
  }
  if (count > 0) {
    const last = keys[count - 1]! * 65536;
    if (last >= rowEnd) throw broken(`holds rows from ${last}, beyond the ${rowEnd} rows`);
  }
  const offsets: number[] = [];
  if (runFlags === undefined || count >= offsetHeaderContainerCountMin) {
    need(count * 4);
    for (let i = 0; i < count; i++) offsets.push(u32());
  }
  for (let i = 0; i < count; i++) {
    if (offsets.length > 0 && offsets[i] !== offset)
      throw broken(`container ${i} offset ${offsets[i]} is not ${offset}`);
    const base = keys[i]! * 65536;
    const cardinality = cardinalities[i]!;
    let maximum: number;
    if (runFlags !== undefined && (runFlags[i >>> 3]! & (1 << (i & 7))) !== 0) {
      const runCount = u16();
      need(runCount * 4);
      let total = 0;
      let end = -1; // one past the previous run's last value
      maximum = 0;
      for (let r = 0; r < runCount; r++) {
        const start = u16();
        const lengthMinusOne = u16();
        if (start < end || start + lengthMinusOne > 0xffff)
          throw broken(`container ${i} run ${r} overlaps or overflows`);
        end = start + lengthMinusOne + 1;
        total += lengthMinusOne + 1;
        maximum = start + lengthMinusOne;
      }
      if (runCount === 0 || total !== cardinality)
        throw broken(`container ${i} runs hold ${total}, header says ${cardinality}`);
    } else if (cardinality <= arrayContainerCardinalityMax) {
      need(cardinality * 2);
      let previous = -1;
      for (let v = 0; v < cardinality; v++) {
        const value = u16();
        if (value <= previous) throw broken(`container ${i} values out of order`);
        previous = value;
      }
      maximum = previous;
    } else {
      need(bitsetContainerBytes);
      let population = 0;
      maximum = 0;
      for (let w = 0; w < bitsetContainerBytes / 4; w++) {
        const word = view.getUint32(offset + w * 4, true);
        if (word === 0) continue;
        population += popcount32(word);
        maximum = w * 32 + 31 - Math.clz32(word);
      }
      offset += bitsetContainerBytes;
      if (population !== cardinality)
        throw broken(`container ${i} bitset holds ${population}, header says ${cardinality}`);
    }
    if (base + maximum >= rowEnd) throw broken(`holds row ${base + maximum}, beyond the ${rowEnd} rows`);
  }
  if (offset !== bytes.byteLength)
    throw broken(`${bytes.byteLength - offset} bytes after the last container`);
}

function popcount32(word: number): number {
  let value = word - ((word >>> 1) & 0x55555555);
  value = (value & 0x33333333) + ((value >>> 2) & 0x33333333);
  return (Math.imul((value + (value >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

function isAscending(values: Uint32Array): boolean {
  for (let i = 1; i < values.length; i++) if (values[i - 1]! > values[i]!) return false;
  return true;
}

/**
 * Set by RowBitmap.#wrap for the one constructor call it makes, so wrapping a bitmap the
 * library returned (clone, deserialize, and, or) adopts it instead of first allocating an
 * empty one in WASM and freeing it again.
 */
let innerToAdopt: RoaringBitmap32 | undefined;

export class RowBitmap implements Disposable, Iterable<number> {
  #inner: RoaringBitmap32 | undefined;

  /** An empty bitmap. */
  constructor() {
    const inner = innerToAdopt;
    innerToAdopt = undefined;
    assert(initialized, "initBitmaps() was awaited before using bitmaps");
    this.#inner = this.#adopt(inner ?? new RoaringBitmap32());
  }

  #adopt(inner: RoaringBitmap32): RoaringBitmap32 {
    liveCount++;
    finalizer.register(this, inner, this);
    return inner;
  }

  /** Wraps a bitmap this module made; the new RowBitmap owns it. */
  static #wrap(inner: RoaringBitmap32): RowBitmap {
    innerToAdopt = inner;
    return new RowBitmap();
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
    // The library's "safe" deserializer checks lengths but not that keys and values are
    // sorted or that stored cardinalities match the bits; a bitmap that breaks those gives
    // wrong answers (and can overrun buffers sized by cardinality). So we check the whole
    // structure here, in JavaScript, before any byte reaches WASM.
    validatePortable(bytes, file, rowEnd);
    let inner: RoaringBitmap32;
    try {
      inner = RoaringBitmap32.deserialize(bytes, "portable");
    } catch (error) {
      throw corruption(file, `roaring bitmap of ${bytes.byteLength} bytes does not deserialize`, error);
    }
    const bitmap = RowBitmap.#wrap(inner);
    if (inner.getSerializationSizeInBytes("portable") !== bytes.byteLength) {
      bitmap.dispose();
      throw corruption(file, `roaring bitmap does not fill its ${bytes.byteLength} bytes`);
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
