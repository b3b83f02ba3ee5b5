/**
 * Data-plane request schemas (upsert, query, fetch, fetch by metadata, update, delete, list,
 * namespaces). Each `parseX(input, options)` validates plain camelCase input, parses its
 * metadata filter with storage/filter's `parseFilter`, and returns the request shape of
 * actors/api.ts. The zod schemas keep `filter` raw because filter parsing is not zod's job
 * here.
 */
import { z } from "zod";
import type {
  DeleteRequest,
  FetchByMetadataRequest,
  ListNamespacesRequest,
  ListRequest,
  QueryRequest,
  UpdateRequest,
} from "../../actors/api.ts";
import { parseFilter } from "../../storage/filter/mod.ts";
import type { Filter, VectorRecord } from "../../storage/types.ts";
import { fail, fieldPath, type ParseOptions, parseInput } from "./errors.ts";
import {
  fetchByMetadataLimitDefault,
  fetchByMetadataLimitMax,
  fetchByMetadataLimitMin,
  idCharsMax,
  idsPerRequestMax,
  listLimitDefault,
  listLimitMax,
  listLimitMin,
  namespaceCharsMax,
  namespaceListLimitDefault,
  namespaceListLimitMax,
  namespaceListLimitMin,
  paginationTokenCharsMax,
  recordsPerUpsertMax,
  recordsPerUpsertMin,
  searchEffortMax,
  searchEffortMin,
  topKMax,
  topKMin,
} from "./limits.ts";
import { denseValues, isAscii, metadata, record, recordId, sparseValues } from "./vectors.ts";

/** A namespace name: at most 512 ASCII characters, no NUL; "" means the default namespace. */
export const namespaceName = z
  .string()
  .max(namespaceCharsMax)
  .refine(isAscii, {
    message: "must contain only ASCII characters",
    params: { limit: `0-${namespaceCharsMax} ASCII characters, no NUL` },
  })
  .refine((name) => !name.includes("\0"), {
    message: "must not contain NUL",
    params: { limit: `0-${namespaceCharsMax} ASCII characters, no NUL` },
  })
  // A URL path cannot carry these segments (clients and servers resolve them away, even
  // percent-encoded), so such a namespace could be written but never described or deleted.
  .refine((name) => name !== "." && name !== "..", {
    message: "must not be '.' or '..' (a URL path cannot name them)",
    params: { limit: `0-${namespaceCharsMax} ASCII characters, no NUL, not '.' or '..'` },
  });

const paginationToken = z.string().min(1).max(paginationTokenCharsMax);
const idList = z.array(recordId).min(1).max(idsPerRequestMax);

export const upsertRequest = z.object({
  records: z.array(record).min(recordsPerUpsertMin).max(recordsPerUpsertMax),
});

export const queryRequest = z.object({
  topK: z.int().min(topKMin).max(topKMax),
  vector: denseValues.optional(),
  sparseVector: sparseValues.optional(),
  id: recordId.optional(),
  filter: z.unknown().optional(),
  includeValues: z.boolean().default(false),
  includeMetadata: z.boolean().default(false),
  /** Needle: multiplies indexed slabs' calibrated search effort (more recall, more time). */
  searchEffort: z.number().min(searchEffortMin).max(searchEffortMax).optional(),
  /** Needle: say how each source was searched (HTTP also takes the header X-Needle-Explain: 1). */
  explain: z.boolean().optional(),
  /** Needle cluster: "eventual" may be answered by a read replica (HTTP: X-Needle-Consistency). */
  consistency: z.enum(["strong", "eventual"]).optional(),
});

export const fetchRequest = z.object({ ids: idList });

export const fetchByMetadataRequest = z.object({
  filter: z.unknown().optional(),
  limit: z
    .int()
    .min(fetchByMetadataLimitMin)
    .max(fetchByMetadataLimitMax)
    .default(fetchByMetadataLimitDefault),
  paginationToken: paginationToken.optional(),
});

export const updateRequest = z.object({
  id: recordId.optional(),
  filter: z.unknown().optional(),
  values: denseValues.optional(),
  sparseValues: sparseValues.optional(),
  setMetadata: metadata.optional(),
  dryRun: z.boolean().optional(),
});

export const deleteRequest = z.object({
  ids: idList.optional(),
  filter: z.unknown().optional(),
  deleteAll: z.boolean().optional(),
});

export const listRequest = z.object({
  prefix: z.string().max(idCharsMax).optional(),
  limit: z.int().min(listLimitMin).max(listLimitMax).default(listLimitDefault),
  paginationToken: paginationToken.optional(),
});

export const listNamespacesRequest = z.object({
  prefix: z.string().max(namespaceCharsMax).optional(),
  limit: z.int().min(namespaceListLimitMin).max(namespaceListLimitMax).default(namespaceListLimitDefault),
  paginationToken: paginationToken.optional(),
});

/** `name` under the caller's prefix and wire names, as zod issue paths are reported. */
function at(options: ParseOptions, name: string): string {
  return fieldPath([name], options);
}

function filterAt(raw: unknown, options: ParseOptions): Filter {
  return parseFilter(raw, at(options, "filter"));
}

export function parseNamespace(input: unknown, options: ParseOptions = {}): string {
  return parseInput(namespaceName, input, { fieldPrefix: options.fieldPrefix ?? "namespace" });
}

