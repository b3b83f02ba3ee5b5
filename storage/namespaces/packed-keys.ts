/**
 * Packed slabs (DESIGN.md decision 1) are ordinary slabs whose ids are composite keys
 * `<namespace> NUL <id>`: namespace names never hold NUL (gateway/schemas/limits.ts), and NUL
 * sorts below every other byte, so the slab's id order groups rows by namespace (in name
 * order) and by id within it. A namespace's run is the rows of the prefix `<namespace> NUL`
 * (`SlabReader.rowRangeOfPrefix`): no new section, the id lookup is the directory.
 * BOOKKEEPING's `namespace` of a packed slab is `packedSlabNamespace`, which no real
 * namespace can be.
 */

export const packedSlabNamespace = "\u0000packed";

export function packedKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}

/** The id prefix of a namespace's run. */
export function runPrefix(namespace: string): string {
  return `${namespace}\u0000`;
}

/** The record id inside a packed key. */
export function idOfPackedKey(key: string): string {
  return key.slice(key.indexOf("\u0000") + 1);
}
