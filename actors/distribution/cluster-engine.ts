/**
 * The gateway's Engine in cluster v1 (actors/distribution/DESIGN.md decisions 10-14): control
 * operations on the KV catalog, data operations forwarded to the index's owner over NATS
 * (`needle.owner.<index>.<method>`, arguments and result in msgpack, typed errors rebuilt).
 * It keeps no data, so any number of gateways answer alike, and every read of an index goes
 * through its one owner (strong consistency).
 *
 * Failover (decision 14): a request that finds no owner is retried with backoff for up to
 * `failoverWaitMs`, then answered UNAVAILABLE; NOT_FOUND at once if the index is not in the
 * catalog. A request the owner does not answer within `requestTimeoutMs` is UNAVAILABLE and
 * not retried (a write may or may not have been applied).
 */
import { ErrorCode as NatsErrorCode, type NatsConnection, nuid, RequestStrategy } from "nats";
import { NeedleError } from "../../storage/errors.ts";
import { removeLogStream } from "../../storage/log/jetstream-logs.ts";
import { logStreamName } from "../../storage/nats/names.ts";
import type { Filter, VectorRecord } from "../../storage/types.ts";
import type {
  BackupDescription,
  CompactionStatus,
  Consistency,
  ConfigureIndexRequest,
  CreateIndexRequest,
  DeleteRequest,
  Engine,
  EngineObservation,
  FetchByMetadataRequest,
  FetchByMetadataResult,
  FetchResult,
  IndexConfig,
  IndexDescription,
  IndexStats,
  ListNamespacesRequest,
  ListNamespacesResult,
  ListRequest,
  ListResult,
  NamespaceStats,
  QueryRequest,
  QueryResult,
  RestoreJob,
  SlabDescription,
  UpdateRequest,
  UpdateResult,
  WriteResult,
} from "../api.ts";
import { configAfterChange, configFromCreate } from "../index-config.ts";
import { address, subjectOf } from "../runtime/address.ts";
import { decodeAnswer, encodeWire } from "../runtime/wire.ts";
import { NatsTransport } from "../runtime/nats-transport.ts";
import type { ClusterCatalog } from "./cluster-catalog.ts";
import type { OwnerVerb } from "./index-owner.ts";

export const failoverWaitMsDefault = 15_000;
export const requestTimeoutMsDefault = 5_000;
const retryFirstMs = 50;
const retryMaxMs = 1_000;

export interface ClusterEngineOptions {
  failoverWaitMs?: number;
  requestTimeoutMs?: number;
}