export function parseUpsert(input: unknown, options: ParseOptions = {}): VectorRecord[] {
  return parseInput(upsertRequest, input, options).records;
}

/** One record as upsert takes it (an import row); errors name `<fieldPrefix>.<field>`. */
export function parseRecord(input: unknown, options: ParseOptions = {}): VectorRecord {
  return parseInput(record, input, options);
}

export function parseQuery(input: unknown, options: ParseOptions = {}): QueryRequest {
  const parsed = parseInput(queryRequest, input, options);
  const byVector = parsed.vector !== undefined || parsed.sparseVector !== undefined;
  if (parsed.id !== undefined && byVector) {
    fail(
      at(options, "id"),
      "cannot be combined with vector or sparseVector",
      "one of id, vector/sparseVector",
      parsed.id,
    );
  }
  if (parsed.id === undefined && !byVector) {
    fail(
      at(options, "vector"),
      "is required (or sparseVector, or id)",
      "one of id, vector/sparseVector",
      undefined,
    );
  }
  const out: QueryRequest = {
    topK: parsed.topK,
    includeValues: parsed.includeValues,
    includeMetadata: parsed.includeMetadata,
  };
  if (parsed.vector !== undefined) out.vector = parsed.vector;
  if (parsed.sparseVector !== undefined) out.sparseVector = parsed.sparseVector;
  if (parsed.id !== undefined) out.id = parsed.id;
  if (parsed.filter !== undefined) out.filter = filterAt(parsed.filter, options);
  if (parsed.searchEffort !== undefined) out.searchEffort = parsed.searchEffort;
  if (parsed.explain === true) out.explain = true;
  if (parsed.consistency !== undefined) out.consistency = parsed.consistency;
  return out;
}

export function parseFetch(input: unknown, options: ParseOptions = {}): string[] {
  return parseInput(fetchRequest, input, options).ids;
}

export function parseFetchByMetadata(input: unknown, options: ParseOptions = {}): FetchByMetadataRequest {
  const parsed = parseInput(fetchByMetadataRequest, input, options);
  const out: FetchByMetadataRequest = { limit: parsed.limit };
  if (parsed.filter !== undefined) out.filter = filterAt(parsed.filter, options);
  if (parsed.paginationToken !== undefined) out.paginationToken = parsed.paginationToken;
  return out;
}

export function parseUpdate(input: unknown, options: ParseOptions = {}): UpdateRequest {
  const parsed = parseInput(updateRequest, input, options);
  if (parsed.id !== undefined && parsed.filter !== undefined) {
    fail(at(options, "id"), "cannot be combined with filter", "one of id, filter", parsed.id);
  }
  if (parsed.id === undefined && parsed.filter === undefined) {
    fail(at(options, "id"), "is required (or filter)", "one of id, filter", undefined);
  }
  const out: UpdateRequest = {};
  if (parsed.id !== undefined) out.id = parsed.id;
  if (parsed.filter !== undefined) out.filter = filterAt(parsed.filter, options);
  if (parsed.values !== undefined) out.values = parsed.values;
  if (parsed.sparseValues !== undefined) out.sparseValues = parsed.sparseValues;
  if (parsed.setMetadata !== undefined) out.setMetadata = parsed.setMetadata;
  if (parsed.dryRun !== undefined) out.dryRun = parsed.dryRun;
  return out;
}

export function parseDelete(input: unknown, options: ParseOptions = {}): DeleteRequest {
  const parsed = parseInput(deleteRequest, input, options);
  const deleteAll = parsed.deleteAll === true;
  const given = [parsed.ids !== undefined, parsed.filter !== undefined, deleteAll].filter(Boolean);
  const exactlyOne = "exactly one of ids, filter, deleteAll";
  if (given.length > 1)
    fail(at(options, "ids"), "ids, filter and deleteAll exclude each other", exactlyOne, undefined);
  if (parsed.ids !== undefined) return { ids: parsed.ids };
  if (parsed.filter !== undefined) return { filter: filterAt(parsed.filter, options) };
  if (deleteAll) return { deleteAll: true };
  return fail(at(options, "ids"), "is required (or filter, or deleteAll: true)", exactlyOne, undefined);
}

export function parseList(input: unknown, options: ParseOptions = {}): ListRequest {
  const parsed = parseInput(listRequest, input ?? {}, options);
  const out: ListRequest = { limit: parsed.limit };
  if (parsed.prefix !== undefined) out.prefix = parsed.prefix;
  if (parsed.paginationToken !== undefined) out.paginationToken = parsed.paginationToken;
  return out;
}

export function parseListNamespaces(input: unknown, options: ParseOptions = {}): ListNamespacesRequest {
  const parsed = parseInput(listNamespacesRequest, input ?? {}, options);
  const out: ListNamespacesRequest = { limit: parsed.limit };
  if (parsed.prefix !== undefined) out.prefix = parsed.prefix;
  if (parsed.paginationToken !== undefined) out.paginationToken = parsed.paginationToken;
  return out;
}

/** The optional filter of describe-index-stats. */
export function parseStatsFilter(input: unknown, options: ParseOptions = {}): Filter | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== "object" || Array.isArray(input)) {
    return fail(options.fieldPrefix ?? "request", "must be an object", undefined, input);
  }
  const raw = (input as { filter?: unknown }).filter;
  return raw === undefined ? undefined : filterAt(raw, options);
}
