/**
 * Reads of one namespace: query, fetch, list, fetch by metadata, counts. A read fans out to the
 * memtables (scanned here) and every live slab (through its slab actor), then merges. Reads run
 * concurrently with each other and with writes; a write's mutation is one synchronous step, so
 * a read sees whole batches only.
 */
import { inverseNorm, lowerIsBetter } from "../../ffi/mod.ts";
import { invalidArgument } from "../../storage/errors.ts";
import { compileFilter } from "../../storage/filter/mod.ts";
import type { Memtable } from "../../storage/memtable/mod.ts";
import { compareIds } from "../../storage/memtable/mod.ts";
import type { Filter, VectorRecord } from "../../storage/types.ts";
import type {
  FetchByMetadataRequest,
  FetchByMetadataResult,
  FetchResult,
  ListRequest,
  ListResult,
  QueryRequest,
  QueryResult,
  ScoredRecord,
} from "../api.ts";
import { mergeTopK } from "../router/merge.ts";
import type { RouterSearchRequest } from "../router/router-actor.ts";
import { address, type Transport } from "../runtime/mod.ts";
import { type BlockQuery, type Eligible, eligibleFromRows, searchBlock } from "../search/block-search.ts";
import type { SlabEntry } from "./manifest.ts";
import type { NamespaceState } from "./state.ts";

/** Pinecone-style read units: one per query, plus one per 10 fetched records. */
function readUnitsFor(records: number): number {
  return Math.max(1, Math.ceil(records / 10));
}

export async function query(
  state: NamespaceState,
  transport: Transport,
  request: QueryRequest,
): Promise<QueryResult> {
  const lsn = state.appliedLsn;
  let vector = request.vector;
  let sparseVector = request.sparseVector;
  if (request.id !== undefined) {
    const found = (await state.readRecords(await state.locate([request.id]))).get(request.id);
    if (!found) return { matches: [], namespace: state.namespace, readUnits: 1, lsn };
    vector = found.values;
    // A stored record's sparse part joins the query only where hybrid scoring exists.
    sparseVector = state.index.metric === "dotproduct" ? found.sparseValues : undefined;
  }
  if (state.index.vectorType === "dense" && !vector) {
    throw invalidArgument("vector", "dense indexes need a query vector (or an id)", "vector or id", "none");
  }
  if (state.index.vectorType === "sparse" && !sparseVector) {
    throw invalidArgument(
      "sparseVector",
      "sparse indexes need a sparse query vector (or an id)",
      "sparseVector or id",
    );
  }
  if (sparseVector && state.index.metric !== "dotproduct") {
    throw invalidArgument(
      "sparseVector",
      "sparse and hybrid queries need a dotproduct index",
      "dotproduct",
      state.index.metric,
    );
  }
  state.checkVectors(vector, sparseVector, "query", "query");
  const queryInverseNorm = vector && state.index.metric === "cosine" ? inverseNorm(vector) : 1;
  if (!(queryInverseNorm > 0 && Number.isFinite(queryInverseNorm))) {
    // Cosine similarity needs a direction: a zero (or underflowing) query would score every
    // row 0 or NaN and return an arbitrary "top" k.
    throw invalidArgument(
      "vector",
      "cosine queries need a vector with a direction (not all zeros, not vanishingly small)",
      "a non-zero vector",
      "a zero-length vector",
    );
  }
  const blockQuery: BlockQuery = { metric: state.index.metric, k: request.topK, vector, sparseVector };

  const lists: ScoredRecord[][] = [];
  const predicate = request.filter ? compileFilter(request.filter) : undefined;
  for (const memtable of state.memtables()) {
    lists.push(searchMemtable(memtable, blockQuery, predicate, request));
  }
  const ascending = lowerIsBetter(state.index.metric) && vector !== undefined;
  const slabs = state.slabs.filter((slab) => slab.liveCount > 0);
  if (slabs.length > 0) {
    const routed: RouterSearchRequest = {
      slabs: slabs.map((slab) => ({ address: slab.address, live: slab.live })),
      search: {
        query: blockQuery,
        filter: request.filter,
        includeValues: request.includeValues,
        includeMetadata: request.includeMetadata,
      },
      topK: request.topK,
      ascending,
    };
    lists.push(await transport.request<ScoredRecord[]>(address("router", "local"), "search", routed));
  }
  return {
    matches: mergeTopK(lists, request.topK, ascending),
    namespace: state.namespace,
    readUnits: 1,
    lsn,
  };
}

function searchMemtable(
  memtable: Memtable,
  query: BlockQuery,
  predicate: ((metadata: VectorRecord["metadata"]) => boolean) | undefined,
  request: QueryRequest,
): ScoredRecord[] {
  if (memtable.liveCount === 0) return [];
  let eligible: Eligible = { bitset: memtable.live };
  if (predicate) {
    const rows: number[] = [];
    for (const row of memtable.liveRows()) if (predicate(memtable.metadata(row))) rows.push(row);
    eligible = eligibleFromRows(Uint32Array.from(rows), memtable.rowCount);
  }
  const block = {
    rowCount: memtable.rowCount,
    dim: memtable.dim,
    vectors: memtable.vectors,
    inverseNorms: memtable.inverseNorms,
    sparseValues: (row: number) => memtable.sparseValues(row),
  };
  return searchBlock(block, query, eligible).map(({ row, score }) => {
    const match: ScoredRecord = { id: memtable.id(row), score };
    if (request.includeValues) {
      const values = memtable.values(row);
      if (values) match.values = values;
      const sparse = memtable.sparseValues(row);
      if (sparse) match.sparseValues = sparse;
    }
    if (request.includeMetadata) {
      const metadata = memtable.metadata(row);
      if (metadata) match.metadata = metadata;
    }
    return match;
  });
}

