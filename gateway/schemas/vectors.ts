/**
 * Schemas for the parts of a record: id, dense values, sparse values, metadata, and the record
 * itself. They take plain JSON-ish input (camelCase) and produce the engine's internal shapes
 * (Float32Array values, sorted Uint32Array sparse indices, copied metadata).
 *
 * Number arrays are checked in one tight loop inside a transform that also fills the
 * Float32Array: letting zod walk 768k numbers element by element costs several times more
 * (see DESIGN.md, "Schemas", for the measurement).
 *
 * Checks that need the index (dimension, metric, dense vs sparse) live in `checkRecordsForIndex`
 * and friends, because only the caller that has looked the index up knows them.
 */
import { z } from "zod";
import type { QueryRequest, UpdateRequest, VectorType } from "../../actors/api.ts";
import { isWithinComponentMagnitude } from "../../ffi/mod.ts";
import { defineOwn, isAscii, isWellFormedText, utf8ByteLength } from "../../storage/metadata.ts";
import type { Metadata, MetadataValue, Metric, SparseValues, VectorRecord } from "../../storage/types.ts";
import { described, fail } from "./errors.ts";
import {
  dimensionMax,
  idCharsMax,
  idCharsMin,
  metadataBytesMax,
  sparseEntriesMax,
  sparseEntriesMin,
  sparseIndexMax,
  vectorComponentMagnitudeMax,
} from "./limits.ts";

type Context = z.core.$RefinementCtx;

function issue(
  ctx: Context,
  message: string,
  limit: string | number | undefined,
  input: unknown,
  path: PropertyKey[] = [],
): typeof z.NEVER {
  ctx.addIssue({ code: "custom", message, path, input, params: { limit } });
  return z.NEVER;
}

export { isAscii };

const idLimit = `${idCharsMin}-${idCharsMax} ASCII characters`;

/** A record id: 1-512 ASCII characters. */
export const recordId = z
  .string()
  .min(idCharsMin)
  .max(idCharsMax)
  .refine(isAscii, { message: "must contain only ASCII characters", params: { limit: idLimit } });

/** Converts a list of numbers to Float32Array in one pass, refusing NaN, Infinity and overflow. */
function toFloat32(
  values: unknown,
  ctx: Context,
  lengthMax: number,
  path: PropertyKey[] = [],
): Float32Array | undefined {
  if (!Array.isArray(values) && !(values instanceof Float32Array)) {
    issue(ctx, "must be an array of numbers", undefined, values, path);
    return undefined;
  }
  if (values.length > lengthMax) {
    issue(ctx, "has too many items", `at most ${lengthMax} items`, values, path);
    return undefined;
  }
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value: unknown = values[i];
    if (typeof value !== "number") {
      issue(ctx, "must be a number", undefined, value, [...path, i]);
      return undefined;
    }
    out[i] = value;
    // A finite float64 beyond float32's range becomes Infinity here: refuse it the same way.
    if (!Number.isFinite(out[i] as number)) {
      issue(ctx, "must be a finite number within float32 range", "finite float32", value, [...path, i]);
      return undefined;
    }
  }
  return out;
}

/**
 * Dense values: 1-20000 finite numbers. An empty list means "no dense values" (sparse-only
 * records written by clients that always send `values: []`).
 */
export const denseValues = z.unknown().transform((input, ctx): Float32Array | undefined => {
  const out = toFloat32(input, ctx, dimensionMax);
  if (out === undefined) return z.NEVER;
  return out.length === 0 ? undefined : out;
});

