/**
 * A slab actor owns one immutable slab file: it maps it, validates it once, keeps its metadata
 * index decoded, and answers searches, id lookups and record reads. Which rows are dead is not
 * the slab's business (slabs never change): the namespace passes its live bitset with each
 * request.
 *
 * It reports to the executor when it opens and closes so the executor can keep the bytes of
 * open slabs under its budget; idle slabs passivate and unmap.
 */
import { lowerIsBetter } from "../../ffi/mod.ts";
import { corruption, NeedleError } from "../../storage/errors.ts";
import type { BlobStore } from "../../storage/blob/mod.ts";
import { compileFilter, MetadataIndex } from "../../storage/filter/mod.ts";
import { SlabReader } from "../../storage/slab/mod.ts";
import type { QuantizedRows } from "../../storage/compaction/ivf.ts";
import { buildSparsePostings, type SparsePostings } from "../../storage/slab/sparse-postings.ts";
import type { Filter, Metric, VectorRecord } from "../../storage/types.ts";
import { RunView } from "../../storage/namespaces/run-view.ts";
import { namespaceKey, slabKey, splitKey } from "../layout.ts";
import { openRunView } from "./shared-readers.ts";
import { address, type Actor, type ActorContext } from "../runtime/mod.ts";
import type { ExplainedSource } from "../api.ts";
import {
  bestK,
  type BlockQuery,
  type Candidate,
  type Eligible,
  eligibleCount,
  eligibleRowList,
  bitsetFromRows,
  eligibleFromBitsets,
  searchBlock,
} from "../search/block-search.ts";
import { chooseIvfRows, int8Stage } from "../search/ivf-search.ts";
import { withinBound } from "../router/merge.ts";

export const slabIdleMs = 60_000;
/** Filters whose matching rows a slab keeps (rowCount / 8 bytes each). */
export const filterBitsetsCached = 16;

export interface SlabSearchRequest {
  query: BlockQuery;
  live: Uint8Array;
  filter?: Filter;
  /** Multiplies an indexed slab's calibrated search effort (default 1). */
  effort?: number;
  /** Answer how the slab was searched too. */
  explain?: boolean;
  /**
   * The shared top-k bound: the k-th best score of the sources searched before; candidates
   * strictly worse cannot enter the answer and are dropped before their ids are read.
   */
  bound?: number;
}

/** A slab's answer to `search`. */
export interface SlabSearchAnswer {
  candidates: SlabCandidate[];
  explain?: ExplainedSource;
  /** The slab was loaded (its actor activated) for this search: a cold read. */
  cold?: true;
}

/**
 * One of a slab's best rows for a query. Values and metadata are read later, for the final
 * top k only (`records`), so a query over many slabs never reads k records from each.
 */
export interface SlabCandidate {
  id: string;
  score: number;
  row: number;
}

export interface SlabRowsRequest {
  rows: number[];
  values: boolean;
  metadata: boolean;
}

export interface SlabIdsRequest {
  /** Ids strictly greater than `after` (or all when absent) starting with `prefix`. */
  after?: string;
  prefix?: string;
  limit: number;
  live: Uint8Array;
  filter?: Filter;
}

/** A slab file, or one namespace's run of a packed slab (storage/namespaces/run-view.ts). */
type SlabSource = SlabReader | RunView;

/** The slab key of a namespace's run of a packed slab: `<slab id> NUL <namespace>`. */
export function runSlabKey(index: string, slabId: string, namespace: string): string {
  return namespaceKey(index, `${slabId}\u0000${namespace}`);
}

export function slabFactory(
  blobs: BlobStore,
  isResident: (index: string) => boolean,
  demotedReadBytes = demotedReadBytesDefault,
) {
  return async (context: ActorContext): Promise<Actor> => {
    const [index, slab] = splitKey(context.self.key);
    const separator = slab.indexOf("\u0000");
    const slabId = separator < 0 ? slab : slab.slice(0, separator);
    const path = await blobs.localPath(slabKey(index, slabId));
    let reader: SlabSource;
    if (separator < 0) reader = SlabReader.openFile(path);
    else reader = openRunView(path, slab.slice(separator + 1));
    const actor = new SlabActor(reader, path, context, () => isResident(index), demotedReadBytes);
    await context.transport.request(address("executor", "local"), "opened", {
      slab: context.self.key,
      bytes: reader.info.byteLength,
      // A run of a shared packed file is small and shared: it is never demoted.
      indexBytes: reader instanceof SlabReader ? reader.indexPortionBytes : undefined,
    });
    return actor;
  };
}

