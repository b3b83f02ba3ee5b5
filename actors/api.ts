/**
 * The engine's operation layer, in internal shapes. All three front doors (embedded library,
 * HTTP gateway, NATS request/reply) validate their input with gateway/schemas and then call
 * these methods; nothing here knows about HTTP, casing or the official client's shapes.
 *
 * Inputs reaching these methods are already validated against the documented limits; the
 * engine still re-checks what only it can know (dimension of the index, existence, protection).
 *
 * Namespace names are canonical: the engine maps "" and "__default__" to the same namespace
 * and reports it as "__default__".
 */
import type { LogProvider } from "../storage/log/log.ts";
import type { PlanSettings } from "../storage/compaction/plan.ts";
import type { FreeSpaceOptions } from "../storage/free-space.ts";
import type { Filter, Metadata, Metric, SparseValues, VectorRecord } from "../storage/types.ts";
import type { CompactionBuilder } from "./namespace/slab-builder.ts";

export type VectorType = "dense" | "sparse";
export type DeletionProtection = "enabled" | "disabled";

/** A serverless ("managed") index: where it would live in Pinecone's cloud, echoed. */
export interface ManagedDeployment {
  type: "managed";
  cloud: string;
  region: string;
}

/**
 * A pod-based index, as Pinecone's 2026-04 API and older clients create them. The same engine
 * serves it; the sizing is stored, echoed and configurable (podType, replicas).
 */
export interface PodDeployment {
  type: "pod";
  environment: string;
  /** `<s1|p1|p2>.<x1|x2|x4|x8>`. */
  podType: string;
  pods: number;
  replicas: number;
  shards: number;
}

export type Deployment = ManagedDeployment | PodDeployment;

/**
 * How an index serves reads. OnDemand: namespaces and slabs come and go with use. Dedicated:
 * the index is kept resident (slabs mapped and warmed at start, never evicted, namespaces never
 * passivated); `replicas` is how many executors hold it (one in the embedded mode).
 */
export type ReadCapacity =
  | { mode: "OnDemand" }
  | { mode: "Dedicated"; nodeType: "b1" | "t1"; scaling: "Manual"; replicas: number; shards: number };

export interface ReadCapacityStatus {
  /** Migrating while a switch to Dedicated warms the index; Error when the warm-up failed. */
  state: "Ready" | "Migrating" | "Error";
  errorMessage?: string;
  /** Executors that hold the index now (Dedicated only). */
  currentReplicas?: number;
  currentShards?: number;
}

export interface IndexConfig {
  name: string;
  /** Absent for sparse indexes. */
  dimension?: number;
  metric: Metric;
  vectorType: VectorType;
  deletionProtection: DeletionProtection;
  tags: Record<string, string>;
  deployment: Deployment;
  readCapacity: ReadCapacity;
  /** Pod indexes' metadataConfig.indexed: only these fields can be filtered on. Absent: all. */
  metadataIndexed?: string[];
  createdAt: string;
}

export interface IndexDescription extends IndexConfig {
  status: { ready: boolean; state: "Ready" | "Initializing" | "Terminating" };
  readCapacityStatus: ReadCapacityStatus;
}

export interface CreateIndexRequest {
  name: string;
  dimension?: number;
  metric: Metric;
  vectorType: VectorType;
  deletionProtection?: DeletionProtection;
  tags?: Record<string, string>;
  deployment?: Deployment;
  readCapacity?: ReadCapacity;
  metadataIndexed?: string[];
  /** Create from a collection: Needle has none yet, so any name is NOT_FOUND. */
  sourceCollection?: string;
}

export interface ConfigureIndexRequest {
  deletionProtection?: DeletionProtection;
  /** Merged into the existing tags; a key with value "" is removed. */
  tags?: Record<string, string>;
  readCapacity?: ReadCapacityChange;
  /** Pod indexes only. */
  pod?: { podType?: string; replicas?: number };
}

/** A change of read capacity: a mode, and for Dedicated the parts given (the rest kept). */
export type ReadCapacityChange =
  | { mode: "OnDemand" }
  | {
      mode: "Dedicated";
      nodeType?: "b1" | "t1";
      scaling?: "Manual";
      replicas?: number;
      shards?: number;
    };

/** Every write answer carries the LSN that made it durable. */
export interface WriteResult {
  lsn: bigint;
}

