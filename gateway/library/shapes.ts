/**
 * Turns the engine's internal shapes (Float32Array, bigint LSNs, arrays of stats) into the
 * official client's result shapes (plain number arrays, maps keyed by id or namespace).
 * gateway/http renders records and matches with `recordsById` and `matchOut` too: Pinecone's
 * REST JSON for them is the same shape.
 */
import type { IndexDescription, IndexStats, NamespaceStats, ScoredRecord } from "../../actors/api.ts";
import { copyMetadata, defineOwn } from "../../storage/metadata.ts";
import { shortestFloat32, shortestFloat32Array } from "./float32.ts";
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
  return { indices: Array.from(sparse.indices), values: shortestFloat32Array(sparse.values) };
}

/**
 * A score as a client reads it: the float32 it is (kernel scores are float32; a hybrid score's
 * float64 sum is rounded to one, as Pinecone's float scores are), printed as its shortest
 * decimal (float32.ts).
 */
function scoreOut(score: number): number {
  return shortestFloat32(Math.fround(score));
}

/**
 * A stored record as the client returns it. `values` is always present (empty for sparse-only
 * records), as Pinecone's REST answers carry it. Everything is a copy: the engine hands out
 * its stored objects (the memtable's metadata), and a caller editing a result must not edit
 * the database.
 */
export function recordOut(record: VectorRecord): PineconeRecord {
  const out: PineconeRecord = {
    id: record.id,
    values: record.values ? shortestFloat32Array(record.values) : [],
  };
  if (record.sparseValues) out.sparseValues = sparseOut(record.sparseValues);
  if (record.metadata) out.metadata = copyMetadata(record.metadata);
  return out;
}

/** A query match: `values` is `[]` unless values were asked for, as Pinecone answers. */
export function matchOut(match: ScoredRecord): ScoredPineconeRecord {
  const out: ScoredPineconeRecord = {
    id: match.id,
    score: scoreOut(match.score),
    values: match.values ? shortestFloat32Array(match.values) : [],
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

/**
 * The read capacity as the client reports it: the mode, Dedicated's settings, and the status
 * (Migrating while a switch to Dedicated warms the index). Pod indexes have none.
 */
export function readCapacityOut(description: IndexDescription): ReadCapacityResponse | undefined {
  if (description.deployment.type === "pod") return undefined;
  const capacity = description.readCapacity;
  const status = description.readCapacityStatus;
  if (capacity.mode === "OnDemand") return { mode: "OnDemand", status: { state: status.state } };
  const dedicatedStatus: Extract<ReadCapacityResponse, { mode: "Dedicated" }>["status"] = {
    state: status.state,
  };
  if (status.currentReplicas !== undefined) dedicatedStatus.currentReplicas = status.currentReplicas;
  if (status.currentShards !== undefined) dedicatedStatus.currentShards = status.currentShards;
  if (status.errorMessage !== undefined) dedicatedStatus.errorMessage = status.errorMessage;
  return {
    mode: "Dedicated",
    dedicated: {
      nodeType: capacity.nodeType,
      scaling: capacity.scaling,
      manual: { replicas: capacity.replicas, shards: capacity.shards },
    },
    status: dedicatedStatus,
  };
}

/** `deployment` of the 2026-07 model: managed (serverless) or pod. */
export function deploymentOut(description: IndexDescription): IndexModel["deployment"] {
  const deployment = description.deployment;
  if (deployment.type === "pod") {
    return {
      deploymentType: "pod",
      environment: deployment.environment,
      podType: deployment.podType,
      replicas: deployment.replicas,
      shards: deployment.shards,
    };
  }
  return { deploymentType: "managed", cloud: deployment.cloud, region: deployment.region };
}

/**
 * The 2026-07 model's `schema.fields`: the reserved `_values` (dense) or `_sparse_values`
 * (sparse) field, plus, for a pod index that indexes only some metadata fields, each of them
 * as `{filterable: true}` (the client's LegacyMetadataField). The HTTP control plane's
 * 2026-07 model carries the same object.
 */
export function vectorFieldsOut(description: IndexDescription): IndexModel["schema"]["fields"] {
  const fields: IndexModel["schema"]["fields"] =
    description.vectorType === "sparse"
      ? { _sparse_values: { type: "sparse_vector" } }
      : {
          _values: {
            type: "dense_vector",
            dimension: description.dimension as number,
            metric: description.metric,
          },
        };
  for (const name of description.metadataIndexed ?? []) defineOwn(fields, name, { filterable: true });
  return fields;
}

/** The older models' `spec`: `serverless` with its read capacity, or `pod` with its sizing. */
export function legacySpecOut(description: IndexDescription): IndexModel["spec"] {
  const deployment = description.deployment;
  if (deployment.type === "pod") {
    const { environment, podType, pods, replicas, shards } = deployment;
    return { pod: { environment, podType, pods, replicas, shards } };
  }
  return {
    serverless: {
      cloud: deployment.cloud,
      region: deployment.region,
      readCapacity: readCapacityOut(description)!,
    },
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
    deployment: deploymentOut(description),
    schema: { fields: vectorFieldsOut(description) },
    deletionProtection: description.deletionProtection,
  } as IndexModel;
  const readCapacity = readCapacityOut(description);
  if (readCapacity !== undefined) model.readCapacity = readCapacity;
  if (Object.keys(description.tags).length > 0) model.tags = { ...description.tags };
  const getters: Record<string, () => unknown> = {
    dimension: () => description.dimension,
    metric: () => description.metric,
    vectorType: () => description.vectorType,
    spec: () => legacySpecOut(description),
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