export class ClusterEngine implements Engine {
  private readonly transport: NatsTransport;
  private readonly failoverWaitMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly connection: NatsConnection,
    private readonly catalog: ClusterCatalog,
    options: ClusterEngineOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? requestTimeoutMsDefault;
    this.failoverWaitMs = options.failoverWaitMs ?? failoverWaitMsDefault;
    this.transport = new NatsTransport(connection, { timeoutMs: this.requestTimeoutMs });
  }

  // ----- control plane: the catalog ------------------------------------------------------

  async createIndex(request: CreateIndexRequest): Promise<IndexDescription> {
    const config = configFromCreate(request, new Date().toISOString());
    await this.catalog.create({ config, incarnation: nuid.next() });
    return describe(config);
  }

  async describeIndex(name: string): Promise<IndexDescription> {
    return describe((await this.catalog.require(name)).config);
  }

  async listIndexes(): Promise<IndexDescription[]> {
    return (await this.catalog.list()).map((index) => describe(index.config));
  }

  async configureIndex(name: string, request: ConfigureIndexRequest): Promise<IndexDescription> {
    return describe(await this.catalog.update(name, (current) => configAfterChange(current, request)));
  }

  async deleteIndex(name: string): Promise<void> {
    const removed = await this.catalog.delete(name, (current) => {
      if (current.deletionProtection === "enabled") {
        throw new NeedleError("FAILED_PRECONDITION", "Deletion protection is enabled for this index", {
          field: "deletion_protection",
        });
      }
    });
    // The owner drops it at its next tick; the stream goes now (a failure here leaves only an
    // unreferenced stream: a new index of the name gets a new incarnation).
    await removeLogStream(this.connection, logStreamName(name, removed.incarnation)).catch(() => {});
  }

  // ----- data plane: the owner -----------------------------------------------------------

  upsert(index: string, namespace: string, records: VectorRecord[]) {
    return this.ask<WriteResult & { upsertedCount: number }>(index, "upsert", [namespace, records]);
  }
  async query(index: string, namespace: string, request: QueryRequest): Promise<QueryResult> {
    return this.read(index, "query", [namespace, request], request.consistency);
  }
  fetch(index: string, namespace: string, ids: string[], consistency?: Consistency): Promise<FetchResult> {
    return this.read(index, "fetch", [namespace, ids], consistency);
  }
  fetchByMetadata(
    index: string,
    namespace: string,
    request: FetchByMetadataRequest,
    consistency?: Consistency,
  ): Promise<FetchByMetadataResult> {
    return this.read(index, "fetchByMetadata", [namespace, request], consistency);
  }
  update(index: string, namespace: string, request: UpdateRequest): Promise<UpdateResult> {
    return this.ask(index, "update", [namespace, request]);
  }
  delete(index: string, namespace: string, request: DeleteRequest): Promise<WriteResult> {
    return this.ask(index, "delete", [namespace, request]);
  }
  list(
    index: string,
    namespace: string,
    request: ListRequest,
    consistency?: Consistency,
  ): Promise<ListResult> {
    return this.read(index, "list", [namespace, request], consistency);
  }
  describeIndexStats(index: string, filter?: Filter, consistency?: Consistency): Promise<IndexStats> {
    return this.read(index, "describeIndexStats", [filter], consistency);
  }
  listNamespaces(
    index: string,
    request: ListNamespacesRequest,
    consistency?: Consistency,
  ): Promise<ListNamespacesResult> {
    return this.read(index, "listNamespaces", [request], consistency);
  }
  describeNamespace(index: string, namespace: string, consistency?: Consistency): Promise<NamespaceStats> {
    return this.read(index, "describeNamespace", [namespace], consistency);
  }

  /**
   * A read: `eventual` goes to a replica (a queue group: any one answers, at its checkpoint),
   * falling back to the owner when no replica holds the index; `strong` to the owner.
   */
  private async read<T>(
    index: string,
    verb: OwnerVerb,
    args: unknown[],
    consistency?: Consistency,
  ): Promise<T> {
    if (consistency === "eventual") {
      try {
        return await this.transport.request<T>(address("replica", index), verb, args);
      } catch (error) {
        if (!isNoOwner(error)) throw error;
      }
    }
    return this.ask<T>(index, verb, args);
  }
  createNamespace(index: string, namespace: string): Promise<NamespaceStats> {
    return this.ask(index, "createNamespace", [namespace]);
  }
  deleteNamespace(index: string, namespace: string): Promise<WriteResult> {
    return this.ask(index, "deleteNamespace", [namespace]);
  }
  waitForLsn(index: string, lsn: bigint, timeoutMs: number): Promise<void> {
    return this.ask(index, "waitForLsn", [lsn, timeoutMs], this.requestTimeoutMs + timeoutMs);
  }

  /** One data operation at the owner, riding over a failover (module comment). */
  private async ask<T>(index: string, verb: OwnerVerb, args: unknown[], timeoutMs?: number): Promise<T> {
    const deadline = performance.now() + this.failoverWaitMs;
    for (let wait = retryFirstMs; ; wait = Math.min(retryMaxMs, wait * 2)) {
      try {
        return await this.transport.request<T>(address("owner", index), verb, args, { timeoutMs });
      } catch (error) {
        if (!isNoOwner(error)) throw error;
        await this.catalog.require(index); // NOT_FOUND when the index is gone
        if (performance.now() + wait > deadline) {
          throw new NeedleError("UNAVAILABLE", `index ${index} has no owner yet (a host is taking it over)`, {
            retryAfterSeconds: 1,
            cause: error,
          });
        }
        await Bun.sleep(wait);
      }
    }
  }

  // ----- per-host matters ----------------------------------------------------------------

  pauseCompaction(): Promise<CompactionStatus> {
    return Promise.reject(perHost("pausing compaction"));
  }
  resumeCompaction(): Promise<CompactionStatus> {
    return Promise.reject(perHost("resuming compaction"));
  }
  compactionStatus(): Promise<CompactionStatus> {
    return Promise.reject(perHost("the compactor's status"));
  }
  compactionSettled(): Promise<CompactionStatus> {
    return Promise.reject(perHost("waiting for compaction"));
  }
  quiesceIndex<T>(_name: string, _during: (dir: string) => Promise<T>): Promise<T> {
    return Promise.reject(perHost("quiescing an index"));
  }
  activeActors(_kind: "namespace" | "slab"): number {
    return 0; // a gateway holds no namespaces or slabs
  }
  describeSlabs(): Promise<SlabDescription[]> {
    return Promise.reject(perHost("a namespace's slabs"));
  }
  createBackup(): Promise<BackupDescription> {
    return Promise.reject(notInCluster());
  }
  listBackups(): Promise<BackupDescription[]> {
    return Promise.reject(notInCluster());
  }
  describeBackup(): Promise<BackupDescription> {
    return Promise.reject(notInCluster());
  }
  deleteBackup(): Promise<void> {
    return Promise.reject(notInCluster());
  }
  createIndexFromBackup(): Promise<{ job: RestoreJob; index: IndexDescription }> {
    return Promise.reject(notInCluster());
  }
  listRestoreJobs(): Promise<RestoreJob[]> {
    return Promise.reject(notInCluster());
  }
  describeRestoreJob(): Promise<RestoreJob> {
    return Promise.reject(notInCluster());
  }
  /**
   * Every owner host's engine state, gathered at once (each answers `member.all.observe`;
   * replies are taken until none came for `observeQuietMs`, at most `observeWaitMs`), merged:
   * each index comes from the one host owning it; actor kinds and compaction are summed.
   */
  async observe(): Promise<EngineObservation> {
    const replies = await this.connection.requestMany(
      subjectOf(address("member", "all"), "observe"),
      encodeWire([]),
      {
        strategy: RequestStrategy.JitterTimer,
        jitter: observeQuietMs,
        maxWait: observeWaitMs,
      },
    );
    const seen: EngineObservation[] = [];
    for await (const reply of replies) {
      if (reply.data.byteLength === 0) continue; // the no-responders status
      try {
        seen.push(decodeAnswer(reply.data, "a member's observation") as EngineObservation);
      } catch {
        // a member failing to observe is left out of this scrape
      }
    }
    return mergeObservations(seen);
  }

  async close(): Promise<void> {}
}