export interface QueryRequest {
  topK: number;
  vector?: Float32Array;
  sparseVector?: SparseValues;
  /** Query by the stored vector of this id (mutually exclusive with vector/sparseVector). */
  id?: string;
  filter?: Filter;
  includeValues: boolean;
  includeMetadata: boolean;
  /**
   * Refuse the query (INVALID_ARGUMENT naming topK) when its matches would take more than this
   * many bytes as JSON (estimated); the HTTP gateway sets Pinecone's 4 MB. Absent: no limit.
   */
  resultBytesMax?: number;
  /**
   * Multiplies the calibrated effort of indexed slabs (partitions probed); 1 by default, which
   * keeps recall@10 >= 0.95. Exact sources (memtables, level 0, small slabs) ignore it.
   */
  searchEffort?: number;
  /** Needle: add `explain` to the result (how each source was searched). */
  explain?: boolean;
  /**
   * Needle cluster: "eventual" may be answered by a read replica at its checkpoint's LSN
   * (actors/distribution/DESIGN.md decision 16); "strong" (the default) by the index's owner.
   * The embedded engine is one copy and answers every read strongly.
   */
  consistency?: Consistency;
}

export type Consistency = "strong" | "eventual";

/** How one source of a namespace (a memtable or a slab) was searched for a query. */
export interface ExplainedSource {
  /** "memtable", or the slab's id. */
  source: string;
  /** -1 for memtables; the slab's level otherwise. */
  level: number;
  index: "flat" | "ivf";
  /**
   * exact: every eligible row scored; prefilter: an indexed slab scored every eligible row
   * because few were (selective filter); ivf: the rows of the partitions probed.
   */
  strategy: "exact" | "prefilter" | "ivf";
  /** Rows scored exactly (float32). */
  rowsScored: number;
  /**
   * Rows of the probed partitions ranked by their int8 codes, of which the best were the
   * `rowsScored` rescored exactly (0: no int8 stage, every probed row was scored exactly).
   */
  rowsEstimated: number;
  /** Candidates dropped because they could not beat the best k of the sources searched before. */
  boundPruned: number;
  partitionsProbed: number;
  /** Partitions of an indexed slab (0 for flat sources). */
  partitions: number;
  /**
   * The slab had to be loaded for this query (evicted, or never opened since start), or was
   * demoted (index portion only) and read rows from its file.
   */
  cold?: boolean;
  /** Rows a demoted slab read from its file for this query (all of them when it had to map it again). */
  rowsFetched?: number;
  ms: number;
}

export interface QueryExplain {
  lsn: bigint;
  searchEffort: number;
  sources: ExplainedSource[];
}

export interface ScoredRecord {
  id: string;
  score: number;
  values?: Float32Array;
  sparseValues?: SparseValues;
  metadata?: Metadata;
}

export interface QueryResult {
  matches: ScoredRecord[];
  namespace: string;
  readUnits: number;
  /** The highest LSN the answer reflects. */
  lsn: bigint;
  /** When the request asked for it. */
  explain?: QueryExplain;
  /** Some slab had to be loaded to answer (HTTP: `X-Needle-Cold: 1`). */
  cold?: true;
}

export interface FetchResult {
  /** In request order; ids not found are absent. */
  records: VectorRecord[];
  namespace: string;
  readUnits: number;
  lsn: bigint;
}

export interface FetchByMetadataRequest {
  filter?: Filter;
  limit: number;
  paginationToken?: string;
  /** End the page early (with a pagination token) once its records would take more bytes than this as JSON. */
  resultBytesMax?: number;
}

export interface FetchByMetadataResult extends FetchResult {
  next?: string;
}

export interface UpdateRequest {
  id?: string;
  filter?: Filter;
  values?: Float32Array;
  sparseValues?: SparseValues;
  setMetadata?: Metadata;
  dryRun?: boolean;
}

export interface UpdateResult extends WriteResult {
  matchedRecords: number;
}

export type DeleteRequest = { ids: string[] } | { filter: Filter } | { deleteAll: true };

export interface ListRequest {
  prefix?: string;
  limit: number;
  paginationToken?: string;
}

export interface ListResult {
  ids: string[];
  next?: string;
  namespace: string;
  readUnits: number;
}

export interface NamespaceStats {
  name: string;
  recordCount: number;
}

