/**
 * Engine results rendered as Pinecone's data-plane JSON (camelCase, gRPC-gateway style)
 * and namespaces JSON (snake_case). A record and a query match have the same JSON on the wire
 * as in the client's results, so they are shaped by the library's `recordOut` and `matchOut`;
 * what differs here is the envelope (`vectors`, `results`) and the stats and namespace keys.
 */
import type {
  FetchByMetadataResult,
  FetchResult,
  IndexStats,
  ListNamespacesResult,
  ListResult,
  NamespaceStats,
  QueryResult,
} from "../../actors/api.ts";
import { defineOwn } from "../../storage/metadata.ts";
import { matchOut, recordsById } from "../library/shapes.ts";
import { shapedKeepingNegativeZeros } from "./json-text.ts";
import type { JsonObject } from "./requests.ts";

/** `namespace` echoes what the request named ("" when it named none), as Pinecone does. */
export function queryJson(result: QueryResult, requestedNamespace: string): JsonObject {
  const out: JsonObject = shapedKeepingNegativeZeros(() => ({
    results: [],
    matches: result.matches.map(matchOut),
    namespace: requestedNamespace,
    usage: { readUnits: result.readUnits },
  }));
  // Needle extension (asked for with X-Needle-Explain: 1 or `explain: true`); clients that do
  // not know it ignore it. The LSN travels as a string, like every int64 on the wire.
  if (result.explain !== undefined) out.explain = { ...result.explain, lsn: String(result.explain.lsn) };
  return out;
}

export function fetchJson(result: FetchResult, requestedNamespace: string): JsonObject {
  return shapedKeepingNegativeZeros(() => ({
    vectors: recordsById(result.records),
    namespace: requestedNamespace,
    usage: { readUnits: result.readUnits },
  }));
}

export function fetchByMetadataJson(result: FetchByMetadataResult, requestedNamespace: string): JsonObject {
  return shapedKeepingNegativeZeros(() => {
    const out: JsonObject = {
      vectors: recordsById(result.records),
      namespace: requestedNamespace,
      usage: { readUnits: result.readUnits },
    };
    if (result.next !== undefined) out.pagination = { next: result.next };
    return out;
  });
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
    defineOwn<unknown>(namespaces, namespace.name, { vectorCount: namespace.recordCount });
  const out: JsonObject = {
    namespaces,
    indexFullness: stats.indexFullness,
    totalVectorCount: stats.totalVectorCount,
    metric: stats.metric,
    vectorType: stats.vectorType,
  };
  if (stats.dimension !== undefined) out.dimension = stats.dimension;
  // Needle extension (the official client keeps only the fields it knows).
  if (stats.compaction !== undefined) out.compaction = stats.compaction;
  if (stats.tenancy !== undefined) out.tenancy = stats.tenancy;
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
