/**
 * Argument checks shared by the C binding and the TypeScript twin, so both reject the same
 * inputs with the same NeedleError (naming the field, the limit and what was received).
 * Checks are O(1) except where noted; the row-id list is checked inside the kernels.
 */
import { invalidArgument } from "../storage/errors.ts";
import type { Int8ScanInput, ScanInput, TopK } from "./types.ts";

/** Largest k a kernel accepts (also NEEDLE_TOP_K_MAX in ffi/src/needle_kernels.h). */
export const topKMax = 10_000;
/** Largest row count a kernel takes in one call: rows are numbered with uint32. */
const rowsPerCallMax = 0xffff_ffff;
/** Largest float32 dimension a kernel accepts (dim crosses into C as uint32; kept below 2^31). */
const dimensionMax = 0x7fff_ffff;
/** Largest int8 dimension whose int32 code dot products cannot overflow (2^31 / 128^2). */
const int8DimensionMax = 131_072;

export const emptyTopK: TopK = Object.freeze({ rows: new Uint32Array(0), scores: new Float32Array(0) });

function checkCount(field: string, value: number, minimum: number, maximum: number): void {
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    throw invalidArgument(
      field,
      `${field} must be an integer from ${minimum} to ${maximum}`,
      `${minimum}-${maximum}`,
      value,
    );
  }
}

function checkLength(field: string, length: number, needed: number): void {
  if (length < needed) {
    throw invalidArgument(field, `${field} holds ${length} values but ${needed} are needed`, needed, length);
  }
}

export function checkScanInput(input: ScanInput): void {
  checkCount("k", input.k, 1, topKMax);
  checkCount("dim", input.dim, 1, dimensionMax);
  checkCount("rows", input.rows, 0, rowsPerCallMax);
  if (input.query.length !== input.dim) {
    throw invalidArgument(
      "query",
      `query has ${input.query.length} values, dim is ${input.dim}`,
      input.dim,
      input.query.length,
    );
  }
  checkLength("vectors", input.vectors.length, input.rows * input.dim);
  if (input.metric === "cosine") {
    if (input.inverseNorms === undefined) {
      throw invalidArgument(
        "inverseNorms",
        "cosine scans need per-row inverse norms",
        `${input.rows} values`,
        "none",
      );
    }
    checkLength("inverseNorms", input.inverseNorms.length, input.rows);
  }
}

export function checkBitset(input: ScanInput, bitset: Uint8Array): void {
  checkLength("bitset", bitset.length, Math.ceil(input.rows / 8));
}

/** O(n): the list must be strictly ascending and every id below `rows`. */
export function checkRowIds(input: { rows: number }, rowIds: Uint32Array): void {
  for (let i = 0; i < rowIds.length; i++) {
    const row = rowIds[i]!;
    if (row >= input.rows) {
      throw invalidArgument(
        `rowIds[${i}]`,
        `row id ${row} is not below rows (${input.rows})`,
        input.rows - 1,
        row,
      );
    }
    if (i > 0 && row <= rowIds[i - 1]!) {
      throw invalidArgument(`rowIds[${i}]`, "row ids must be strictly ascending", `> ${rowIds[i - 1]}`, row);
    }
  }
}

export function checkInt8ScanInput(input: Int8ScanInput): void {
  checkCount("k", input.k, 1, topKMax);
  checkCount("dim", input.dim, 1, int8DimensionMax);
  checkCount("rows", input.rows, 0, rowsPerCallMax);
  if (input.queryCodes.length !== input.dim) {
    throw invalidArgument(
      "queryCodes",
      `queryCodes has ${input.queryCodes.length} values, dim is ${input.dim}`,
      input.dim,
      input.queryCodes.length,
    );
  }
  checkLength("codes", input.codes.length, input.rows * input.dim);
  checkLength("scales", input.scales.length, input.rows);
  if (input.metric === "cosine") {
    if (input.inverseNorms === undefined || input.queryInverseNorm === undefined) {
      throw invalidArgument(
        "inverseNorms",
        "int8 cosine scans need inverseNorms and queryInverseNorm",
        "both",
        "missing",
      );
    }
    checkLength("inverseNorms", input.inverseNorms.length, input.rows);
  }
  if (input.metric === "euclidean") {
    if (input.squaredNorms === undefined || input.querySquaredNorm === undefined) {
      throw invalidArgument(
        "squaredNorms",
        "int8 euclidean scans need squaredNorms and querySquaredNorm",
        "both",
        "missing",
      );
    }
    checkLength("squaredNorms", input.squaredNorms.length, input.rows);
  }
}

export function checkAssignInput(
  vectors: Float32Array,
  count: number,
  centroids: Float32Array,
  centroidCount: number,
  dim: number,
  assignments: Uint32Array,
  scores: Float32Array | undefined,
): void {
  checkCount("dim", dim, 1, dimensionMax);
  checkCount("count", count, 0, rowsPerCallMax);
  checkCount("centroidCount", centroidCount, 1, rowsPerCallMax);
  checkLength("vectors", vectors.length, count * dim);
  checkLength("centroids", centroids.length, centroidCount * dim);
  checkLength("assignments", assignments.length, count);
  if (scores !== undefined) checkLength("scores", scores.length, count);
}

/** Trims output buffers to the results written; copies when most of the buffer is unused. */
export function trimTopK(rows: Uint32Array, scores: Float32Array, count: number): TopK {
  if (count === 0) return emptyTopK;
  if (count === rows.length) return { rows, scores };
  if (count * 2 < rows.length) return { rows: rows.slice(0, count), scores: scores.slice(0, count) };
  return { rows: rows.subarray(0, count), scores: scores.subarray(0, count) };
}
