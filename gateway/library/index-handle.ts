/**
 * The data-plane handle: `db.index(name)` returns one. Same method names, option objects and
 * result shapes as the official client's `Index` (9.0.0). Every input goes through
 * gateway/schemas before it reaches the engine; checks that need the index's configuration
 * (dimension, metric, dense or sparse) run after one describe of the index.
 *
 * Writes resolve to `void` as in the client; what they made durable is in `lastWrite` (this
 * handle) and `db.lastLsn(index)` (every handle of the database). Read results carry the LSN
 * they reflect as a non-enumerable `lsn` property.
 */
import type { IndexCompactionStats, IndexDescription, QueryExplain } from "../../actors/api.ts";
import { NeedleError } from "../../storage/errors.ts";
import {
  checkQueryForIndex,
  checkRecordsForIndex,
  checkUpdateForIndex,
  limits,
  parseDelete,
  parseFetch,
  parseFetchByMetadata,
  parseInput,
  parseList,
  parseListNamespaces,
  parseNamespace,
  parseNamespaceSchema,
  parseQuery,
  parseStatsFilter,
  parseUpdate,
  parseUpsert,
  recordId,
} from "../schemas/mod.ts";
import { lsnWaitMsMax, type Session } from "./session.ts";
import { matchOut, namespaceOut, recordsById, statsOut, withLsn } from "./shapes.ts";
import type {
  CreateNamespaceOptions,
  DeleteAllOptions,
  DeleteManyOptions,
  DeleteOneOptions,
  DescribeIndexStatsOptions,
  FetchByMetadataOptions,
  FetchByMetadataResponse,
  FetchOptions,
  FetchResponse,
  FreshnessOptions,
  IndexStatsDescription,
  ListNamespacesOptions,
  ListNamespacesResponse,
  ListOptions,
  ListResponse,
  NamespaceDescription,
  PineconeRecord,
  QueryOptions,
  QueryResponse,
  RecordId,
  RecordMetadata,
  UpdateOptions,
  UpsertOptions,
  WriteReceipt,
} from "./types.ts";

function unimplementedError(what: string): NeedleError {
  return new NeedleError(
    "UNIMPLEMENTED",
    `${what} is not served by Needle yet (integrated inference, imports and the documents API are not implemented)`,
  );
}

export class NeedleIndex<T extends RecordMetadata = RecordMetadata> {
  /** What the latest write through this handle made durable. */
  lastWrite: WriteReceipt | undefined;

  readonly #session: Session;
  readonly #index: string;
  readonly #namespace: string;

  constructor(session: Session, index: string, namespace: string = limits.defaultNamespace) {
    this.#session = session;
    this.#index = index;
    this.#namespace = parseNamespace(namespace);
  }

  /** A handle on the same index that targets another namespace. */
  namespace(namespace: string): NeedleIndex<T> {
    return new NeedleIndex<T>(this.#session, this.#index, namespace);
  }

  // --- writes ------------------------------------------------------------------------

