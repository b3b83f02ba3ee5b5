/**
 * Shapes shared across storage/: records as the engine holds them, write operations as the
 * request log stores them, and metadata filters after validation.
 */
import type { Metric } from "../ffi/types.ts";

export type { Metric };

/** A metadata value after validation: no null, no nested objects, lists hold strings only. */
export type MetadataValue = string | number | boolean | string[];
export type Metadata = Record<string, MetadataValue>;

export interface SparseValues {
  /** Ascending is not required on input; stored ascending. No duplicates. uint32. */
  indices: Uint32Array;
  values: Float32Array;
}

/** One record as the engine holds it. Dense `values` has the index's dimension, or is absent on sparse-only indexes. */
export interface VectorRecord {
  id: string;
  values?: Float32Array;
  sparseValues?: SparseValues;
  metadata?: Metadata;
}

/**
 * A write as it is logged. One request is one batch; a batch is applied entirely or not at
 * all. Update and delete by filter are resolved to ids by the namespace's single writer
 * before logging, so replay never evaluates a filter.
 */
export type WriteOp =
  | { op: "upsert"; records: VectorRecord[] }
  | {
      op: "update";
      ids: string[];
      values?: Float32Array;
      sparseValues?: SparseValues;
      setMetadata?: Metadata;
    }
  | { op: "delete"; ids: string[] }
  | { op: "deleteAll" }
  /** The namespaces API: an explicit create, and a drop that removes the namespace itself. */
  | { op: "createNamespace" }
  | { op: "deleteNamespace" };

/** A logged batch: the namespace it belongs to and its operation, stamped with the LSN. */
export interface LogRecord {
  lsn: bigint;
  index: string;
  namespace: string;
  write: WriteOp;
}

// ---------------------------------------------------------------------------------------
// Metadata filters (validated form). A bare value in a request becomes `$eq`.

export type ScalarOperand = string | number | boolean;

export type FieldCondition =
  | { op: "$eq" | "$ne"; value: ScalarOperand }
  | { op: "$gt" | "$gte" | "$lt" | "$lte"; value: number }
  | { op: "$in" | "$nin"; values: (string | number)[] }
  | { op: "$exists"; value: boolean };

export type Filter =
  | { kind: "and"; clauses: Filter[] }
  | { kind: "or"; clauses: Filter[] }
  | { kind: "field"; field: string; condition: FieldCondition };
