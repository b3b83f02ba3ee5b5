/** Live-row bitsets in memory <-> deletion bitmaps (roaring, portable format) in manifests. */
import { RowBitmap } from "../../storage/bitmap.ts";

export function deletedBytes(live: Uint8Array, rowCount: number): Uint8Array {
  const dead: number[] = [];
  for (let row = 0; row < rowCount; row++) if (!((live[row >> 3]! >> (row & 7)) & 1)) dead.push(row);
  const bitmap = RowBitmap.fromUint32Array(Uint32Array.from(dead));
  try {
    return bitmap.serialize();
  } finally {
    bitmap.dispose();
  }
}

export function liveFromDeleted(deleted: Uint8Array, rowCount: number, file: string): Uint8Array {
  const live = new Uint8Array((rowCount + 7) >> 3);
  for (let row = 0; row < rowCount; row++) live[row >> 3]! |= 1 << (row & 7);
  const bitmap = RowBitmap.deserialize(deleted, file);
  try {
    for (const row of bitmap.toUint32Array()) if (row < rowCount) live[row >> 3]! &= ~(1 << (row & 7));
  } finally {
    bitmap.dispose();
  }
  return live;
}

export function countLive(live: Uint8Array, rowCount: number): number {
  let count = 0;
  for (let row = 0; row < rowCount; row++) if ((live[row >> 3]! >> (row & 7)) & 1) count++;
  return count;
}