  /** Takes `{records, namespace?}` (9.x) or a plain array of records (older clients). */
  async upsert(options: UpsertOptions<T> | PineconeRecord<T>[]): Promise<void> {
    const engine = this.#session.live();
    const { records, namespace } = Array.isArray(options)
      ? { records: options, namespace: undefined }
      : options;
    const target = this.#target(namespace);
    const parsed = parseUpsert({ records });
    checkRecordsForIndex(parsed, await this.#describe());
    const result = await engine.upsert(this.#index, target, parsed);
    this.#wrote({ lsn: result.lsn, upsertedCount: result.upsertedCount });
  }

  async update(options: UpdateOptions<T>): Promise<void> {
    const engine = this.#session.live();
    const target = this.#target(options?.namespace);
    const request = parseUpdate(
      {
        id: options.id,
        filter: options.filter,
        values: options.values,
        sparseValues: options.sparseValues,
        setMetadata: options.metadata,
        dryRun: options.dryRun,
      },
      { fieldNames: { setMetadata: "metadata" } },
    );
    checkUpdateForIndex(request, await this.#describe());
    const result = await engine.update(this.#index, target, request);
    this.#wrote({ lsn: result.lsn, matchedRecords: result.matchedRecords });
  }

  /** Takes `{id, namespace?}` (9.x) or a bare id (older clients). */
  async deleteOne(options: DeleteOneOptions | RecordId): Promise<void> {
    const { id, namespace } = typeof options === "string" ? { id: options, namespace: undefined } : options;
    const checked = parseInput(recordId, id, { fieldPrefix: "id" });
    await this.#delete({ ids: [checked] }, namespace);
  }

  /** Takes `{ids} | {filter}` plus `namespace?` (9.x) or a bare array of ids (older clients). */
  async deleteMany(options: DeleteManyOptions | RecordId[]): Promise<void> {
    const { ids, filter, namespace } = Array.isArray(options)
      ? { ids: options, filter: undefined, namespace: undefined }
      : options;
    await this.#delete({ ids, filter }, namespace);
  }

  async deleteAll(options?: DeleteAllOptions): Promise<void> {
    await this.#delete({ deleteAll: true }, options?.namespace);
  }

  async #delete(input: object, namespace: string | undefined): Promise<void> {
    const engine = this.#session.live();
    const target = this.#target(namespace);
    const request = parseDelete(input);
    const result = await engine.delete(this.#index, target, request);
    this.#wrote({ lsn: result.lsn });
  }

  // --- reads -------------------------------------------------------------------------

  async query(options: QueryOptions): Promise<QueryResponse<T>> {
    return (await this.#query(options, false)).response;
  }

  /**
   * Needle: `query`, and how each source (memtable or slab) was searched: index type,
   * strategy (exact, prefilter, ivf), rows scored, partitions probed, time. A separate method
   * because `query`'s answer keeps exactly the official client's shape.
   */
  async queryExplained(
    options: QueryOptions,
  ): Promise<{ response: QueryResponse<T>; explain: QueryExplain }> {
    const { response, explain } = await this.#query(options, true);
    return { response, explain: explain! };
  }

  async #query(
    options: QueryOptions,
    explain: boolean,
  ): Promise<{ response: QueryResponse<T>; explain?: QueryExplain }> {
    const engine = this.#session.live();
    const target = this.#target(options?.namespace);
    const request = parseQuery(options);
    checkQueryForIndex(request, await this.#describe());
    await this.#waitFor(options);
    const result = await engine.query(this.#index, target, explain ? { ...request, explain } : request);
    const response = {
      matches: result.matches.map(matchOut),
      namespace: target,
      usage: { readUnits: result.readUnits },
    } as QueryResponse<T>;
    return { response: withLsn(response, result.lsn), explain: result.explain };
  }

  /** Takes `{ids, namespace?}` (9.x) or a bare array of ids (older clients). */
  async fetch(options: FetchOptions | RecordId[]): Promise<FetchResponse<T>> {
    const engine = this.#session.live();
    const { ids, namespace } = Array.isArray(options) ? { ids: options, namespace: undefined } : options;
    const target = this.#target(namespace);
    const parsed = parseFetch({ ids });
    if (!Array.isArray(options)) await this.#waitFor(options);
    const result = await engine.fetch(this.#index, target, parsed);
    const response = {
      records: recordsById(result.records),
      namespace: target,
      usage: { readUnits: result.readUnits },
    } as FetchResponse<T>;
    return withLsn(response, result.lsn);
  }

  async fetchByMetadata(options: FetchByMetadataOptions): Promise<FetchByMetadataResponse<T>> {
    const engine = this.#session.live();
    const target = this.#target(options?.namespace);
    const request = parseFetchByMetadata(options);
    await this.#waitFor(options);
    const result = await engine.fetchByMetadata(this.#index, target, request);
    const response = {
      records: recordsById(result.records),
      namespace: target,
      usage: { readUnits: result.readUnits },
      pagination: result.next === undefined ? undefined : { next: result.next },
    } as FetchByMetadataResponse<T>;
    return withLsn(response, result.lsn);
  }

  async listPaginated(options?: ListOptions): Promise<ListResponse> {
    const engine = this.#session.live();
    const target = this.#target(options?.namespace);
    const request = parseList(options ?? {});
    await this.#waitFor(options);
    const result = await engine.list(this.#index, target, request);
    const response: ListResponse = {
      vectors: result.ids.map((id) => ({ id })),
      namespace: target,
      usage: { readUnits: result.readUnits },
    };
    if (result.next !== undefined) response.pagination = { next: result.next };
    return response;
  }

  async describeIndexStats(options?: DescribeIndexStatsOptions): Promise<IndexStatsDescription> {
    const engine = this.#session.live();
    const filter = parseStatsFilter(options);
    return statsOut(await engine.describeIndexStats(this.#index, filter));
  }

  /**
   * Needle: this index's compaction state and its slabs per level (the HTTP API returns the
   * same under `compaction` in describe_index_stats; the library's describeIndexStats keeps
   * exactly the official client's shape).
   */
  async describeCompaction(): Promise<IndexCompactionStats> {
    const engine = this.#session.live();
    const stats = await engine.describeIndexStats(this.#index);
    return structuredClone(stats.compaction!);
  }

  // --- namespaces ----------------------------------------------------------------------

  async listNamespaces(options?: ListNamespacesOptions): Promise<ListNamespacesResponse> {
    const engine = this.#session.live();
    const request = parseListNamespaces(options ?? {});
    const result = await engine.listNamespaces(this.#index, request);
    const response: ListNamespacesResponse = {
      namespaces: result.namespaces.map(namespaceOut),
      totalCount: result.totalCount,
    };
    if (result.next !== undefined) response.pagination = { next: result.next };
    return response;
  }

  async describeNamespace(namespace: string): Promise<NamespaceDescription> {
    const engine = this.#session.live();
    return namespaceOut(await engine.describeNamespace(this.#index, parseNamespace(namespace)));
  }

  /** `schema` is validated and echoed; it changes nothing, as every metadata field is indexed. */
  async createNamespace(options: CreateNamespaceOptions): Promise<NamespaceDescription> {
    const engine = this.#session.live();
    const name = parseNamespace(options?.name, { fieldPrefix: "name" });
    const schema = parseNamespaceSchema(options?.schema);
    const created = namespaceOut(await engine.createNamespace(this.#index, name));
    if (schema !== undefined) created.schema = schema;
    return created;
  }

  async deleteNamespace(namespace: string): Promise<void> {
    const engine = this.#session.live();
    const result = await engine.deleteNamespace(this.#index, parseNamespace(namespace));
    this.#wrote({ lsn: result.lsn });
  }

  // --- client methods Needle does not serve yet: a clear error, never "not a function" ---

  upsertRecords(_options: unknown): Promise<void> {
    return Promise.reject(unimplementedError("upsertRecords (integrated inference)"));
  }
  searchRecords(_options: unknown): Promise<never> {
    return Promise.reject(unimplementedError("searchRecords (integrated inference)"));
  }
  startImport(_options: unknown): Promise<never> {
    return Promise.reject(unimplementedError("startImport (bulk import)"));
  }
  listImports(_limit?: number, _paginationToken?: string): Promise<never> {
    return Promise.reject(unimplementedError("listImports (bulk import)"));
  }
  describeImport(_id: string): Promise<never> {
    return Promise.reject(unimplementedError("describeImport (bulk import)"));
  }
  cancelImport(_id: string): Promise<never> {
    return Promise.reject(unimplementedError("cancelImport (bulk import)"));
  }
  upsertDocuments(_options: unknown): Promise<never> {
    return Promise.reject(unimplementedError("upsertDocuments (documents API)"));
  }
  searchDocuments(_options: unknown): Promise<never> {
    return Promise.reject(unimplementedError("searchDocuments (documents API)"));
  }
  fetchDocuments(_options: unknown): Promise<never> {
    return Promise.reject(unimplementedError("fetchDocuments (documents API)"));
  }
  deleteDocuments(_options: unknown): Promise<never> {
    return Promise.reject(unimplementedError("deleteDocuments (documents API)"));
  }
  listDocuments(_options?: unknown): Promise<never> {
    return Promise.reject(unimplementedError("listDocuments (documents API)"));
  }
  updateDocuments(_options: unknown): Promise<never> {
    return Promise.reject(unimplementedError("updateDocuments (documents API)"));
  }

  // --- helpers ---------------------------------------------------------------------------

  #target(namespace: string | undefined): string {
    return namespace === undefined ? this.#namespace : parseNamespace(namespace);
  }

  #describe(): Promise<IndexDescription> {
    return this.#session.live().describeIndex(this.#index);
  }

  async #waitFor(options: FreshnessOptions | undefined): Promise<void> {
    const minLsn = options?.minLsn;
    if (minLsn === undefined) return;
    if (typeof minLsn !== "bigint" || minLsn < 0n) {
      throw new NeedleError("INVALID_ARGUMENT", "minLsn: must be a non-negative bigint", {
        field: "minLsn",
        received: typeof minLsn,
      });
    }
    await this.#session.live().waitForLsn(this.#index, minLsn, lsnWaitMsMax);
  }

  #wrote(receipt: WriteReceipt): void {
    this.lastWrite = receipt;
    this.#session.noteWrite(this.#index, receipt.lsn);
  }
}
