/**
 * Blob keys: `/`-separated relative paths such as `indexes/i1/slabs/00042.slab`. The rules
 * keep a key safe as a local path and as an object-store name alike.
 */
import { invalidArgument, type NeedleError } from "../errors.ts";

export const blobKeyBytesMax = 1024;
export const blobKeyRule =
  "1-1024 bytes of '/'-separated parts; no empty part, no part starting with '.', no '\\', no control characters";

/** The reason a key breaks the rules, or undefined if it is valid. */
function keyProblem(key: string): string | undefined {
  if (typeof key !== "string") return "key is not a string";
  if (key.length === 0) return "key is empty";
  if (Buffer.byteLength(key, "utf8") > blobKeyBytesMax) return "key is too long";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f\\]/.test(key)) return "key holds a backslash or a control character";
  for (const part of key.split("/")) {
    if (part.length === 0) return "key has an empty part (leading, trailing or doubled '/')";
    // Covers "." and ".." (no escaping the store) and hidden names (reserved for temporary files).
    if (part.startsWith(".")) return "key has a part starting with '.'";
  }
  return undefined;
}

function keyError(field: string, key: string, problem: string): NeedleError {
  return invalidArgument(field, `invalid blob ${field}: ${problem}`, blobKeyRule, JSON.stringify(key));
}

/** Throws INVALID_ARGUMENT (field "key") unless `key` is a valid blob key. */
export function validateBlobKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw keyError("key", key, problem);
}

/** A list prefix is "" or the start of some valid key: INVALID_ARGUMENT (field "prefix") otherwise. */
export function validateBlobPrefix(prefix: string): void {
  if (prefix === "") return;
  // "a/" and "a/b" are fine prefixes; appending one letter turns any good prefix into a good key.
  const problem = keyProblem(`${prefix}x`);
  if (problem !== undefined) throw keyError("prefix", prefix, problem);
}
