/**
 * What every import reader yields: rows in file order, each with where it came from, and
 * either a validated record or the reason it is bad. Readers never throw for a bad row (the
 * runner decides: skip or abort); they throw only when the file itself cannot be read on
 * (unreadable, not of its format), and that error names the file.
 */
import type { VectorRecord } from "../../storage/types.ts";
import { NeedleError } from "../../storage/errors.ts";
import * as schemas from "../schemas/mod.ts";

export interface ImportRow {
  /** 0-based row number in its file: resume skips this many rows. */
  row: number;
  /** Human position: `file:line 12`, `file: row group 3, row 17`, `file: vector 5 (byte 2056)`. */
  position: string;
  record?: VectorRecord;
  /** Why the row is bad (names the field and the limit). */
  error?: string;
}

export interface ReadOptions {
  /** Rows to skip from the start of the file (a resumed import). */
  skip: number;
  /** Ids for positional formats (fvecs, bvecs, npy), one per row; absent: the row number. */
  ids?: readonly string[];
}

/**
 * Validates one record as upsert would (the shared schemas), against the index's shape.
 * Accepts Pinecone's import spelling `sparse_values` as well as `sparseValues`.
 */
export function validateRecord(
  raw: unknown,
  index: schemas.IndexShape,
): { record: VectorRecord } | { error: string } {
  try {
    let input = raw;
    if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && "sparse_values" in raw) {
      const { sparse_values, ...rest } = raw as Record<string, unknown>;
      input = { ...rest, sparseValues: sparse_values };
    }
    const checked = schemas.parseRecord(input, { fieldPrefix: "record" });
    if (
      checked.values !== undefined &&
      index.dimension !== undefined &&
      checked.values.length !== index.dimension
    )
      return {
        error: `record.values: has ${checked.values.length} dimensions, the index has ${index.dimension}`,
      };
    schemas.checkRecordsForIndex([checked], index, "record");
    return { record: checked };
  } catch (error) {
    if (error instanceof NeedleError) return { error: error.message };
    throw error;
  }
}

/** The id of positional row `row`: from the sidecar list, else the row number. */
export function idOf(row: number, ids: readonly string[] | undefined, file: string): string {
  if (ids === undefined) return String(row);
  const id = ids[row];
  if (id === undefined)
    throw new NeedleError(
      "INVALID_ARGUMENT",
      `${file}: row ${row} has no id: the ids file holds ${ids.length} lines, fewer than the file's rows`,
    );
  return id;
}
