/**
 * Reads of one namespace: query, fetch, list, fetch by metadata, counts. A read fans out to the
 * memtables (scanned here) and every live slab (through its slab actor), then merges. Reads run
 * concurrently with each other and with writes; a write's mutation is one synchronous step, so
 * a read sees whole batches only.
 */
import {
  inverseNorm,
  inverseNormFloat64,
  isKernelSafeInverseNorm,
  lowerIsBetter,
  unitVector,
} from "../../ffi/mod.ts";
import { invalidArgument } from "../../storage/errors.ts";
import { metadataByteLength } from "../../storage/metadata.ts";
import { compileFilter } from "../../storage/filter/mod.ts";
import type { Memtable } from "../../storage/memtable/mod.ts";
import { compareIds } from "../../storage/memtable/mod.ts";
import type { Filter, VectorRecord } from "../../storage/types.ts";
import type {
  ExplainedSource,
  FetchByMetadataRequest,
  FetchByMetadataResult,
  FetchResult,
  ListRequest,
  ListResult,
  QueryRequest,
  QueryResult,
  ScoredRecord,
} from "../api.ts";
import { kthScore, mergeTopK } from "../router/merge.ts";
import type { RouterSearchAnswer, RouterSearchRequest } from "../router/router-actor.ts";
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
  if (vector && state.index.metric === "cosine") {
    // Cosine similarity needs a direction: a zero query would score every row 0 and return an
    // arbitrary "top" k. Any other finite query has one; one whose norm the float32 kernels
    // cannot handle is scaled to unit length in float64 first (the scores do not change).
    const queryInverseNorm = inverseNorm(vector);
    if (queryInverseNorm === 0 && inverseNormFloat64(vector) === 0) {
      throw invalidArgument(
        "vector",
        "cosine queries need a vector with a direction (not all zeros)",
        "a non-zero vector",
        "all zeros",
      );
    }
    if (!isKernelSafeInverseNorm(queryInverseNorm)) vector = unitVector(vector);
  }
  const blockQuery: BlockQuery = { metric: state.index.metric, k: request.topK, vector, sparseVector };

  const lists: Candidate[][] = [];
  const explained: ExplainedSource[] = [];
  const filter = state.visibleFilter(request.filter);
  const predicate = filter ? compileFilter(filter) : undefined;
  for (const memtable of state.memtables()) {
    const started = performance.now();
    lists.push(searchMemtable(memtable, blockQuery, predicate));
    if (request.explain) explained.push(memtableExplain(memtable, performance.now() - started));
  }
  const ascending = lowerIsBetter(state.index.metric) && vector !== undefined;
  const slabs = state.slabs.filter((slab) => slab.liveCount > 0);
  let cold = false;
  if (slabs.length > 0) {
    const routed: RouterSearchRequest = {
      slabs: slabs.map((slab) => ({ address: slab.address, live: slab.live })),
      search: {
        query: blockQuery,
        filter,
        effort: request.searchEffort,
        explain: request.explain,
        bound: kthScore(lists, request.topK, ascending),
      },
      topK: request.topK,
      ascending,
    };
    const found = await transport.request<RouterSearchAnswer>(address("router", "local"), "search", routed);
    lists.push(found.candidates.map(({ id, score, slab, row }) => ({ id, score, slab: slabs[slab]!, row })));
    explained.push(...found.explained);
    cold = found.cold;
  }
  const matches = await materialize(mergeTopK(lists, request.topK, ascending), request, transport);
  const result: QueryResult = { matches, namespace: state.namespace, readUnits: 1, lsn };
  if (request.explain) result.explain = { lsn, searchEffort: request.searchEffort ?? 1, sources: explained };
  if (cold) result.cold = true;
  return result;
}

function memtableExplain(memtable: Memtable, ms: number): ExplainedSource {
  return {
    source: "memtable",
    level: -1,
    index: "flat",
    strategy: "exact",
    rowsScored: memtable.liveCount,
    rowsEstimated: 0,
    boundPruned: 0,
    partitionsProbed: 0,
    partitions: 0,
    ms,
  };
}

/** A match before its record is read: where it lives and its score. */
interface Candidate {
  id: string;
  score: number;
  row: number;
  memtable?: Memtable;
  slab?: SlabEntry;
}

/** Records are read in rank order this many at a time, so a result budget stops reading early. */
const materializeChunkRecords = 256;
/** JSON bytes a match costs besides its values and metadata (id quotes, score, keys), estimated. */
const matchOverheadBytes = 48;
/** JSON bytes of one float (shortest float32 text and a comma), on average. */
const floatTextBytes = 12;

/** What one match adds to a JSON answer, estimated (the measure `resultBytesMax` limits). */
function estimatedJsonBytes(match: ScoredRecord): number {
  let bytes = matchOverheadBytes + match.id.length;
  if (match.values) bytes += match.values.length * floatTextBytes;
  if (match.sparseValues) bytes += match.sparseValues.indices.length * (floatTextBytes + 11);
  if (match.metadata) bytes += metadataByteLength(match.metadata);
  return bytes;
}

