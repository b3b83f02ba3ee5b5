/**
 * The embedded library's public shapes. They mirror the official client
 * `@pinecone-database/pinecone` 9.0.0 (option objects and results) so code written for the
 * client runs against `open(dir)` unchanged; compat.test.ts checks them against the client's
 * own types at compile time. They are declared here, not imported, because the client is only
 * a dev dependency.
 */
import type {
  CompactionLevelStats,
  CompactionStatus,
  EngineOptions,
  ExplainedSource,
  IndexCompactionStats,
  QueryExplain,
} from "../../actors/api.ts";

export type { CompactionLevelStats, CompactionStatus, ExplainedSource, IndexCompactionStats, QueryExplain };

export type RecordId = string;
export type RecordValues = number[];
export interface RecordSparseValues {
  indices: number[];
  values: number[];
}
export type RecordMetadataValue = string | boolean | number | string[];
export type RecordMetadata = Record<string, RecordMetadataValue>;

export interface PineconeRecord<T extends RecordMetadata = RecordMetadata> {
  id: RecordId;
  values?: RecordValues;
  sparseValues?: RecordSparseValues;
  metadata?: T;
}

export interface ScoredPineconeRecord<T extends RecordMetadata = RecordMetadata> extends PineconeRecord<T> {
  score?: number;
}

export interface OperationUsage {
  readUnits?: number;
}

export interface Pagination {
  next: string;
}

/** Needle extension: reads may wait until the index reflects a write's LSN. */
export interface FreshnessOptions {
  /** Wait (bounded) until the index reflects this LSN before reading. */
  minLsn?: bigint;
}

export interface UpsertOptions<T extends RecordMetadata = RecordMetadata> {
  records: PineconeRecord<T>[];
  namespace?: string;
}

export interface QueryShared extends FreshnessOptions {
  topK: number;
  includeValues?: boolean;
  includeMetadata?: boolean;
  filter?: object;
  namespace?: string;
  /** Accepted for compatibility; Needle calibrates search effort per slab. */
  scanFactor?: number;
  /** Accepted for compatibility; Needle calibrates search effort per slab. */
  maxCandidates?: number;
  /**
   * Needle: a multiple of the calibrated search effort of indexed slabs (0.1..100, default 1,
   * which keeps recall@10 >= 0.95): lower is faster, higher finds more true neighbours.
   */
  searchEffort?: number;
  /**
   * Needle cluster: "eventual" lets a read replica answer at its latest checkpoint (faster,
   * spread over executors, possibly behind); "strong" (default) goes to the index's owner.
   */
  consistency?: "strong" | "eventual";
}
export type QueryByRecordId = QueryShared & { id: string };
export type QueryByVectorValues = QueryShared & { vector: RecordValues; sparseVector?: RecordSparseValues };
/** Needle also takes a sparse-only query (sparse indexes), which the client types leave out. */
export type QueryBySparseValues = QueryShared & { sparseVector: RecordSparseValues; vector?: RecordValues };
export type QueryOptions = QueryByRecordId | QueryByVectorValues | QueryBySparseValues;

export interface QueryResponse<T extends RecordMetadata = RecordMetadata> {
  matches: ScoredPineconeRecord<T>[];
  namespace: string;
  usage?: OperationUsage;
}

export interface FetchOptions extends FreshnessOptions {
  ids: RecordId[];
  namespace?: string;
}

export interface FetchResponse<T extends RecordMetadata = RecordMetadata> {
  records: { [id: string]: PineconeRecord<T> };
  namespace: string;
  usage?: OperationUsage;
}

export interface FetchByMetadataOptions extends FreshnessOptions {
  filter: object;
  limit?: number;
  paginationToken?: string;
  namespace?: string;
}

export interface FetchByMetadataResponse<T extends RecordMetadata = RecordMetadata> extends FetchResponse<T> {
  pagination?: Pagination;
}

export interface UpdateOptions<T extends RecordMetadata = RecordMetadata> {
  id?: RecordId;
  values?: RecordValues;
  sparseValues?: RecordSparseValues;
  metadata?: Partial<T>;
  filter?: object;
  namespace?: string;
  /** Needle extension (Pinecone's REST `dryRun`): count matches, change nothing. */
  dryRun?: boolean;
}

