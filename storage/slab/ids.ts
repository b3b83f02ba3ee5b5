/**
 * Id ordering. Slabs sort ids by their UTF-8 bytes (unsigned, lexicographic), which is the
 * same as Unicode code point order. JavaScript's `<` on strings compares UTF-16 code units,
 * which disagrees for characters above U+FFFF versus U+E000..U+FFFF, so anything that merges
 * id streams from several slabs (list by prefix, compaction) must use `compareIds`.
 */

const encoder = new TextEncoder();
/** `ignoreBOM` keeps a leading U+FEFF in an id instead of silently stripping it. */
export const idDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeId(id: string): Uint8Array {
  return encoder.encode(id);
}

/** Code point order of two well-formed strings; equals the order of their UTF-8 bytes. */
export function compareIds(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let unitA = a.charCodeAt(i);
    let unitB = b.charCodeAt(i);
    if (unitA === unitB) continue;
    // Surrogates (U+D800..U+DFFF) encode code points above U+FFFF, so they must sort after
    // U+E000..U+FFFF: shift the two ranges past each other before comparing.
    if (unitA >= 0xd800 && unitB >= 0xd800) {
      unitA = unitA >= 0xe000 ? unitA - 0x800 : unitA + 0x2000;
      unitB = unitB >= 0xe000 ? unitB - 0x800 : unitB + 0x2000;
    }
    return unitA - unitB;
  }
  return a.length - b.length;
}

/** Unsigned lexicographic comparison of two byte ranges of `left` and `right`. */
export function compareByteRanges(
  left: Uint8Array,
  leftStart: number,
  leftEnd: number,
  right: Uint8Array,
  rightStart: number,
  rightEnd: number,
): number {
  const leftLength = leftEnd - leftStart;
  const rightLength = rightEnd - rightStart;
  const length = Math.min(leftLength, rightLength);
  for (let i = 0; i < length; i++) {
    const difference = left[leftStart + i]! - right[rightStart + i]!;
    if (difference !== 0) return difference;
  }
  return leftLength - rightLength;
}