/**
 * A demoted slab reads the float32 rows a dense search scores from its file, at most this many
 * bytes at a time: the rows its IVF partitions and int8 stage or a selective filter chose are
 * usually one read; a flat slab's scan streams its rows in chunks of this size, so memory
 * stays bounded and the slab never has to be mapped again for it.
 */
export const demotedReadBytesDefault = 16 * 1024 * 1024;

class SlabActor implements Actor {
  readonly concurrentVerbs = new Set(["search", "rowsOf", "records", "ids", "filterRows", "warm", "demote"]);
  readonly bookkeepingVerbs = new Set(["demote"]);
  readonly idleMs = slabIdleMs;
  private metadataIndex: MetadataIndex | undefined;
  private postings: SparsePostings | undefined;
  /** Filter (its JSON) -> matching rows, least recently used first. */
  private readonly filterBitsets = new Map<string, Uint8Array>();

  constructor(
    private reader: SlabSource,
    private readonly path: string,
    private readonly context: ActorContext,
    private readonly isResident: () => boolean,
    private readonly demotedReadBytes: number,
  ) {}

  /** No message served since activation (the file was opened for the next one). */
  private fresh = true;

  /** Slabs of a Dedicated index stay open however long they sit idle. */
  get resident(): boolean {
    return this.isResident();
  }

  async receive(verb: string, payload: unknown): Promise<unknown> {
    // The first message after activation found the slab unloaded: a search then says `cold`.
    const cold = this.fresh;
    this.fresh = false;
    switch (verb) {
      case "search": {
        const answer = await this.tracked(() => this.search(payload as SlabSearchRequest));
        if (cold) {
          answer.cold = true;
          if (answer.explain) answer.explain.cold = true;
        }
        return answer;
      }
      case "rowsOf":
        return (payload as { ids: string[] }).ids.map((id) => this.reader.rowOf(id));
      case "records":
        return this.tracked(() => this.records(payload as SlabRowsRequest));
      case "ids":
        return this.ids(payload as SlabIdsRequest);
      case "describe": {
        const index = this.reader.vectorIndex;
        return { index: index === undefined ? "flat" : "ivf", partitions: index?.partitionCount ?? 0 };
      }
      case "demote":
        this.demote();
        return undefined;
      case "warm":
        // Read every page once, and decode the metadata index, so the first query pays nothing.
        if (this.reader instanceof SlabReader && this.reader.demoted) this.promote();
        this.reader.touchPages();
        this.metadataIndexOrCorruption();
        return undefined;
      case "filterRows": {
        const { filter, live } = payload as { filter?: Filter; live: Uint8Array };
        return this.eligibleRows(live, filter);
      }
      default:
        throw new NeedleError("INTERNAL", `slab: unknown verb ${verb}`);
    }
  }

  async passivate(): Promise<void> {
    // A demoted slab's reads await the disk: let them finish before the reader closes.
    await Promise.allSettled([...this.reading]);
    this.postings = undefined;
    this.filterBitsets.clear();
    this.metadataIndex?.dispose();
    this.metadataIndex = undefined;
    this.reader.close();
    await this.context.transport.request(address("executor", "local"), "closed", {
      slab: this.context.self.key,
    });
  }

  private get metric(): Metric {
    return this.reader.info.metric;
  }

  /** Searches and record reads in flight (passivate waits for them). */
  private readonly reading = new Set<Promise<unknown>>();

  /** Runs `start`, tracked when the slab is demoted (only then does the work await the disk). */
  private tracked<T>(start: () => Promise<T>): Promise<T> {
    if (!(this.reader instanceof SlabReader && this.reader.demoted)) return start();
    const work = start();
    this.reading.add(work);
    void work.finally(() => this.reading.delete(work)).catch(() => {});
    return work;
  }