export interface IndexStats {
  namespaces: NamespaceStats[];
  dimension?: number;
  metric: Metric;
  vectorType: VectorType;
  totalVectorCount: number;
  indexFullness: number;
  /** Needle extension: compaction state of this index (clients that do not know it drop it). */
  compaction?: IndexCompactionStats;
  /** Needle extension: what the index's namespaces cost, resident and idle. */
  tenancy?: IndexTenancyStats;
}

export interface IndexTenancyStats {
  /** Namespaces in the catalog (flushed at least once). */
  cataloged: number;
  /** Namespaces with an actor in memory (memtable, live bitsets) now. */
  resident: number;
  /** Bytes the in-memory catalog holds: all that an idle namespace costs in memory. */
  catalogBytes: number;
  catalogBytesPerNamespace: number;
  /** The residency cap (EngineOptions.namespacesResidentMax), for every index together. */
  residentMax: number;
  /** Namespaces passivated to stay under that cap since the process started (every index). */
  evicted: number;
  /** Packed slab files the catalog names (storage/namespaces/DESIGN.md), and the packed compactions run since the index activated. */
  packedFiles: number;
  packedCompactions: number;
}

/** One level of an index's slabs, summed over its namespaces. */
export interface CompactionLevelStats {
  level: number;
  slabs: number;
  /** Rows stored, dead ones included (they leave at the next compaction of their slab). */
  rows: number;
  liveRows: number;
  bytes: number;
}

export interface IndexCompactionStats {
  paused: boolean;
  /** The namespace of this index being compacted, or null. */
  running: string | null;
  /** Namespaces of this index waiting for a compaction. */
  queued: number;
  lastError: { namespace: string; code: string; message: string; at: string } | null;
  levels: CompactionLevelStats[];
}

/** The process's compactor (all indexes). */
export interface CompactionStatus {
  paused: boolean;
  /** `<index>/<namespace>` being compacted, or null. */
  running: string | null;
  queued: string[];
  completed: number;
  lastDurationMs: number | null;
  /** The last completed compaction's duration, per index that had one since start. */
  lastDurationMsByIndex: Record<string, number>;
  lastError: { namespace: string; code: string; message: string; at: string } | null;
}

export interface ListNamespacesRequest {
  prefix?: string;
  limit: number;
  paginationToken?: string;
}

export interface ListNamespacesResult {
  namespaces: NamespaceStats[];
  next?: string;
  totalCount: number;
}

export interface Engine {
  createIndex(request: CreateIndexRequest): Promise<IndexDescription>;
  describeIndex(name: string): Promise<IndexDescription>;
  listIndexes(): Promise<IndexDescription[]>;
  configureIndex(name: string, request: ConfigureIndexRequest): Promise<IndexDescription>;
  deleteIndex(name: string): Promise<void>;

  upsert(
    index: string,
    namespace: string,
    records: VectorRecord[],
  ): Promise<WriteResult & { upsertedCount: number }>;
  query(index: string, namespace: string, request: QueryRequest): Promise<QueryResult>;
  /** Reads take `consistency`: a cluster may answer `eventual` from a replica; one process ignores it. */
  fetch(index: string, namespace: string, ids: string[], consistency?: Consistency): Promise<FetchResult>;
  fetchByMetadata(
    index: string,
    namespace: string,
    request: FetchByMetadataRequest,
    consistency?: Consistency,
  ): Promise<FetchByMetadataResult>;
  update(index: string, namespace: string, request: UpdateRequest): Promise<UpdateResult>;
  delete(index: string, namespace: string, request: DeleteRequest): Promise<WriteResult>;
  list(
    index: string,
    namespace: string,
    request: ListRequest,
    consistency?: Consistency,
  ): Promise<ListResult>;
  describeIndexStats(index: string, filter?: Filter, consistency?: Consistency): Promise<IndexStats>;
  listNamespaces(
    index: string,
    request: ListNamespacesRequest,
    consistency?: Consistency,
  ): Promise<ListNamespacesResult>;
  describeNamespace(index: string, namespace: string, consistency?: Consistency): Promise<NamespaceStats>;
  /** Creates an empty namespace (the namespaces API); ALREADY_EXISTS if it has records or was created. */
  createNamespace(index: string, namespace: string): Promise<NamespaceStats>;
  /** The namespace's live slabs, newest first (NOT_FOUND when it does not exist). */
  describeSlabs(index: string, namespace: string): Promise<SlabDescription[]>;
  deleteNamespace(index: string, namespace: string): Promise<WriteResult>;