function describe(config: IndexConfig): IndexDescription {
  return {
    ...config,
    tags: { ...config.tags },
    status: { ready: true, state: "Ready" },
    readCapacityStatus: { state: "Ready" },
  };
}

function isNoOwner(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } }).cause;
  return (
    error instanceof NeedleError && error.code === "UNAVAILABLE" && cause?.code === NatsErrorCode.NoResponders
  );
}

const observeQuietMs = 150;
const observeWaitMs = 2_000;

function mergeObservations(observations: EngineObservation[]): EngineObservation {
  const indexes = new Map<string, EngineObservation["indexes"][number]>();
  const kinds = new Map<string, EngineObservation["actors"][number]>();
  let compaction: EngineObservation["compaction"] = null;
  let slabMemory: EngineObservation["slabMemory"] = null;
  for (const observation of observations) {
    const slabs = observation.slabMemory;
    if (slabs !== null && slabs !== undefined) {
      if (slabMemory === null) slabMemory = { ...slabs };
      else
        for (const field of Object.keys(slabMemory) as (keyof typeof slabMemory)[])
          slabMemory[field] += slabs[field];
    }
    for (const index of observation.indexes) indexes.set(index.name, index);
    for (const kind of observation.actors) {
      const sum = kinds.get(kind.kind);
      if (sum === undefined) kinds.set(kind.kind, { ...kind });
      else
        for (const field of ["active", "mailboxDepth", "evicted", "overloaded", "hits", "misses"] as const)
          sum[field] += kind[field];
    }
    const next = observation.compaction;
    if (next === null) continue;
    compaction =
      compaction === null ? { ...next, queued: [...next.queued] } : mergeCompaction(compaction, next);
  }
  return {
    indexes: [...indexes.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    actors: [...kinds.values()],
    compaction,
    slabMemory,
  };
}

function mergeCompaction(a: CompactionStatus, b: CompactionStatus): CompactionStatus {
  return {
    paused: a.paused && b.paused,
    running: a.running ?? b.running,
    queued: [...a.queued, ...b.queued],
    completed: a.completed + b.completed,
    lastDurationMs: a.lastDurationMs ?? b.lastDurationMs,
    lastDurationMsByIndex: { ...a.lastDurationMsByIndex, ...b.lastDurationMsByIndex },
    lastError: a.lastError ?? b.lastError,
  };
}

function notInCluster(): NeedleError {
  return new NeedleError(
    "UNIMPLEMENTED",
    "backups are not served by a cluster yet: an index's checkpoints (actors/distribution/checkpoints.ts) are the nearest thing",
  );
}

function perHost(what: string): NeedleError {
  return new NeedleError(
    "UNIMPLEMENTED",
    `${what} is not served by a cluster gateway: compaction runs inside each index's owner (cluster v1)`,
  );
}