  private async search(request: SlabSearchRequest): Promise<SlabSearchAnswer> {
    const started = request.explain ? performance.now() : 0;
    const rowCount = this.reader.info.rowCount;
    let eligible: Eligible = request.filter
      ? eligibleFromBitsets(request.live, this.matchingBitset(request.filter), rowCount)
      : { bitset: request.live };
    // Dense queries on an indexed slab score only the rows of the partitions probed
    // (ivf-search.ts); hybrid and sparse queries stay exact.
    const index = this.reader.vectorIndex;
    const { vector, sparseVector, k } = request.query;
    let strategy: ExplainedSource["strategy"] = "exact";
    let partitionsProbed = 0;
    let rowsEstimated = 0;
    if (index !== undefined && vector !== undefined && (sparseVector?.indices.length ?? 0) === 0) {
      const effort = request.effort ?? 1;
      const choice = chooseIvfRows(index, vector, this.metric, k, eligible, rowCount, effort);
      if (choice.eligible !== undefined) eligible = choice.eligible;
      strategy = choice.strategy;
      partitionsProbed = choice.partitionsProbed;
      if (choice.eligible !== undefined && "rows" in choice.eligible) {
        const probed = choice.eligible.rows;
        const rescored = int8Stage(
          index,
          this.quantized(),
          vector,
          this.metric,
          k,
          probed,
          effort,
          this.reader.extremeRows,
        );
        if (rescored !== undefined) {
          rowsEstimated = probed.length;
          eligible = { rows: rescored };
        }
      }
    }
    let found: Candidate[];
    let rowsFetched = 0;
    const demoted = this.reader instanceof SlabReader && this.reader.demoted;
    if (demoted && vector !== undefined && (sparseVector?.indices.length ?? 0) === 0) {
      // Demoted: score the chosen rows read from the file, nothing else (a cold read).
      const rows = eligibleRowList(eligible, rowCount);
      found = await this.searchFromFile(request.query, rows);
      rowsFetched = rows.length;
    } else {
      if (this.reader instanceof SlabReader && this.reader.demoted) {
        this.promote();
        rowsFetched = rowCount;
      }
      const reader = this.reader;
      const block = {
        rowCount,
        dim: reader.info.dim,
        vectors: reader.vectors,
        inverseNorms: reader.inverseNorms,
        sparseValues: (row: number) => reader.sparseValues(row),
        extremeRows: this.metric === "cosine" ? reader.extremeRows : undefined,
        sparsePostings: () => this.sparsePostings(),
      };
      found = searchBlock(block, { ...request.query, metric: this.metric }, eligible);
    }
    const ascending = lowerIsBetter(this.metric) && vector !== undefined;
    const kept = found.filter(({ score }) => withinBound(score, request.bound, ascending));
    const candidates = kept.map(({ row, score }) => ({ id: this.reader.id(row), score, row }));
    const cold = rowsFetched > 0 ? ({ cold: true } as const) : {};
    if (!request.explain) return { candidates, ...cold };
    return {
      candidates,
      ...cold,
      explain: {
        ...cold,
        ...(rowsFetched > 0 ? { rowsFetched } : {}),
        source: this.reader.info.slabId,
        level: this.reader.info.level,
        index: index === undefined ? "flat" : "ivf",
        strategy,
        rowsScored: eligibleCount(eligible, rowCount),
        rowsEstimated,
        boundPruned: found.length - kept.length,
        partitionsProbed,
        partitions: index?.partitionCount ?? 0,
        ms: performance.now() - started,
      },
    };
  }