export interface DeleteOneOptions {
  id: RecordId;
  namespace?: string;
}

export interface DeleteManyOptions {
  ids?: RecordId[];
  filter?: object;
  namespace?: string;
}

export interface DeleteAllOptions {
  namespace?: string;
}

export interface ListOptions extends FreshnessOptions {
  prefix?: string;
  limit?: number;
  paginationToken?: string;
  namespace?: string;
}

export interface ListItem {
  id?: string;
}

export interface ListResponse {
  vectors?: ListItem[];
  pagination?: Pagination;
  namespace?: string;
  usage?: OperationUsage;
}

export interface DescribeIndexStatsOptions {
  filter: object;
}

export interface IndexStatsNamespaceSummary {
  recordCount: number;
}

export interface IndexStatsDescription {
  namespaces?: { [namespace: string]: IndexStatsNamespaceSummary };
  dimension?: number;
  indexFullness?: number;
  totalRecordCount?: number;
}

/** Which metadata fields are filterable; Needle indexes every field, so it changes nothing. */
export interface NamespaceSchema {
  fields: { [field: string]: { filterable: boolean } };
}

export interface CreateNamespaceOptions {
  name: string;
  /** Validated and echoed in the answer; every metadata field is indexed. */
  schema?: NamespaceSchema;
}

export interface ListNamespacesOptions {
  limit?: number;
  paginationToken?: string;
  prefix?: string;
}

export interface NamespaceDescription {
  name?: string;
  /** A decimal string, as the client reports it (int64 on the wire). */
  recordCount?: string;
  /** Present in createNamespace's answer when a schema was given. */
  schema?: NamespaceSchema;
}

export interface ListNamespacesResponse {
  namespaces?: NamespaceDescription[];
  pagination?: Pagination;
  totalCount?: number;
}

// ---------------------------------------------------------------------------------------
// Control plane

export type IndexMetric = "cosine" | "euclidean" | "dotproduct";
export type DeletionProtection = "enabled" | "disabled";

export interface DenseVectorField {
  type: "dense_vector";
  dimension: number;
  metric: IndexMetric;
  description?: string | null;
}
export interface SparseVectorField {
  type: "sparse_vector";
  description?: string | null;
}

/** A pod index's metadataConfig: only the listed fields can be filtered on. */
export interface MetadataConfig {
  indexed?: string[];
}

export interface PodSpecOptions {
  environment: string;
  podType: string;
  pods?: number;
  replicas?: number;
  shards?: number;
  metadataConfig?: MetadataConfig;
  sourceCollection?: string;
}

export interface ManagedDeployment {
  deploymentType: "managed";
  cloud: string;
  region: string;
}
export interface PodDeployment {
  deploymentType: "pod";
  environment: string;
  podType: string;
  replicas?: number;
  shards?: number;
}

export interface DedicatedReadCapacity {
  nodeType: "b1" | "t1";
  scaling: "Manual";
  manual: { replicas: number; shards: number };
}
export type ReadCapacity = { mode: "OnDemand" } | { mode: "Dedicated"; dedicated: DedicatedReadCapacity };
export type ReadCapacityPatch =
  | { mode: "OnDemand" }
  | {
      mode: "Dedicated";
      dedicated?: {
        nodeType?: "b1" | "t1";
        scaling?: "Manual";
        manual?: { replicas?: number; shards?: number };
      } | null;
    };

/** The client's flat spelling of Dedicated read capacity (`{nodeType, manual}`), accepted as it does. */
export interface FlatReadCapacity {
  mode?: "OnDemand" | "Dedicated";
  nodeType?: "b1" | "t1";
  manual?: { replicas: number; shards: number };
}

