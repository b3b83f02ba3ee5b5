/**
 * Pinecone wire requests turned into the engine's shapes (actors/api.ts) through the shared
 * schemas in gateway/schemas — the one definition of every rule and limit. The data plane's
 * wire JSON is already the schemas' camelCase; the HTTP layer adds only what is HTTP's own:
 * where the namespace sits (body field, query parameter or path segment), query-string
 * numbers, and the wire name `vectors` for the upsert's records.
 */
import type { ListNamespacesRequest, ListRequest, QueryRequest, UpdateRequest } from "../../actors/api.ts";
import { invalidArgument } from "../../storage/errors.ts";
import type { VectorRecord } from "../../storage/types.ts";
import * as schemas from "../schemas/mod.ts";

export type JsonObject = Record<string, unknown>;

export interface Namespaced<T> {
  namespace: string;
  request: T;
}

/** Absent namespace means the default one; the engine maps "" and "__default__" together. */
export function parseNamespace(value: unknown, field = "namespace"): string {
  return schemas.parseNamespace(value ?? "", { fieldPrefix: field });
}

/** The body as an object; anything else (array, number, string) is refused by name. */
function bodyObject(raw: unknown): JsonObject {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    schemas.fail("body", "must be a JSON object", "object", raw);
  }
  return raw as JsonObject;
}

export function parseUpsert(raw: unknown): Namespaced<VectorRecord[]> {
  const body = bodyObject(raw);
  const namespace = parseNamespace(body.namespace);
  const records = schemas.parseUpsert({ records: body.vectors }, { fieldNames: { records: "vectors" } });
  return { namespace, request: records };
}

/**
 * A dense vector of the wrong length, refused in Pinecone's own words (tools match on them)
 * before the shared checks, which word it their way.
 */
function checkDimension(values: Float32Array | undefined, index: schemas.IndexShape, field: string): void {
  if (values === undefined || index.vectorType !== "dense" || values.length === index.dimension) return;
  throw invalidArgument(
    field,
    `Vector dimension ${values.length} does not match the dimension of the index ${index.dimension}`,
    index.dimension,
    values.length,
  );
}

/**
 * Checks that need the index: dimension, dense vs sparse, sparse values only under
 * dotproduct, no all-zero vector under cosine. Run before the engine sees the request.
 */
export function checkUpsertForIndex(records: readonly VectorRecord[], index: schemas.IndexShape): void {
  for (const [i, record] of records.entries()) checkDimension(record.values, index, `vectors[${i}].values`);
  schemas.checkRecordsForIndex(records, index, "vectors");
}

export function checkQueryForIndex(query: QueryRequest, index: schemas.IndexShape): void {
  checkDimension(query.vector, index, "vector");
  schemas.checkQueryForIndex(query, index);
}

export function checkUpdateForIndex(update: UpdateRequest, index: schemas.IndexShape): void {
  checkDimension(update.values, index, "values");
  schemas.checkUpdateForIndex(update, index);
}

export function parseQuery(raw: unknown) {
  const body = bodyObject(raw);
  if (body.queries !== undefined) {
    schemas.fail(
      "queries",
      "batched queries are not served; send one vector per request",
      "vector",
      "queries",
    );
  }
  return { namespace: parseNamespace(body.namespace), request: schemas.parseQuery(body) };
}

export function parseFetchIds(ids: string[]): string[] {
  return schemas.parseFetch({ ids });
}

export function parseFetchByMetadata(raw: unknown) {
  const body = bodyObject(raw);
  return { namespace: parseNamespace(body.namespace), request: schemas.parseFetchByMetadata(body) };
}

export function parseUpdate(raw: unknown) {
  const body = bodyObject(raw);
  return { namespace: parseNamespace(body.namespace), request: schemas.parseUpdate(body) };
}

export function parseDelete(raw: unknown) {
  const body = bodyObject(raw);
  // The client sends `ids: []` alongside deleteAll/filter in some versions: treat it as absent.
  const normalized = Array.isArray(body.ids) && body.ids.length === 0 ? { ...body, ids: undefined } : body;
  return { namespace: parseNamespace(body.namespace), request: schemas.parseDelete(normalized) };
}

/** Query-string numbers arrive as text; a non-numeric limit stays text so the schema names it. */
function queryNumber(value: string | null): unknown {
  if (value === null || value === "") return undefined;
  return /^-?\d+$/.test(value) ? Number(value) : value;
}

function queryString(value: string | null): string | undefined {
  return value === null || value === "" ? undefined : value;
}

export function parseList(params: URLSearchParams): Namespaced<ListRequest> {
  const namespace = parseNamespace(params.get("namespace") ?? "");
  const request = schemas.parseList({
    prefix: queryString(params.get("prefix")),
    limit: queryNumber(params.get("limit")),
    paginationToken: queryString(params.get("paginationToken")),
  });
  return { namespace, request };
}

export function parseListNamespaces(params: URLSearchParams): ListNamespacesRequest {
  return schemas.parseListNamespaces({
    prefix: queryString(params.get("prefix")),
    limit: queryNumber(params.get("limit")),
    paginationToken: queryString(params.get("paginationToken")),
  });
}

export function parseStatsFilter(raw: unknown) {
  return schemas.parseStatsFilter(bodyObject(raw));
}

export interface CreateNamespace {
  name: string;
  schema?: schemas.NamespaceSchema;
}

export function parseCreateNamespace(raw: unknown): CreateNamespace {
  const body = bodyObject(raw);
  if (typeof body.name !== "string" || body.name === "") {
    schemas.fail("name", "is required", `1-${schemas.limits.namespaceCharsMax} ASCII characters`, body.name);
  }
  const name = parseNamespace(body.name, "name");
  const schema = schemas.parseNamespaceSchema(body.schema);
  return schema ? { name, schema } : { name };
}