  /** Waits (bounded) until the index reflects `lsn`; UNAVAILABLE on timeout. */
  waitForLsn(index: string, lsn: bigint, timeoutMs: number): Promise<void>;

  /** Stops starting compactions (a running one finishes); they queue until `resumeCompaction`. */
  pauseCompaction(): Promise<CompactionStatus>;
  resumeCompaction(): Promise<CompactionStatus>;
  compactionStatus(): Promise<CompactionStatus>;
  /** Resolves once no compaction runs or waits (or compaction is paused). */
  compactionSettled(): Promise<CompactionStatus>;
  /**
   * Cluster mode (an index owner's checkpoint): compaction paused and settled, every actor of
   * the index passivated (namespaces flushed, the log closed), then `during(dir)` runs on the
   * index's directory, which holds the whole index through the log's last LSN. The caller
   * keeps requests for the index away meanwhile (the next one would activate it again).
   */
  quiesceIndex<T>(name: string, during: (dir: string) => Promise<T>): Promise<T>;
  /** Actors active now, of one kind (namespaces resident in memory, open slabs, ...). */
  activeActors(kind: "namespace" | "slab"): number;
  /**
   * What the metrics show (gateway/http/metrics.ts): per index counts, memory and files, per
   * actor kind mailboxes and caches, the compactor. Reads catalogs, activates nothing.
   */
  observe(): Promise<EngineObservation>;

  /**
   * Backups (actors/backups.ts): the index at one LSN, its requests held at a gate while its
   * files are linked and copied. Restores make a new index with identical contents.
   */
  createBackup(index: string, request: CreateBackupRequest): Promise<BackupDescription>;
  /** Every backup, or those of one index (it need not exist any more), newest first. */
  listBackups(index?: string): Promise<BackupDescription[]>;
  describeBackup(backupId: string): Promise<BackupDescription>;
  deleteBackup(backupId: string): Promise<void>;
  createIndexFromBackup(
    backupId: string,
    request: RestoreRequest,
  ): Promise<{ job: RestoreJob; index: IndexDescription }>;
  listRestoreJobs(): Promise<RestoreJob[]>;
  describeRestoreJob(restoreJobId: string): Promise<RestoreJob>;
  /** Flushes memtables, fsyncs, stops every actor, releases files. Idempotent. */
  close(): Promise<void>;
}

/** One live slab of a namespace (the console): its level, rows, bytes and how it is searched. */
export interface SlabDescription {
  id: string;
  level: number;
  rows: number;
  liveRows: number;
  deadRows: number;
  bytes: number;
  /** A run of a file shared with other small namespaces (storage/namespaces/). */
  packed: boolean;
  /** `ivf`: searched through its partitions; `flat`: every row scored. */
  index: "flat" | "ivf";
  partitions: number;
}

/** A backup of an index: its whole state at one LSN (actors/backups.ts). */
export interface BackupDescription {
  backupId: string;
  sourceIndexName: string;
  name: string;
  description: string;
  status: "Ready";
  /** Every write through this LSN is in the backup, none after it. */
  lsn: bigint;
  recordCount: number;
  namespaceCount: number;
  sizeBytes: number;
  createdAt: string;
  /** The source index's model when the backup was taken. */
  index: IndexDescription;
}

