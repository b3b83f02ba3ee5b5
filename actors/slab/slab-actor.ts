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
  type BlockQuery,
  type Eligible,
  eligibleCount,
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

export function slabFactory(blobs: BlobStore, isResident: (index: string) => boolean) {
  return async (context: ActorContext): Promise<Actor> => {
    const [index, slab] = splitKey(context.self.key);
    const separator = slab.indexOf("\u0000");
    const slabId = separator < 0 ? slab : slab.slice(0, separator);
    const path = await blobs.localPath(slabKey(index, slabId));
    let reader: SlabSource;
    if (separator < 0) reader = SlabReader.openFile(path);
    else reader = openRunView(path, slab.slice(separator + 1));
    const actor = new SlabActor(reader, path, context, () => isResident(index));
    await context.transport.request(address("executor", "local"), "opened", {
      slab: context.self.key,
      bytes: reader.info.byteLength,
    });
    return actor;
  };
}

class SlabActor implements Actor {
  readonly concurrentVerbs = new Set(["search", "rowsOf", "records", "ids", "filterRows", "warm"]);
  readonly idleMs = slabIdleMs;
  private metadataIndex: MetadataIndex | undefined;
  private postings: SparsePostings | undefined;
  /** Filter (its JSON) -> matching rows, least recently used first. */
  private readonly filterBitsets = new Map<string, Uint8Array>();

  constructor(
    private readonly reader: SlabSource,
    private readonly path: string,
    private readonly context: ActorContext,
    private readonly isResident: () => boolean,
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
        const answer = this.search(payload as SlabSearchRequest);
        if (cold) {
          answer.cold = true;
          if (answer.explain) answer.explain.cold = true;
        }
        return answer;
      }
      case "rowsOf":
        return (payload as { ids: string[] }).ids.map((id) => this.reader.rowOf(id));
      case "records":
        return this.records(payload as SlabRowsRequest);
      case "ids":
        return this.ids(payload as SlabIdsRequest);
      case "describe": {
        const index = this.reader.vectorIndex;
        return { index: index === undefined ? "flat" : "ivf", partitions: index?.partitionCount ?? 0 };
      }
      case "warm":
        // Read every page once, and decode the metadata index, so the first query pays nothing.
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

  private search(request: SlabSearchRequest): SlabSearchAnswer {
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
    const block = {
      rowCount,
      dim: this.reader.info.dim,
      vectors: this.reader.vectors,
      inverseNorms: this.reader.inverseNorms,
      sparseValues: (row: number) => this.reader.sparseValues(row),
      extremeRows: this.metric === "cosine" ? this.reader.extremeRows : undefined,
      sparsePostings: () => this.sparsePostings(),
    };
    const found = searchBlock(block, { ...request.query, metric: this.metric }, eligible);
    const ascending = lowerIsBetter(this.metric) && vector !== undefined;
    const kept = found.filter(({ score }) => withinBound(score, request.bound, ascending));
    const candidates = kept.map(({ row, score }) => ({ id: this.reader.id(row), score, row }));
    if (!request.explain) return { candidates };
    return {
      candidates,
      explain: {
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

  private records(request: SlabRowsRequest): VectorRecord[] {
    return request.rows.map((row) =>
      this.reader.record(row, { values: request.values, metadata: request.metadata }),
    );
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