export async function fetch(state: NamespaceState, ids: string[]): Promise<FetchResult> {
  const lsn = state.appliedLsn;
  const unique = [...new Set(ids)];
  const records = await state.readRecords(await state.locate(unique));
  const ordered = unique.flatMap((id) => {
    const record = records.get(id);
    return record ? [record] : [];
  });
  return { records: ordered, namespace: state.namespace, readUnits: readUnitsFor(ordered.length), lsn };
}

/** One id from some source, for the sorted merge of list and fetch-by-metadata. */
interface SourcedId {
  id: string;
  memtable?: Memtable;
  slab?: SlabEntry;
  row: number;
}

/**
 * Live ids in sorted order, strictly after `after`, starting with `prefix`, matching `filter`,
 * at most `limit`. Each source yields its own sorted run; runs merge by id. An id is live in one
 * source only (state invariant 1), so no duplicates arise.
 */
async function sortedLiveIds(
  state: NamespaceState,
  transport: Transport,
  options: { after?: string; prefix?: string; limit: number; filter?: Filter },
): Promise<SourcedId[]> {
  const prefix = options.prefix ?? "";
  const predicate = options.filter ? compileFilter(options.filter) : undefined;
  const runs: SourcedId[][] = [];
  for (const memtable of state.memtables()) {
    const run: SourcedId[] = [];
    for (const id of memtable.sortedLiveIds()) {
      if (run.length >= options.limit) break;
      if (!id.startsWith(prefix)) continue;
      if (options.after !== undefined && id <= options.after) continue;
      const row = memtable.rowOf(id);
      if (predicate && !predicate(memtable.metadata(row))) continue;
      run.push({ id, memtable, row });
    }
    runs.push(run);
  }
  const slabRuns = await Promise.all(
    state.slabs
      .filter((slab) => slab.liveCount > 0)
      .map(async (slab) => {
        const ids = await transport.request<{ id: string; row: number }[]>(slab.address, "ids", {
          after: options.after,
          prefix: options.prefix,
          limit: options.limit,
          live: slab.live,
          filter: options.filter,
        });
        return ids.map(({ id, row }) => ({ id, row, slab }));
      }),
  );
  runs.push(...slabRuns);
  return runs
    .flat()
    .sort((a, b) => compareIds(a.id, b.id))
    .slice(0, options.limit);
}

export async function list(
  state: NamespaceState,
  transport: Transport,
  request: ListRequest,
): Promise<ListResult> {
  const after = request.paginationToken === undefined ? undefined : decodeToken(request.paginationToken);
  const found = await sortedLiveIds(state, transport, {
    after,
    prefix: request.prefix,
    limit: request.limit + 1,
  });
  const page = found.slice(0, request.limit);
  const result: ListResult = {
    ids: page.map((item) => item.id),
    namespace: state.namespace,
    readUnits: 1,
  };
  if (found.length > request.limit) result.next = encodeToken(page[page.length - 1]!.id);
  return result;
}

export async function fetchByMetadata(
  state: NamespaceState,
  transport: Transport,
  request: FetchByMetadataRequest,
): Promise<FetchByMetadataResult> {
  const lsn = state.appliedLsn;
  const after = request.paginationToken === undefined ? undefined : decodeToken(request.paginationToken);
  const found = await sortedLiveIds(state, transport, {
    after,
    limit: request.limit + 1,
    filter: request.filter,
  });
  const page = found.slice(0, request.limit);
  const records = new Map<string, VectorRecord>();
  const bySlab = new Map<SlabEntry, SourcedId[]>();
  for (const item of page) {
    if (item.memtable) records.set(item.id, item.memtable.record(item.row));
    else if (item.slab) bySlab.set(item.slab, [...(bySlab.get(item.slab) ?? []), item]);
  }
  for (const [slab, items] of bySlab) {
    const read = await transport.request<VectorRecord[]>(slab.address, "records", {
      rows: items.map((item) => item.row),
      values: true,
      metadata: true,
    });
    items.forEach((item, i) => {
      records.set(item.id, read[i]!);
    });
  }
  const result: FetchByMetadataResult = {
    records: page.map((item) => records.get(item.id)!),
    namespace: state.namespace,
    readUnits: readUnitsFor(page.length),
    lsn,
  };
  if (found.length > request.limit) result.next = encodeToken(page[page.length - 1]!.id);
  return result;
}

export async function countMatching(
  state: NamespaceState,
  transport: Transport,
  filter?: Filter,
): Promise<number> {
  if (!filter) return state.recordCount;
  const predicate = compileFilter(filter);
  let count = 0;
  for (const memtable of state.memtables()) {
    for (const row of memtable.liveRows()) if (predicate(memtable.metadata(row))) count++;
  }
  const slabCounts = await Promise.all(
    state.slabs
      .filter((slab) => slab.liveCount > 0)
      .map((slab) => transport.request<Uint32Array>(slab.address, "filterRows", { filter, live: slab.live })),
  );
  for (const rows of slabCounts) count += rows.length;
  return count;
}

const tokenPrefix = "n1:";

function encodeToken(lastId: string): string {
  return Buffer.from(`${tokenPrefix}${lastId}`, "utf8").toString("base64url");
}

function decodeToken(token: string): string {
  const text = Buffer.from(token, "base64url").toString("utf8");
  if (!text.startsWith(tokenPrefix)) {
    throw invalidArgument(
      "paginationToken",
      "paginationToken is not one Needle issued",
      "a token from a previous page",
    );
  }
  return text.slice(tokenPrefix.length);
}
