/**
 * Engine results rendered as Pinecone's data-plane JSON (camelCase, gRPC-gateway style)
 * and namespaces JSON (snake_case).
 */
import type {
  FetchByMetadataResult,
  FetchResult,
  IndexStats,
  ListNamespacesResult,
  ListResult,
  NamespaceStats,
  QueryResult,
  ScoredRecord,
} from "../../actors/api.ts";
import type { SparseValues, VectorRecord } from "../../storage/types.ts";
import type { JsonObject } from "./requests.ts";

function sparseJson(sparse: SparseValues): JsonObject {
  return { indices: Array.from(sparse.indices), values: Array.from(sparse.values) };
}

function vectorJson(record: VectorRecord): JsonObject {
  const out: JsonObject = {
    id: record.id,
    values: record.values === undefined ? [] : Array.from(record.values),
  };
  if (record.sparseValues !== undefined) out.sparseValues = sparseJson(record.sparseValues);
  if (record.metadata !== undefined) out.metadata = record.metadata;
  return out;
}

function matchJson(match: ScoredRecord): JsonObject {
  const out: JsonObject = {
    id: match.id,
    score: match.score,
    values: match.values === undefined ? [] : Array.from(match.values),
  };
  if (match.sparseValues !== undefined) out.sparseValues = sparseJson(match.sparseValues);
  if (match.metadata !== undefined) out.metadata = match.metadata;
  return out;
}

/** `namespace` echoes what the request named ("" when it named none), as Pinecone does. */
export function queryJson(result: QueryResult, requestedNamespace: string): JsonObject {
  return {
    results: [],
    matches: result.matches.map(matchJson),
    namespace: requestedNamespace,
    usage: { readUnits: result.readUnits },
  };
}

function vectorsById(records: VectorRecord[]): JsonObject {
  const vectors: JsonObject = {};
  for (const record of records) vectors[record.id] = vectorJson(record);
  return vectors;
}

export function fetchJson(result: FetchResult, requestedNamespace: string): JsonObject {
  return {
    vectors: vectorsById(result.records),
    namespace: requestedNamespace,
    usage: { readUnits: result.readUnits },
  };
}

export function fetchByMetadataJson(result: FetchByMetadataResult, requestedNamespace: string): JsonObject {
  const out: JsonObject = {
    vectors: vectorsById(result.records),
    namespace: requestedNamespace,
    usage: { readUnits: result.readUnits },
  };
  if (result.next !== undefined) out.pagination = { next: result.next };
  return out;
}

/** No `pagination` on the last page: the client loops while it is present. */
export function listJson(result: ListResult, requestedNamespace: string): JsonObject {
  const out: JsonObject = {
    vectors: result.ids.map((id) => ({ id })),
    namespace: requestedNamespace,
    usage: { readUnits: result.readUnits },
  };
  if (result.next !== undefined) out.pagination = { next: result.next };
  return out;
}

export function statsJson(stats: IndexStats): JsonObject {
  const namespaces: JsonObject = {};
  for (const namespace of stats.namespaces)
    namespaces[namespace.name] = { vectorCount: namespace.recordCount };
  const out: JsonObject = {
    namespaces,
    indexFullness: stats.indexFullness,
    totalVectorCount: stats.totalVectorCount,
    metric: stats.metric,
    vectorType: stats.vectorType,
  };
  if (stats.dimension !== undefined) out.dimension = stats.dimension;
  return out;
}

/** int64 counts travel as strings in protobuf JSON. */
export function namespaceJson(namespace: NamespaceStats): JsonObject {
  return { name: namespace.name, record_count: String(namespace.recordCount) };
}

export function listNamespacesJson(result: ListNamespacesResult): JsonObject {
  const out: JsonObject = {
    namespaces: result.namespaces.map(namespaceJson),
    total_count: result.totalCount,
  };
  if (result.next !== undefined) out.pagination = { next: result.next };
  return out;
}