/** Sparse values: equal-length indices (uint32, no duplicates) and values; stored sorted. */
export const sparseValues = z.unknown().transform((input, ctx): SparseValues => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return issue(ctx, "must be an object with indices and values", undefined, input);
  }
  const { indices, values, ...rest } = input as Record<string, unknown>;
  const unknownKey = Object.keys(rest)[0];
  if (unknownKey !== undefined) {
    return issue(ctx, `unknown field ${JSON.stringify(unknownKey)}`, undefined, input);
  }
  if (!Array.isArray(indices) && !(indices instanceof Uint32Array)) {
    return issue(ctx, "must be an array of integers", undefined, indices, ["indices"]);
  }
  const count = indices.length;
  const entriesLimit = `${sparseEntriesMin}-${sparseEntriesMax} entries`;
  if (count < sparseEntriesMin || count > sparseEntriesMax) {
    return issue(ctx, "has a wrong number of entries", entriesLimit, indices, ["indices"]);
  }
  const floats = toFloat32(values, ctx, sparseEntriesMax, ["values"]);
  if (floats === undefined) return z.NEVER;
  if (floats.length !== count) {
    return issue(ctx, `must have as many entries as indices (${count})`, "equal lengths", values, ["values"]);
  }
  const raw = new Uint32Array(count);
  let sorted = true;
  for (let i = 0; i < count; i++) {
    const index: unknown = indices[i];
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > sparseIndexMax) {
      return issue(ctx, "must be an integer in uint32 range", `0-${sparseIndexMax}`, index, ["indices", i]);
    }
    raw[i] = index;
    if (i > 0 && (raw[i - 1] as number) >= index) sorted = false;
  }
  if (sorted) return { indices: raw, values: floats };
  return sortSparse(raw, floats, ctx);
});

function sortSparse(indices: Uint32Array, values: Float32Array, ctx: Context): SparseValues {
  const order = Array.from(indices.keys()).sort((a, b) => (indices[a] as number) - (indices[b] as number));
  const sortedIndices = new Uint32Array(indices.length);
  const sortedValues = new Float32Array(values.length);
  for (let i = 0; i < order.length; i++) {
    const from = order[i] as number;
    sortedIndices[i] = indices[from] as number;
    sortedValues[i] = values[from] as number;
    if (i > 0 && sortedIndices[i] === sortedIndices[i - 1]) {
      const duplicate = indices[from] as number;
      const second = Math.max(from, order[i - 1] as number);
      return issue(ctx, `duplicate index ${duplicate}`, "no duplicate indices", duplicate, [
        "indices",
        second,
      ]);
    }
  }
  return { indices: sortedIndices, values: sortedValues };
}

const metadataLimit = "string, number, boolean or list of strings";
const wellFormedLimit = "well-formed Unicode (no unpaired UTF-16 surrogate)";

/**
 * Metadata: a flat object whose values are strings, finite numbers, booleans or lists of
 * strings; no null, no nested objects, keys not starting with `$`; at most 40 KB as JSON.
 * The output is a copy, so a caller mutating its object later cannot change a stored record.
 */
export const metadata = z.unknown().transform((input, ctx): Metadata => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return issue(ctx, "must be an object", metadataLimit, input);
  }
  const out: Metadata = {};
  for (const [key, value] of Object.entries(input)) {
    if (key.startsWith("$")) {
      return issue(ctx, "keys must not start with '$'", "no '$' prefix", key, [key]);
    }
    if (!isWellFormedText(key)) {
      return issue(ctx, "keys must be well-formed Unicode text", wellFormedLimit, key, [key]);
    }
    const copied = metadataValue(value, key, ctx);
    if (copied === undefined) return z.NEVER;
    // defineOwn: a key named "__proto__" is a field like any other, not the prototype.
    defineOwn<MetadataValue>(out, key, copied);
  }
  const bytes = utf8ByteLength(JSON.stringify(out));
  if (bytes > metadataBytesMax) {
    return issue(
      ctx,
      "is too large",
      `at most ${metadataBytesMax} bytes as JSON`,
      described(`${bytes} bytes`),
    );
  }
  return out;
});

function metadataValue(value: unknown, key: string, ctx: Context): MetadataValue | undefined {
  if (typeof value === "string") {
    if (isWellFormedText(value)) return value;
    issue(ctx, "must be well-formed Unicode text", wellFormedLimit, value, [key]);
    return undefined;
  }
  if (typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    issue(ctx, "must be a finite number", "finite number", value, [key]);
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (typeof value[i] !== "string") {
        issue(ctx, "lists must hold strings only", "list of strings", value[i], [key, i]);
        return undefined;
      }
      if (!isWellFormedText(value[i])) {
        issue(ctx, "must be well-formed Unicode text", wellFormedLimit, value[i], [key, i]);
        return undefined;
      }
    }
    return value.slice() as string[];
  }
  const what = value === null ? "must not be null" : "must not be a nested object";
  issue(ctx, what, metadataLimit, value, [key]);
  return undefined;
}