export interface CreateBackupRequest {
  name?: string;
  description?: string;
  /** In-process callers only (the CLI's progress bar): bytes linked or copied so far, of all. */
  progress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface RestoreRequest {
  /** The new index's name. */
  name: string;
  tags?: Record<string, string>;
  deletionProtection?: "enabled" | "disabled";
  /** In-process callers only (the CLI's progress bar): bytes linked or copied so far, of all. */
  progress?: (bytesDone: number, bytesTotal: number) => void;
}

/** One restore of a backup into a new index; Needle's finish within the call that starts them. */
export interface RestoreJob {
  restoreJobId: string;
  backupId: string;
  targetIndexName: string;
  status: "Completed";
  percentComplete: number;
  createdAt: string;
  completedAt: string;
}

export interface IndexObservation {
  name: string;
  records: number;
  /** Namespaces that exist (with records, or created empty). */
  namespaces: number;
  /** Of them, resident in memory now. */
  namespacesResident: number;
  /** Bytes in the memtables of the resident namespaces. */
  memtableBytes: number;
  levels: CompactionLevelStats[];
  compactionQueued: number;
  /** The last completed compaction's duration since start, or null. */
  compactionLastDurationMs: number | null;
  /** Bytes of the request log's files; null where the log is not local files (JetStream). */
  requestLogBytes: number | null;
}

export type { ActorKindObservation } from "./runtime/system.ts";
import type { ActorKindObservation } from "./runtime/system.ts";

export interface EngineObservation {
  indexes: IndexObservation[];
  actors: ActorKindObservation[];
  /** Null where this process runs no compactor (a cluster gateway). */
  compaction: CompactionStatus | null;
  /** The executor's open slabs against its budget; null where no executor runs (a cluster gateway). */
  slabMemory: SlabMemoryObservation | null;
}

/** actors/executor/executor-actor.ts: open slabs, demoted ones, bytes held against the budget. */
export interface SlabMemoryObservation {
  openSlabs: number;
  /** Open slabs holding only their index portion (raw rows read from the file). */
  demotedSlabs: number;
  openBytes: number;
  budgetBytes: number;
  /** Since start: demotions asked, and slabs closed to stay under the budget. */
  demotions: number;
  evictions: number;
}

export interface EngineOptions {
  /** Data directory (created if missing). */
  dir: string;
  /** Memtable flush thresholds. */
  flushRowsMax?: number;
  flushBytesMax?: number;
  /** Flush a namespace's memtable after this long without writes. */
  flushIdleMs?: number;
  /**
   * Namespaces with at most this many live rows are packed into shared slabs with other small
   * namespaces (storage/namespaces/DESIGN.md); 0 turns packing off. Larger ones graduate to
   * slabs of their own and never move back.
   */
  packedRowsMax?: number;
  /**
   * At most this many namespaces resident (an actor with memtable and live rows) at once;
   * past it the least recently used idle ones are passivated (a dirty one flushes first).
   * Default 10,000 (a few KB each for small tenants: tens of MB). Idle namespaces cost only
   * their catalog entry, whatever their number.
   */
  namespacesResidentMax?: number;
  /** The same for slab actors (one per open slab or packed run). Default 20,000. */
  slabActorsResidentMax?: number;
  /** Request log segment size, bytes (the log is trimmed a whole segment at a time). */
  logSegmentBytesMax?: number;
  /**
   * Where the request logs live. Default: segment files in each index's directory. The
   * distributed mode passes JetStream streams (storage/log/jetstream-logs.ts).
   */
  logs?: LogProvider;
  /** Bounded mailbox depth per actor. */
  mailboxDepthMax?: number;
  /**
   * Memory budget for open slabs, bytes: past it the least recently used slabs keep only their
   * index portion and read the rows a search scores from their files (actors/DESIGN.md decision 27).
   */
  slabMemoryBudgetBytes?: number;
  /**
   * Where compaction outputs are built: default this process's builder thread; a cluster's
   * index owner passes one that asks compactor processes (actors/distribution/remote-compaction.ts).
   */
  compactionBuilder?: CompactionBuilder;
  /** Tests only: the most bytes of rows a demoted slab reads at a time (default 16 MiB). */
  demotedReadBytes?: number;
  /** Compaction thresholds (storage/compaction/plan.ts; absent fields keep the defaults). */
  compaction?: Partial<PlanSettings> & { paused?: boolean };
  /** Log through this function (start-up notices such as "C kernels unavailable"). */
  log?: (line: string) => void;
  /** The memory budget, bytes (actors/memory-governor.ts). Absent: none. */
  memoryMaxBytes?: number;
  /** Tests only: how the resident set is measured (default process.memoryUsage.rss()). */
  sampleRssBytes?: () => number;
  /**
   * The free-space watermark (storage/free-space.ts): writes that add data are refused while
   * the data volume has less free space than this. Defaults: 64 MiB, 0 %.
   */
  freeSpace?: FreeSpaceOptions;
  /**
   * Tests only: refuses (an error) or delays (a promise) chosen messages between actors (see
   * ActorSystemOptions.deliveryFault), to show what a full mailbox, a lost message or a slow
   * one does to durability and to reads.
   */
  deliveryFault?: (
    target: { kind: string; key: string },
    verb: string,
    payload: unknown,
  ) => Error | Promise<void> | undefined;
}