  /**
   * A demoted slab's dense search over `rows` (ascending): chunks of at most
   * `demotedReadBytes` of float32 rows, each read and scored as a block of its own, the
   * chunks' best merged (one chunk, the usual case for an IVF slab, needs no merge).
   */
  private async searchFromFile(query: BlockQuery, rows: Uint32Array): Promise<Candidate[]> {
    // The reader at the search's start: a promotion meanwhile replaces this.reader, and this
    // one keeps reading its (immutable) file.
    const reader = this.reader as SlabReader;
    const chunkRows = Math.max(1, Math.floor(this.demotedReadBytes / (4 * reader.info.dim)));
    if (rows.length <= chunkRows) return this.searchRows(reader, query, rows);
    const found: Candidate[] = [];
    for (let start = 0; start < rows.length; start += chunkRows) {
      found.push(...(await this.searchRows(reader, query, rows.subarray(start, start + chunkRows))));
    }
    return bestK(found, query.k, lowerIsBetter(this.metric));
  }

  /** Exact scores of `rows` read from the file, as a block of their own, mapped back to slab rows. */
  private async searchRows(reader: SlabReader, query: BlockQuery, rows: Uint32Array): Promise<Candidate[]> {
    const vectors = await reader.rowVectorsAsync(rows);
    const norms = reader.inverseNorms;
    const extreme = new Set(this.metric === "cosine" ? reader.extremeRows : []);
    const extremeRows: number[] = [];
    rows.forEach((row, i) => {
      if (extreme.has(row)) extremeRows.push(i);
    });
    const block = {
      rowCount: rows.length,
      dim: reader.info.dim,
      vectors,
      inverseNorms: Float32Array.from(rows, (row) => norms[row]!),
      sparseValues: () => undefined,
      extremeRows: this.metric === "cosine" ? extremeRows : undefined,
    };
    const all = { rows: Uint32Array.from(rows.keys()) };
    return searchBlock(block, { ...query, metric: this.metric }, all).map(({ row, score }) => ({
      row: rows[row]!,
      score,
    }));
  }

  /**
   * Keeps the index portion and gives back the raw sections (SlabReader.demote); the executor
   * asks, when slabs exceed its budget. Slabs of resident (Dedicated) indexes and runs of
   * packed files stay as they are.
   */
  private demote(): void {
    const reader = this.reader;
    if (!(reader instanceof SlabReader) || reader.demoted || this.resident) {
      // Nothing to give back; the report still ends the executor's wait for this demotion.
      this.report("resized", {
        bytes: reader instanceof SlabReader ? reader.residentBytes : reader.info.byteLength,
      });
      return;
    }
    reader.demote();
    // The decoded metadata index reads the bytes it was decoded from (views over the mapping,
    // which would keep it alive): decoded again from the reader's copy when a filter needs it.
    this.metadataIndex?.dispose();
    this.metadataIndex = undefined;
    this.postings = undefined;
    this.report("resized", { bytes: reader.residentBytes });
  }

  /**
   * Maps the file again (verified again, as at activation) for what needs all of it: sparse
   * and hybrid searches (their posting lists) and warming a Dedicated index.
   */
  private promote(): void {
    const reader = SlabReader.openFile(this.path);
    this.reader = reader;
    this.report("resized", { bytes: reader.residentBytes });
  }

  /** Tells the executor without waiting: it may be the one that sent the current message. */
  private report(verb: string, payload: object): void {
    void this.context.transport
      .request(address("executor", "local"), verb, { slab: this.context.self.key, ...payload })
      .catch(() => {});
  }

  /** The slab's int8 rows (views over the file) for the int8 stage. */
  private quantized(): QuantizedRows {
    const { rowCount, dim } = this.reader.info;
    return {
      rows: rowCount,
      dim,
      codes: this.reader.int8Codes,
      scales: this.reader.int8Scales,
      inverseNorms: this.reader.inverseNorms,
    };
  }

  /** Built at the first sparse or hybrid query and kept while the slab is open. */
  private sparsePostings(): SparsePostings | undefined {
    if (this.postings === undefined) {
      const columns = this.reader.sparseColumns;
      if (columns === undefined) return undefined;
      this.postings = buildSparsePostings(
        columns.offsets,
        columns.indices,
        columns.values,
        this.reader.info.rowCount,
      );
    }
    return this.postings;
  }

  private async records(request: SlabRowsRequest): Promise<VectorRecord[]> {
    const parts = { values: request.values, metadata: request.metadata };
    if (this.reader instanceof SlabReader) return this.reader.recordsAsync(request.rows, parts);
    const reader = this.reader;
    return request.rows.map((row) => reader.record(row, parts));
  }