/** One record as a client sends it. */
export const record = z
  .strictObject({
    id: recordId,
    values: denseValues.optional(),
    sparseValues: sparseValues.optional(),
    metadata: metadata.optional(),
  })
  .transform((input, ctx): VectorRecord => {
    if (input.values === undefined && input.sparseValues === undefined) {
      return issue(ctx, "needs values or sparseValues", "values or sparseValues", undefined);
    }
    const out: VectorRecord = { id: input.id };
    if (input.values !== undefined) out.values = input.values;
    if (input.sparseValues !== undefined) out.sparseValues = input.sparseValues;
    if (input.metadata !== undefined) out.metadata = input.metadata;
    return out;
  });

// ---------------------------------------------------------------------------------------
// Checks that need the index's configuration.

export interface IndexShape {
  dimension?: number;
  metric: Metric;
  vectorType: VectorType;
}

function join(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
}

/**
 * Checks dense and sparse parts of a vector against the index: a dense index needs dense
 * values of its dimension (not all zero under cosine) and takes sparse values only with
 * dotproduct; a sparse index takes sparse values only.
 */
function checkVectorParts(
  values: Float32Array | undefined,
  sparse: SparseValues | undefined,
  index: IndexShape,
  valuesField: string,
  sparseField: string,
  denseRequired: boolean,
): void {
  if (index.vectorType === "sparse") {
    if (values !== undefined) {
      fail(
        valuesField,
        "is not allowed on a sparse index; send sparse values only",
        "no dense values",
        values,
      );
    }
    if (denseRequired && sparse === undefined) {
      fail(sparseField, "is required by a sparse index", "sparse values", undefined);
    }
    checkMagnitudes(sparse?.values, `${sparseField}.values`);
    return;
  }
  if (values === undefined) {
    if (denseRequired) fail(valuesField, "is required by a dense index", index.dimension, undefined);
  } else {
    if (values.length !== index.dimension) {
      fail(
        valuesField,
        "does not match the index dimension",
        `dimension ${index.dimension}`,
        described(`${values.length} values`),
      );
    }
    if (index.metric === "cosine" && isAllZero(values)) {
      fail(
        valuesField,
        "must not be all zeros under the cosine metric",
        "a non-zero vector",
        described("all zeros"),
      );
    }
  }
  if (sparse !== undefined && index.metric !== "dotproduct") {
    fail(
      sparseField,
      "is supported only on indexes with the dotproduct metric",
      "metric dotproduct",
      described(`metric ${index.metric}`),
    );
  }
  if (index.metric !== "cosine") {
    checkMagnitudes(values, valuesField);
    checkMagnitudes(sparse?.values, `${sparseField}.values`);
  }
}

const magnitudeLimit = `magnitude at most ${vectorComponentMagnitudeMax} on dotproduct and euclidean indexes`;

/** Dotproduct and euclidean scores must fit float32: components are bounded (limits.ts). */
function checkMagnitudes(values: Float32Array | undefined, field: string): void {
  if (values === undefined) return;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!isWithinComponentMagnitude(value)) {
      fail(`${field}[${i}]`, "is too large for this metric: scores would overflow", magnitudeLimit, value);
    }
  }
}

function isAllZero(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) return false;
  return true;
}

/** Checks validated records against the index; throws INVALID_ARGUMENT naming `records[i]...`. */
export function checkRecordsForIndex(
  records: readonly VectorRecord[],
  index: IndexShape,
  fieldPrefix = "records",
): void {
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as VectorRecord;
    const at = `${fieldPrefix}[${i}]`;
    checkVectorParts(record.values, record.sparseValues, index, `${at}.values`, `${at}.sparseValues`, true);
  }
}

/** Checks a validated query's vectors against the index. */
export function checkQueryForIndex(query: QueryRequest, index: IndexShape, fieldPrefix = ""): void {
  const byVector = query.id === undefined;
  checkVectorParts(
    query.vector,
    query.sparseVector,
    index,
    join(fieldPrefix, "vector"),
    join(fieldPrefix, "sparseVector"),
    byVector,
  );
}

/** Checks a validated update's new values against the index. */
export function checkUpdateForIndex(update: UpdateRequest, index: IndexShape, fieldPrefix = ""): void {
  checkVectorParts(
    update.values,
    update.sparseValues,
    index,
    join(fieldPrefix, "values"),
    join(fieldPrefix, "sparseValues"),
    false,
  );
}
