/**
 * The one test for "a plain JSON-like object" in storage/: not null, not an array, and made by
 * an object literal or Object.create(null) (so class instances, Maps and typed arrays are
 * refused). Filters (filter/parse.ts) and stored metadata (slab/codec.ts) use it alike.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