export interface CreateIndexOptions {
  name: string;
  /** 2026-07 form. */
  schema?: { fields: { [field: string]: DenseVectorField | SparseVectorField } };
  deployment?: ManagedDeployment | (PodDeployment & { pods?: number });
  /** Older form. */
  dimension?: number;
  metric?: IndexMetric;
  vectorType?: "dense" | "sparse";
  spec?: {
    serverless?: {
      cloud: string;
      region: string;
      readCapacity?: ReadCapacity | FlatReadCapacity;
      sourceCollection?: string;
    };
    pod?: PodSpecOptions;
  };
  deletionProtection?: DeletionProtection;
  tags?: Record<string, string> | null;
  /** OnDemand (the default), or Dedicated: the index is kept resident (gateway/DESIGN.md). */
  readCapacity?: ReadCapacity | FlatReadCapacity;
  /** Creating from a collection: Needle has no collections yet, so this is NOT_FOUND. */
  sourceCollection?: string;
  /** Accepted for compatibility and ignored: files are not encrypted by Needle. */
  cmekId?: string;
  waitUntilReady?: boolean;
  /** Seconds to wait with waitUntilReady. */
  timeout?: number;
  suppressConflicts?: boolean;
}

export interface ConfigureIndexResourceOptions {
  deletionProtection?: DeletionProtection;
  tags?: Record<string, string> | null;
  readCapacity?: ReadCapacityPatch | FlatReadCapacity;
  /** The client's deprecated pod options (translated to `deployment`, as the client does). */
  podReplicas?: number;
  podType?: string;
  /** Pod indexes: grow the pod size within its family, or change the replica count. */
  deployment?: { replicas?: number; podType?: string };
  /** The 2026-04 spelling of the same: `{pod: {replicas, podType}}` or `{serverless: {readCapacity}}`. */
  spec?: { pod?: { replicas?: number; podType?: string }; serverless?: { readCapacity?: ReadCapacityPatch } };
}

export interface ConfigureIndexOptions extends ConfigureIndexResourceOptions {
  name: string;
}

export type ReadCapacityResponse =
  | { mode: "OnDemand"; status: { state: string } }
  | {
      mode: "Dedicated";
      dedicated: DedicatedReadCapacity;
      status: { state: string; currentReplicas?: number; currentShards?: number; errorMessage?: string };
    };

/** A metadata field a pod index filters on (the client's LegacyMetadataField). */
export interface FilterableField {
  filterable: boolean;
}

export interface IndexModel {
  name: string;
  /** `embedded://<name>`: there is no network host in embedded mode. */
  host: string;
  status: { ready: boolean; state: string };
  deployment: ManagedDeployment | PodDeployment;
  readCapacity?: ReadCapacityResponse;
  schema: { fields: { [field: string]: DenseVectorField | SparseVectorField | FilterableField } };
  tags?: { [key: string]: string } | null;
  deletionProtection: DeletionProtection;
  // The client's legacy accessors: non-enumerable getters, as the client installs them.
  readonly dimension?: number;
  readonly metric: string;
  readonly vectorType: "dense" | "sparse";
  readonly spec:
    | { serverless: { cloud: string; region: string; readCapacity: ReadCapacityResponse } }
    | { pod: { environment: string; podType: string; pods: number; replicas: number; shards: number } };
}

export interface IndexList {
  indexes?: IndexModel[];
}

export interface IndexOptions {
  name?: string;
  namespace?: string;
  host?: string;
  additionalHeaders?: Record<string, string>;
}

/** Options of `open(dir, options)`: the engine's tuning knobs. */
export type OpenOptions = Omit<EngineOptions, "dir">;

/** What the latest write made durable (Needle extension; writes resolve to void like the client). */
export interface WriteReceipt {
  lsn: bigint;
  upsertedCount?: number;
  matchedRecords?: number;
}

/** The client's BackupModel (9.x), plus Needle's `lsn`: every write through it is in the backup. */
export interface BackupModel {
  backupId: string;
  sourceIndexName: string;
  sourceIndexId: string;
  name?: string;
  description?: string;
  status: string;
  cloud: string;
  region: string;
  schema?: IndexModel["schema"];
  recordCount?: number;
  namespaceCount?: number;
  sizeBytes?: number;
  tags?: { [key: string]: string } | null;
  createdAt?: Date;
  lsn: bigint;
}

export interface BackupList {
  data?: BackupModel[];
  pagination?: { next: string } | null;
}

export interface RestoreJobModel {
  restoreJobId: string;
  backupId: string;
  targetIndexName: string;
  targetIndexId: string;
  status: string;
  createdAt: Date | null;
  completedAt?: Date | null;
  percentComplete?: number;
}

export interface RestoreJobList {
  data: RestoreJobModel[];
  pagination?: { next: string } | null;
}
