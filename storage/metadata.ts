/**
 * Rules about record metadata that every layer shares: its size limit and how size is measured,
 * well-formed text, and keys that plain JavaScript objects and msgpack mishandle.
 *
 * `__proto__`: a metadata key (or id, or namespace) may legitimately be "__proto__". Assigning
 * `object["__proto__"] = v` sets the prototype instead of a property, and msgpackr renames the
 * key to "__proto_" when it decodes a map (its guard against prototype pollution). So objects
 * keyed by user strings are built with `defineOwn`, and metadata packed with msgpack (request
 * log, slab METADATA section) stores that one key as `$__proto__`, which no user key can be
 * (keys never start with `$`), and is read back through `metadataFromPacked`.
 */
import type { Metadata, MetadataValue } from "./types.ts";

/** Metadata of one record, measured as the UTF-8 byte length of its JSON text (Pinecone's 40 KB). */
export const metadataBytesMax = 40_960;

const textEncoder = new TextEncoder();

export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** UTF-8 byte length of a string without allocating when it is plain ASCII. */
export function utf8ByteLength(text: string): number {
  if (isAscii(text)) return text.length;
  return textEncoder.encode(text).length;
}

/** The measure `metadataBytesMax` limits. */
export function metadataByteLength(metadata: Metadata): number {
  return utf8ByteLength(JSON.stringify(metadata));
}

/**
 * True when `text` holds no unpaired UTF-16 surrogate. Such a string has no UTF-8 form: every
 * encoder turns the lone half into U+FFFD, so what is stored would differ from what was sent
 * (and a slab's sorted metadata index would stop being sorted).
 */
export function isWellFormedText(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Sets an own, enumerable property, even when `key` is "__proto__". */
export function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

const escapedProtoKey = "$__proto__";

/** Metadata as it goes into msgpack: the "__proto__" key (if any) renamed to `$__proto__`. */
export function metadataForPacking(metadata: Metadata): Metadata {
  if (!Object.hasOwn(metadata, "__proto__")) return metadata;
  const out: Metadata = {};
  for (const [key, value] of Object.entries(metadata))
    out[key === "__proto__" ? escapedProtoKey : key] = value;
  return out;
}

/** Metadata as msgpack gave it back: `$__proto__` restored to an own "__proto__" property. */
export function metadataFromPacked(metadata: Metadata): Metadata {
  if (!Object.hasOwn(metadata, escapedProtoKey)) return metadata;
  const out: Metadata = {};
  for (const [key, value] of Object.entries(metadata)) {
    defineOwn<MetadataValue>(out, key === escapedProtoKey ? "__proto__" : key, value);
  }
  return out;
}

/** A copy a caller may change freely (values are primitives or lists of strings). */
export function copyMetadata(metadata: Metadata): Metadata {
  const out: Metadata = {};
  for (const [key, value] of Object.entries(metadata)) {
    defineOwn<MetadataValue>(out, key, Array.isArray(value) ? value.slice() : value);
  }
  return out;
}
