/**
 * The bounded top-k heap of the TypeScript twin: the same algorithm as ffi/src/internal.h, so
 * both implementations keep the same rows when their scores are bit-identical.
 *
 * Invariants (keys are float32 and higher-is-better: euclidean distances are negated, NaN is -inf):
 *   1. keys[0]/rows[0] is the WORST kept entry; "a worse than b" means a.key < b.key, or equal
 *      keys and a.row > b.row (ties go to the smaller row number).
 *   2. Rows are offered in strictly ascending order, so a newcomer whose key equals the root's
 *      key is worse than the root and `key > keys[0]` alone decides admission.
 *   3. size <= capacity; after `finish` the entries are best first.
 */
import { assert } from "../storage/errors.ts";

function worse(keyA: number, rowA: number, keyB: number, rowB: number): boolean {
  return keyA < keyB || (keyA === keyB && rowA > rowB);
}

export class TopKHeap {
  readonly keys: Float32Array;
  readonly rows: Uint32Array;
  size = 0;
  private lastRow = -1;

  constructor(readonly capacity: number) {
    assert(capacity >= 1, "heap capacity is at least 1");
    this.keys = new Float32Array(capacity);
    this.rows = new Uint32Array(capacity);
  }

  /** `key` must already be a float32 value (Math.fround) with NaN mapped to -Infinity. */
  offer(key: number, row: number): void {
    assert(row > this.lastRow, "rows are offered in ascending order");
    this.lastRow = row;
    const { keys, rows } = this;
    if (this.size < this.capacity) {
      let at = this.size++;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(key, row, keys[parent]!, rows[parent]!)) break;
        keys[at] = keys[parent]!;
        rows[at] = rows[parent]!;
        at = parent;
      }
      keys[at] = key;
      rows[at] = row;
    } else if (key > keys[0]!) {
      keys[0] = key;
      rows[0] = row;
      this.siftDown(this.size, 0);
    }
  }

  private siftDown(size: number, at: number): void {
    const { keys, rows } = this;
    const key = keys[at]!;
    const row = rows[at]!;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && worse(keys[child + 1]!, rows[child + 1]!, keys[child]!, rows[child]!)) child++;
      if (!worse(keys[child]!, rows[child]!, key, row)) break;
      keys[at] = keys[child]!;
      rows[at] = rows[child]!;
      at = child;
    }
    keys[at] = key;
    rows[at] = row;
  }

  /** Heapsort in place (best first) and return the kept count. The heap is spent afterwards. */
  finish(): number {
    const { keys, rows } = this;
    for (let end = this.size; end > 1; end--) {
      const key = keys[0]!;
      const row = rows[0]!;
      keys[0] = keys[end - 1]!;
      rows[0] = rows[end - 1]!;
      keys[end - 1] = key;
      rows[end - 1] = row;
      this.siftDown(end - 1, 0);
    }
    return this.size;
  }
}
