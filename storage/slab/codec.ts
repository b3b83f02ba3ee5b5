/**
 * The msgpack codec for slab sections that hold structured values (BOOKKEEPING, METADATA),
 * and the shape checks applied to those values on both sides of the file boundary.
 */
import { Packr } from "msgpackr";
import { metrics } from "../../ffi/types.ts";
import { isPlainObject } from "../plain-object.ts";
import type { Metric } from "../types.ts";

/**
 * Plain maps, no record extension (so the bytes are readable by any msgpack decoder), and
 * 64-bit integers decoded as bigint so LSNs above 2^53 survive. Numbers are packed as the
 * smallest exact form (integers up to 32 bits, otherwise float64), so metadata numbers never
 * come back as bigint.
 */
export const packr = new Packr({ useRecords: false, int64AsType: "bigint", mapsAsObjects: true });

/** The BOOKKEEPING section, decoded. Field names are part of the format. */
export interface Bookkeeping {
  formatVersion: number;
  slabId: string;
  level: number;
  namespace: string;
  dim: number;
  metric: Metric;
  rowCount: number;
  minLsn: bigint;
  maxLsn: bigint;
  sourceSlabs: string[];
  /** Milliseconds since the Unix epoch. */
  createdAt: number;
  /** Kind numbers of every section in the file, ascending (BOOKKEEPING included). */
  sections: number[];
  /** "none" in v1; later "ivf", "graph", ... naming the VECTOR_INDEX section's layout. */
  vectorIndex: string;
}

export const bookkeepingFields = [
  "formatVersion",
  "slabId",
  "level",
  "namespace",
  "dim",
  "metric",
  "rowCount",
  "minLsn",
  "maxLsn",
  "sourceSlabs",
  "createdAt",
  "sections",
  "vectorIndex",
] as const;

export function isMetric(value: unknown): value is Metric {
  return typeof value === "string" && (metrics as readonly string[]).includes(value);
}

/** Why `value` is not valid Metadata, or undefined when it is. */
export function metadataProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "metadata must be a plain object";
  for (const [key, field] of Object.entries(value)) {
    if (typeof field === "string" || typeof field === "boolean") continue;
    if (typeof field === "number") {
      if (!Number.isFinite(field)) return `metadata field "${key}" is not a finite number`;
      continue;
    }
    if (Array.isArray(field)) {
      if (field.every((item) => typeof item === "string")) continue;
      return `metadata field "${key}" is a list holding something other than strings`;
    }
    return `metadata field "${key}" has unsupported type ${typeof field}`;
  }
  return undefined;
}
