/**
 * Turns the engine's internal shapes (Float32Array, bigint LSNs, arrays of stats) into the
 * official client's result shapes (plain number arrays, maps keyed by id or namespace).
 * gateway/http renders records and matches with `recordsById` and `matchOut` too: Pinecone's
 * REST JSON for them is the same shape.
 */
import type { IndexDescription, IndexStats, NamespaceStats, ScoredRecord } from "../../actors/api.ts";
import { copyMetadata, defineOwn } from "../../storage/metadata.ts";
import type { SparseValues, VectorRecord } from "../../storage/types.ts";
import type {
  IndexModel,
  IndexStatsDescription,
  NamespaceDescription,
  PineconeRecord,
  ReadCapacityResponse,
  RecordSparseValues,
  ScoredPineconeRecord,
} from "./types.ts";

export const embeddedHostScheme = "embedded://";

function sparseOut(sparse: SparseValues): RecordSparseValues {
  return { indices: Array.from(sparse.indices), values: Array.from(sparse.values) };
}

/**
 * A stored record as the client returns it. `values` is always present (empty for sparse-only
 * records), as Pinecone's REST answers carry it. Everything is a copy: the engine hands out
 * its stored objects (the memtable's metadata), and a caller editing a result must not edit
 * the database.
 */
export function recordOut(record: VectorRecord): PineconeRecord {
  const out: PineconeRecord = { id: record.id, values: record.values ? Array.from(record.values) : [] };
  if (record.sparseValues) out.sparseValues = sparseOut(record.sparseValues);
  if (record.metadata) out.metadata = copyMetadata(record.metadata);
  return out;
}

/** A query match: `values` is `[]` unless values were asked for, as Pinecone answers. */
export function matchOut(match: ScoredRecord): ScoredPineconeRecord {
  const out: ScoredPineconeRecord = {
    id: match.id,
    score: match.score,
    values: match.values ? Array.from(match.values) : [],
  };
  if (match.sparseValues) out.sparseValues = sparseOut(match.sparseValues);
  if (match.metadata) out.metadata = copyMetadata(match.metadata);
  return out;
}

export function recordsById(records: readonly VectorRecord[]): { [id: string]: PineconeRecord } {
  const out: { [id: string]: PineconeRecord } = {};
  for (const record of records) defineOwn(out, record.id, recordOut(record));
  return out;
}

export function statsOut(stats: IndexStats): IndexStatsDescription {
  const namespaces: IndexStatsDescription["namespaces"] = {};
  for (const namespace of stats.namespaces)
    defineOwn(namespaces, namespace.name, { recordCount: namespace.recordCount });
  const out: IndexStatsDescription = {
    namespaces,
    indexFullness: stats.indexFullness,
    totalRecordCount: stats.totalVectorCount,
  };
  if (stats.dimension !== undefined) out.dimension = stats.dimension;
  return out;
}

export function namespaceOut(stats: NamespaceStats): NamespaceDescription {
  return { name: stats.name, recordCount: String(stats.recordCount) };
}

/** Needle has no capacity modes: every index reads on demand and is ready. */
export const onDemand = (): ReadCapacityResponse => ({ mode: "OnDemand", status: { state: "Ready" } });

/**
 * The 2026-07 model's `schema.fields`: the reserved `_values` (dense) or `_sparse_values`
 * (sparse) field. The HTTP control plane's 2026-07 model carries the same object.
 */
export function vectorFieldsOut(description: IndexDescription): IndexModel["schema"]["fields"] {
  if (description.vectorType === "sparse") return { _sparse_values: { type: "sparse_vector" } };
  return {
    _values: { type: "dense_vector", dimension: description.dimension as number, metric: description.metric },
  };
}

/**
 * The 2026-07 IndexModel with the client's legacy accessors (dimension, metric, vectorType,
 * spec) installed as non-enumerable getters, exactly as the client decorates its models, so
 * `JSON.stringify(model)` shows the 2026-07 shape and `model.dimension` still works.
 */
export function indexModelOut(description: IndexDescription): IndexModel {
  const model = {
    name: description.name,
    host: `${embeddedHostScheme}${description.name}`,
    status: { ready: description.status.ready, state: description.status.state },
    deployment: {
      deploymentType: "managed" as const,
      cloud: description.deployment.cloud,
      region: description.deployment.region,
    },
    readCapacity: onDemand(),
    schema: { fields: vectorFieldsOut(description) },
    deletionProtection: description.deletionProtection,
  } as IndexModel;
  if (Object.keys(description.tags).length > 0) model.tags = { ...description.tags };
  const getters: Record<string, () => unknown> = {
    dimension: () => description.dimension,
    metric: () => description.metric,
    vectorType: () => description.vectorType,
    spec: () => ({
      serverless: {
        cloud: description.deployment.cloud,
        region: description.deployment.region,
        readCapacity: onDemand(),
      },
    }),
  };
  for (const [property, get] of Object.entries(getters)) {
    Object.defineProperty(model, property, { configurable: true, enumerable: false, get });
  }
  return model;
}

/** Attaches the LSN a read reflected as a non-enumerable property, leaving the shape intact. */
export function withLsn<T extends object>(result: T, lsn: bigint): T {
  Object.defineProperty(result, "lsn", { configurable: true, enumerable: false, value: lsn });
  return result;
}