/**
 * Reads the final matches' values and metadata (only what the request asked for) from the
 * memtables and slabs, best first, a chunk at a time; past `request.resultBytesMax` it stops
 * and refuses the query naming topK, before the rest is read.
 */
async function materialize(
  candidates: Candidate[],
  request: QueryRequest,
  transport: Transport,
): Promise<ScoredRecord[]> {
  const wanted = { values: request.includeValues, metadata: request.includeMetadata };
  if (!wanted.values && !wanted.metadata) return candidates.map(({ id, score }) => ({ id, score }));
  const matches: ScoredRecord[] = [];
  let bytes = 0;
  for (let start = 0; start < candidates.length; start += materializeChunkRecords) {
    const chunk = candidates.slice(start, start + materializeChunkRecords);
    const read = await readCandidates(chunk, wanted, transport);
    for (const [i, candidate] of chunk.entries()) {
      const match: ScoredRecord = { ...read[i]!, id: candidate.id, score: candidate.score };
      matches.push(match);
      bytes += estimatedJsonBytes(match);
      if (request.resultBytesMax !== undefined && bytes > request.resultBytesMax) {
        throw invalidArgument(
          "topK",
          `topK: the result would exceed ${request.resultBytesMax} bytes by match ${matches.length} of ${candidates.length} (the query result limit); lower topK, or leave out includeValues or includeMetadata`,
          `results of at most ${request.resultBytesMax} bytes`,
          `more than ${request.resultBytesMax} bytes`,
        );
      }
    }
  }
  return matches;
}

/** The records of `candidates`, in their order: memtable rows directly, slab rows one request per slab. */
async function readCandidates(
  candidates: Candidate[],
  wanted: { values: boolean; metadata: boolean },
  transport: Transport,
): Promise<VectorRecord[]> {
  const records: VectorRecord[] = new Array(candidates.length);
  const bySlab = new Map<SlabEntry, number[]>();
  candidates.forEach((candidate, at) => {
    if (candidate.memtable) records[at] = memtableRecord(candidate.memtable, candidate.row, wanted);
    else {
      const positions = bySlab.get(candidate.slab!);
      if (positions) positions.push(at);
      else bySlab.set(candidate.slab!, [at]);
    }
  });
  await Promise.all(
    [...bySlab].map(async ([slab, positions]) => {
      const read = await transport.request<VectorRecord[]>(slab.address, "records", {
        rows: positions.map((at) => candidates[at]!.row),
        ...wanted,
      });
      positions.forEach((at, i) => {
        records[at] = read[i]!;
      });
    }),
  );
  return records;
}

function memtableRecord(memtable: Memtable, row: number, wanted: { values: boolean; metadata: boolean }) {
  const record: VectorRecord = { id: memtable.id(row) };
  if (wanted.values) {
    const values = memtable.values(row);
    if (values) record.values = values;
    const sparse = memtable.sparseValues(row);
    if (sparse) record.sparseValues = sparse;
  }
  if (wanted.metadata) {
    const metadata = memtable.metadata(row);
    if (metadata) record.metadata = metadata;
  }
  return record;
}

function searchMemtable(
  memtable: Memtable,
  query: BlockQuery,
  predicate: ((metadata: VectorRecord["metadata"]) => boolean) | undefined,
): Candidate[] {
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
    extremeRows: memtable.extremeRows,
  };
  return searchBlock(block, query, eligible).map(({ row, score }) => ({
    id: memtable.id(row),
    score,
    row,
    memtable,
  }));
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
    filter: state.visibleFilter(request.filter),
  });
  const wanted = found.slice(0, request.limit);
  // Read a chunk at a time; past the byte budget the page ends early (never empty) and the
  // token points at the next record, so a client paging through sees every record once.
  const records: VectorRecord[] = [];
  let bytes = 0;
  let cut = false;
  for (let start = 0; start < wanted.length && !cut; start += materializeChunkRecords) {
    const chunk = wanted.slice(start, start + materializeChunkRecords);
    const read = await readCandidates(
      chunk.map((item) => ({ ...item, score: 0 })),
      { values: true, metadata: true },
      transport,
    );
    for (const record of read) {
      bytes += estimatedJsonBytes({ ...record, score: 0 });
      if (request.resultBytesMax !== undefined && bytes > request.resultBytesMax && records.length > 0) {
        cut = true;
        break;
      }
      records.push(record);
    }
  }
  const result: FetchByMetadataResult = {
    records,
    namespace: state.namespace,
    readUnits: readUnitsFor(records.length),
    lsn,
  };
  if (cut || found.length > request.limit) result.next = encodeToken(records[records.length - 1]!.id);
  return result;
}

export async function countMatching(
  state: NamespaceState,
  transport: Transport,
  requested?: Filter,
): Promise<number> {
  const filter = state.visibleFilter(requested);
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