  /**
   * The rows matching a filter, as a bitset, from a small cache: a slab never changes, so a
   * filter's rows do not either, and applications repeat their filters (a tenant, a
   * category). Measured on 150k rows, `bucket < 500`: evaluating took 1.3 ms and turning the
   * rows into a bitset 1 ms, every query; a cached bitset ANDed with the live one takes
   * about 20 us.
   */
  private matchingBitset(filter: Filter): Uint8Array {
    const key = JSON.stringify(filter);
    const cached = this.filterBitsets.get(key);
    if (cached !== undefined) {
      // Most recently used last.
      this.filterBitsets.delete(key);
      this.filterBitsets.set(key, cached);
      return cached;
    }
    const bitset =
      this.reader instanceof RunView ? runMatching(this.reader, filter) : this.indexMatching(filter);
    this.filterBitsets.set(key, bitset);
    if (this.filterBitsets.size > filterBitsetsCached) {
      this.filterBitsets.delete(this.filterBitsets.keys().next().value!);
    }
    return bitset;
  }

  /** The filter's rows by the slab's metadata index. */
  private indexMatching(filter: Filter): Uint8Array {
    const rowCount = this.reader.info.rowCount;
    const bitmap = this.metadataIndexOrCorruption().evaluate(filter, rowCount);
    try {
      return bitsetFromRows(bitmap.toUint32Array(), rowCount);
    } finally {
      bitmap.dispose();
    }
  }

  /** Live rows matching the filter, ascending (from the cached bitset: one evaluation per filter). */
  private eligibleRows(live: Uint8Array, filter?: Filter): Uint32Array {
    const rowCount = this.reader.info.rowCount;
    const matching = filter ? this.matchingBitset(filter) : undefined;
    const rows = new Uint32Array(rowCount);
    let kept = 0;
    for (let row = 0; row < rowCount; row++) {
      const bit = 1 << (row & 7);
      if (live[row >> 3]! & bit && (matching === undefined || matching[row >> 3]! & bit)) rows[kept++] = row;
    }
    return rows.subarray(0, kept);
  }

  private metadataIndexOrCorruption(): MetadataIndex {
    if (!this.metadataIndex) {
      const bytes = this.reader.metadataIndexBytes;
      // Every slab writer stores an index; reading a missing one as "no fields" would answer
      // filters wrongly without a word.
      if (!bytes)
        throw corruption(this.path, "slab has no metadata index section, so filters cannot be evaluated");
      this.metadataIndex = MetadataIndex.decode(bytes, this.path);
    }
    return this.metadataIndex;
  }

  private ids(request: SlabIdsRequest): { id: string; row: number }[] {
    const matching = request.filter ? this.matchingBitset(request.filter) : undefined;
    const out: { id: string; row: number }[] = [];
    const prefix = request.prefix ?? "";
    const start = request.after !== undefined && request.after >= prefix ? request.after : prefix;
    for (const [id, row] of this.reader.idsFrom(start)) {
      if (!id.startsWith(prefix)) break;
      if (request.after !== undefined && id <= request.after) continue;
      if (!((request.live[row >> 3]! >> (row & 7)) & 1)) continue;
      if (matching && !((matching[row >> 3]! >> (row & 7)) & 1)) continue;
      out.push({ id, row });
      if (out.length >= request.limit) break;
    }
    return out;
  }
}

/**
 * A run's rows matching a filter, evaluated on its own metadata row by row: a run holds at
 * most `packedRowsMax` rows (1,000), so this reads a few pages, where the packed file's
 * metadata index would be evaluated over every tenant's rows of the file. Packed slabs carry
 * no metadata index (SPEC.md "Packed slabs").
 */
function runMatching(run: RunView, filter: Filter): Uint8Array {
  const matches = compileFilter(filter);
  const rowCount = run.info.rowCount;
  const bitset = new Uint8Array((rowCount + 7) >> 3);
  for (let row = 0; row < rowCount; row++) {
    if (matches(run.metadata(row))) bitset[row >> 3]! |= 1 << (row & 7);
  }
  return bitset;
}
