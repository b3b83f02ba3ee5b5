/**
 * The embedded engine: one process, local files. It implements the operation layer
 * (api.ts) by sending messages to actors through the in-process transport; the index catalog
 * (which indexes exist, their configuration) is a versioned manifest it owns directly.
 *
 * Invariants:
 *   1. One engine per data directory: `openEngine` holds the directory's lock until `close`.
 *   2. Control-plane changes of one index name (create, configure, delete) run one at a time,
 *      each to its end: a create of a name waits until a delete of it has removed every file
 *      and actor of the old index, so nothing of the old one can touch the new one.
 *   3. An index directory exists durably (fsynced into its parent) before the catalog names it.
 *   4. At open, directories under `indexes/` named like an index but absent from the catalog
 *      are removed: creates that crashed before their catalog commit, deletes that crashed
 *      after theirs. Nothing is removed when the listing fails.
 */
import { join } from "node:path";
import { kernels, setKernelLogger } from "../ffi/mod.ts";
import { initBitmaps } from "../storage/bitmap.ts";
import { LocalBlobStore } from "../storage/blob/mod.ts";
import { type DirectoryLock, lockDirectory } from "../storage/directory-lock.ts";
import { asNeedleError, NeedleError } from "../storage/errors.ts";
import { readdir, removeTree, treeBytes } from "../storage/files.ts";
import { FreeSpaceGuard } from "../storage/free-space.ts";
import { ensureDirectoryDurably, fsyncDirectory, isNotFound } from "../storage/fsync.ts";
import { planSettingsDefault } from "../storage/compaction/plan.ts";
import { snapshotTree } from "../storage/snapshot.ts";
import { ManifestStore } from "../storage/manifest/mod.ts";
import type { Filter, VectorRecord } from "../storage/types.ts";
import { configAfterChange, configFromCatalog, configFromCreate } from "./index-config.ts";
import { BackupStore } from "./backups.ts";
import { MemoryGovernor } from "./memory-governor.ts";
import { Residency } from "./residency.ts";
import type {
  BackupDescription,
  ConfigureIndexRequest,
  CreateBackupRequest,
  CreateIndexRequest,
  DeleteRequest,
  Engine,
  EngineObservation,
  SlabMemoryObservation,
  EngineOptions,
  FetchByMetadataRequest,
  FetchByMetadataResult,
  FetchResult,
  IndexConfig,
  CompactionLevelStats,
  CompactionStatus,
  IndexDescription,
  IndexObservation,
  IndexStats,
  ListNamespacesRequest,
  ListNamespacesResult,
  ListRequest,
  ListResult,
  NamespaceStats,
  QueryRequest,
  QueryResult,
  RestoreJob,
  RestoreRequest,
  SlabDescription,
  UpdateRequest,
  UpdateResult,
  WriteResult,
} from "./api.ts";
import { compactorFactory } from "./compactor/compactor-actor.ts";
import { executorFactory, slabMemoryBudgetBytesDefault } from "./executor/executor-actor.ts";
import { indexFactory, type NamespaceCounts, type NamespacePage } from "./index/index-actor.ts";
import { canonicalNamespace, catalogDir, indexDir, isSlabFile, logDir, namespaceKey } from "./layout.ts";
import { type LevelStats, namespaceFactory } from "./namespace/namespace-actor.ts";
import { levelStatsWidth } from "./namespace/catalog-entry.ts";
import { Permits } from "./runtime/permits.ts";
import { routerFactory } from "./router/router-actor.ts";
import { type ActorKind, ActorSystem, type Address, address } from "./runtime/mod.ts";
import { slabFactory } from "./slab/slab-actor.ts";
import { buildCompaction } from "./namespace/slab-builder.ts";
import { writerFactory } from "./writer/writer-actor.ts";

export const flushRowsMaxDefault = 100_000;
export const flushBytesMaxDefault = 64 * 1024 * 1024;
export const flushIdleMsDefault = 10_000;
/** Namespaces of at most this many live rows are packed (storage/namespaces/DESIGN.md). */
export const packedRowsMaxDefault = 1_000;
/** Residency caps (EngineOptions.namespacesResidentMax, slabActorsResidentMax). */
export const namespacesResidentMaxDefault = 10_000;
export const slabActorsResidentMaxDefault = 20_000;
/** Packed flushes handed to the index at once (a fraction of its mailbox; the packer batches them). */
const packedFlushesConcurrentMax = 256;
const lsnPollMs = 5;
/** The longest the front door goes without letting macrotasks run (see `macrotaskGate`). */
const macrotaskGateMs = 20;

interface Catalog {
  indexes: IndexConfig[];
}

/**
 * Shutdown order: the compactor finishes its running compaction first (it needs namespaces),
 * namespaces flush next, the writer (log) closes last.
 */
const shutdownOrder: ActorKind[] = [
  "compactor",
  "namespace",
  "router",
  "index",
  "slab",
  "executor",
  "writer",
];

/** Index names are lowercase alphanumerics and '-' (gateway/schemas); other names are not ours. */
const indexDirNamePattern = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

export async function openEngine(options: EngineOptions): Promise<Engine> {
  const log = options.log ?? ((line: string) => console.warn(line));
  setKernelLogger(log);
  kernels();
  await initBitmaps();
  await ensureDirectoryDurably(options.dir);
  const lock = lockDirectory(options.dir, log);
  try {
    const catalogStore = new ManifestStore<Catalog>(catalogDir(options.dir), "catalog");
    const catalog = (await catalogStore.load())?.body ?? { indexes: [] };
    await removeUncataloguedIndexDirs(options.dir, catalog, log);
    const backups = new BackupStore(options.dir);
    await backups.recover();
    return new EmbeddedEngine(options, catalogStore, catalog, log, lock, backups);
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** Invariant 4. */
async function removeUncataloguedIndexDirs(dataDir: string, catalog: Catalog, log: (line: string) => void) {
  const parent = join(dataDir, "indexes");
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (error) {
    if (!isNotFound(error)) log(`needle: could not list ${parent}, leaving it as it is: ${String(error)}`);
    return;
  }
  const known = new Set(catalog.indexes.map((config) => config.name));
  const stale = names.filter((name) => indexDirNamePattern.test(name) && !known.has(name));
  for (const name of stale) await removeTree(indexDir(dataDir, name));
  if (stale.length > 0) await fsyncDirectory(parent);
}

class EmbeddedEngine implements Engine {
  private readonly system: ActorSystem;
  private readonly namespacesResidentMax: number;
  private readonly residency: Residency;
  private readonly freeSpace: FreeSpaceGuard;
  private readonly memory: MemoryGovernor;
  private readonly configs = new Map<string, IndexConfig>();
  private readonly ackedLsn = new Map<string, bigint>();
  /** Invariant 2: the tail of each index name's chain of control-plane changes. */
  private readonly nameLocks = new Map<string, Promise<unknown>>();
  private catalogWrite: Promise<unknown> = Promise.resolve();
  /** Indexes whose requests wait while a backup copies their files (resolves when it is done). */
  private readonly gates = new Map<string, Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: EngineOptions,
    private readonly catalogStore: ManifestStore<Catalog>,
    catalog: Catalog,
    log: (line: string) => void,
    private readonly lock: DirectoryLock,
    private readonly backups: BackupStore,
  ) {
    for (const stored of catalog.indexes) this.configs.set(stored.name, configFromCatalog(stored));
    const deliveryFault = options.deliveryFault;
    this.namespacesResidentMax = options.namespacesResidentMax ?? namespacesResidentMaxDefault;
    this.system = new ActorSystem({
      mailboxDepthMax: options.mailboxDepthMax,
      activeMax: {
        namespace: this.namespacesResidentMax,
        slab: options.slabActorsResidentMax ?? slabActorsResidentMaxDefault,
      },
      deliveryFault:
        deliveryFault === undefined
          ? undefined
          : (target, verb, payload) => {
              const refused = deliveryFault(target, verb, payload);
              if (refused === undefined || refused instanceof Promise) return refused;
              return asNeedleError(refused);
            },
      onEscalate: (target, error, failures) =>
        log(`needle: ${target.kind} ${target.key} failed ${failures} times in a row: ${error.message}`),
    });
    const dataDir = options.dir;
    const blobs = new LocalBlobStore(dataDir);
    this.freeSpace = new FreeSpaceGuard(options.dir, options.freeSpace);
    const isResident = (index: string) => this.configs.get(index)?.readCapacity.mode === "Dedicated";
    this.residency = new Residency(this.system.transport, isResident, log);
    this.system.register("writer", writerFactory(dataDir, options.logSegmentBytesMax, options.logs));
    this.system.register(
      "index",
      indexFactory(
        dataDir,
        blobs,
        new Set(),
        (index) => {
          const config = this.requireIndex(index);
          return { dimension: config.dimension ?? 0, metric: config.metric };
        },
        options.packedRowsMax ?? packedRowsMaxDefault,
      ),
    );
    this.system.register(
      "namespace",
      namespaceFactory({
        dataDir,
        blobs,
        flushRowsMax: options.flushRowsMax ?? flushRowsMaxDefault,
        flushBytesMax: options.flushBytesMax ?? flushBytesMaxDefault,
        flushIdleMs: options.flushIdleMs ?? flushIdleMsDefault,
        packedRowsMax: options.packedRowsMax ?? packedRowsMaxDefault,
        packPermits: new Permits(packedFlushesConcurrentMax),
        indexConfig: (name) => this.requireIndex(name),
        isResident,
        compaction: { ...planSettingsDefault, ...options.compaction },
        compactionBuilder: options.compactionBuilder ?? buildCompaction,
        log,
      }),
    );
    this.system.register(
      "compactor",
      compactorFactory({
        accepting: () => this.closing === undefined,
        paused: options.compaction?.paused ?? false,
        indexExists: (name) => this.configs.has(name),
        log,
      }),
    );
    this.system.register("slab", slabFactory(blobs, isResident, options.demotedReadBytes));
    this.system.register("router", routerFactory());
    this.system.register(
      "executor",
      executorFactory(this.system, options.slabMemoryBudgetBytes ?? slabMemoryBudgetBytesDefault, isResident),
    );
    this.memory = new MemoryGovernor(this.system, options, log);
    // Dedicated indexes are warmed at start, in the background (their status says Migrating).
    for (const config of this.configs.values())
      if (isResident(config.name)) void this.residency.warm(config.name);
  }

  // ----- control plane -------------------------------------------------------------------

  private requireIndex(name: string): IndexConfig {
    this.checkOpen();
    const config = this.configs.get(name);
    if (!config)
      throw new NeedleError("NOT_FOUND", `Resource ${name} not found`, { field: "name", received: name });
    return config;
  }

  private describe(config: IndexConfig): IndexDescription {
    return {
      ...config,
      tags: { ...config.tags },
      status: { ready: true, state: "Ready" },
      readCapacityStatus:
        config.readCapacity.mode === "Dedicated" ? this.residency.status(config.name) : { state: "Ready" },
    };
  }

  /** Runs `change` after every earlier change of the same index name has finished (invariant 2). */
  private withNameLock<T>(name: string, change: () => Promise<T>): Promise<T> {
    const previous = this.nameLocks.get(name) ?? Promise.resolve();
    const result = previous.then(change);
    const tail = result.catch(() => undefined);
    this.nameLocks.set(name, tail);
    void tail.then(() => {
      if (this.nameLocks.get(name) === tail) this.nameLocks.delete(name);
    });
    return result;
  }

  /** Catalog commits are serialised: each writes the whole current set. */
  private commitCatalog(): Promise<unknown> {
    const next = this.catalogWrite.then(() =>
      this.catalogStore.commit({ indexes: [...this.configs.values()] }),
    );
    this.catalogWrite = next.catch(() => {});
    return next;
  }

  async createIndex(request: CreateIndexRequest): Promise<IndexDescription> {
    this.checkOpen();
    return this.withNameLock(request.name, () => this.createIndexNow(request));
  }

  private async createIndexNow(request: CreateIndexRequest): Promise<IndexDescription> {
    this.checkOpen();
    await this.ensureWritable(`index ${request.name}`);
    if (this.configs.has(request.name)) {
      throw new NeedleError("ALREADY_EXISTS", `Resource ${request.name} already exists`, {
        field: "name",
        received: request.name,
      });
    }
    const config = configFromCreate(request, new Date().toISOString());
    // Leftovers of an index of the same name are removed at open (invariant 4) and by delete;
    // removing again here costs little and covers a delete whose removal failed.
    const dir = indexDir(this.options.dir, config.name);
    await removeTree(dir);
    await this.options.logs?.remove(config.name);
    await ensureDirectoryDurably(dir);
    return this.catalogNewIndex(config);
  }

  /** Adds an index whose directory is ready to the catalog: it exists once the commit is durable. */
  private async catalogNewIndex(config: IndexConfig): Promise<IndexDescription> {
    this.configs.set(config.name, config);
    try {
      await this.commitCatalog();
    } catch (error) {
      this.configs.delete(config.name);
      throw error;
    }
    return this.describe(config);
  }

  async describeIndex(name: string): Promise<IndexDescription> {
    return this.describe(this.requireIndex(name));
  }

  async listIndexes(): Promise<IndexDescription[]> {
    this.checkOpen();
    return [...this.configs.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((c) => this.describe(c));
  }

  async configureIndex(name: string, request: ConfigureIndexRequest): Promise<IndexDescription> {
    this.requireIndex(name);
    return this.withNameLock(name, () => this.configureIndexNow(name, request));
  }

  private async configureIndexNow(name: string, request: ConfigureIndexRequest): Promise<IndexDescription> {
    const current = this.requireIndex(name);
    const next = configAfterChange(current, request);
    this.configs.set(name, next);
    try {
      await this.commitCatalog();
    } catch (error) {
      this.configs.set(name, current);
      throw error;
    }
    // A switch to Dedicated warms the index in the background (read capacity: Migrating).
    if (next.readCapacity.mode === "Dedicated" && current.readCapacity.mode !== "Dedicated") {
      void this.residency.warm(name);
    }
    if (next.readCapacity.mode !== "Dedicated") this.residency.forget(name);
    return this.describe(next);
  }

  async deleteIndex(name: string): Promise<void> {
    this.requireIndex(name);
    return this.withNameLock(name, () => this.deleteIndexNow(name));
  }

  private async deleteIndexNow(name: string): Promise<void> {
    const config = this.requireIndex(name);
    if (config.deletionProtection === "enabled") {
      throw new NeedleError("FAILED_PRECONDITION", "Deletion protection is enabled for this index", {
        field: "deletion_protection",
      });
    }
    this.configs.delete(name);
    try {
      await this.commitCatalog();
    } catch (error) {
      this.configs.set(name, config);
      throw error;
    }
    await this.system.passivateWhere((target) => belongsTo(target, name), shutdownOrder);
    await removeTree(indexDir(this.options.dir, name));
    await fsyncDirectory(join(this.options.dir, "indexes"));
    await this.options.logs?.remove(name);
    this.ackedLsn.delete(name);
  }

  // ----- data plane ----------------------------------------------------------------------

  private ask<T>(index: string, namespace: string, verb: string, payload: unknown): Promise<T> {
    this.requireIndex(index);
    const held = this.gates.get(index);
    if (held !== undefined) return held.then(() => this.ask<T>(index, namespace, verb, payload));
    return this.askNow<T>(index, namespace, verb, payload);
  }

  /** `ask` past a backup's gate: for the backup's own questions, which the gate would deadlock. */
  private askNow<T>(index: string, namespace: string, verb: string, payload: unknown): Promise<T> {
    const target = address("namespace", namespaceKey(index, canonicalNamespace(namespace)));
    const gate = this.macrotaskGate();
    if (gate === undefined) return this.system.transport.request<T>(target, verb, payload);
    return gate.then(() => this.system.transport.request<T>(target, verb, payload));
  }

  /**
   * A read answered from memory resolves through microtasks only, so a caller awaiting reads
   * in a tight loop would never let the event loop run its macrotasks: the builder thread's
   * answers, timers (idle flushes, retries), I/O. Found when a benchmark's query loop kept a
   * compaction from ever finishing. At most every `macrotaskGateMs` one call waits for a
   * macrotask turn (setImmediate); calls made meanwhile wait behind the same gate, in order,
   * so requests from one caller keep their order.
   */
  private macrotaskGate(): Promise<void> | undefined {
    if (this.gate !== undefined) return this.gate;
    if (performance.now() - this.lastMacrotaskMs < macrotaskGateMs) return undefined;
    this.gate = new Promise<void>((resolve) => {
      setImmediate(() => {
        this.gate = undefined;
        this.lastMacrotaskMs = performance.now();
        resolve();
      });
    });
    return this.gate;
  }
  private gate: Promise<void> | undefined;
  private lastMacrotaskMs = performance.now();

  private acked<T extends { lsn: bigint }>(index: string, result: T): T {
    if (result.lsn > (this.ackedLsn.get(index) ?? 0n)) this.ackedLsn.set(index, result.lsn);
    return result;
  }

  /** The memory budget and the free-space watermark, for writes that add data (deletes go on). */
  private async ensureWritable(what: string): Promise<void> {
    this.memory.ensureRoomForWrite(what);
    try {
      await this.freeSpace.ensureWritable();
    } catch (error) {
      const full = asNeedleError(error);
      throw new NeedleError(full.code, `${what}: ${full.message}`, {
        limit: full.limit,
        received: full.received,
        retryAfterSeconds: full.retryAfterSeconds,
      });
    }
  }

  async upsert(index: string, namespace: string, records: VectorRecord[]) {
    this.requireIndex(index);
    await this.ensureWritable(`index ${index}, namespace ${canonicalNamespace(namespace)}`);
    const result = await this.ask<WriteResult & { upsertedCount: number }>(index, namespace, "upsert", {
      records,
    });
    return this.acked(index, result);
  }

  async query(index: string, namespace: string, request: QueryRequest): Promise<QueryResult> {
    const result = await this.ask<QueryResult>(index, namespace, "query", { request });
    return { ...result, namespace: canonicalNamespace(namespace) };
  }

  fetch(index: string, namespace: string, ids: string[]): Promise<FetchResult> {
    return this.ask<FetchResult>(index, namespace, "fetch", { ids });
  }

  fetchByMetadata(
    index: string,
    namespace: string,
    request: FetchByMetadataRequest,
  ): Promise<FetchByMetadataResult> {
    return this.ask<FetchByMetadataResult>(index, namespace, "fetchByMetadata", { request });
  }

  async update(index: string, namespace: string, request: UpdateRequest): Promise<UpdateResult> {
    this.requireIndex(index);
    if (!request.dryRun)
      await this.ensureWritable(`index ${index}, namespace ${canonicalNamespace(namespace)}`);
    return this.acked(index, await this.ask<UpdateResult>(index, namespace, "update", { request }));
  }

  async delete(index: string, namespace: string, request: DeleteRequest): Promise<WriteResult> {
    return this.acked(index, await this.ask<WriteResult>(index, namespace, "delete", { request }));
  }

  list(index: string, namespace: string, request: ListRequest): Promise<ListResult> {
    return this.ask<ListResult>(index, namespace, "list", { request });
  }

  private async namespaceNames(index: string): Promise<string[]> {
    this.requireIndex(index);
    const names = await this.system.transport.request<string[]>(address("index", index), "namespaces", {});
    return names.sort();
  }

  /**
   * Each named namespace's count and levels, asked. `busy: "skip"` (the metrics) leaves out a
   * namespace that cannot answer now (its mailbox full) instead of failing the whole answer;
   * `gate: "pass"` (a backup's own count) does not wait at the index's backup gate.
   */
  private async counts(
    index: string,
    names: string[],
    filter?: Filter,
    mode: CountMode = {},
  ): Promise<(NamespaceStats & { levels: LevelStats[] })[]> {
    const ask = mode.gate === "pass" ? this.askNow.bind(this) : this.ask.bind(this);
    const counts = await Promise.all(
      names.map((name) =>
        ask<{ exists: boolean; recordCount: number; levels: LevelStats[] }>(index, name, "count", {
          filter,
        }).then(
          (count) => ({ name, ...count }),
          (error: unknown) => {
            if (mode.busy === "skip" && asNeedleError(error).code === "OVERLOADED")
              return { name, exists: false, recordCount: 0, levels: [] };
            throw error;
          },
        ),
      ),
    );
    return counts
      .filter((c) => c.exists)
      .map(({ name, recordCount, levels }) => ({ name, recordCount, levels }));
  }

  /**
   * Every namespace named `prefix...` that exists, with its count and levels, by name: clean
   * ones from the index's catalog, the others (dirty, or not yet in the catalog) asked. No
   * clean namespace is activated (storage/namespaces/DESIGN.md, build step 3).
   */
  private async catalogCounts(
    index: string,
    prefix: string,
  ): Promise<(NamespaceStats & { levels: LevelStats[] })[]> {
    return (await this.catalogSnapshot(index, prefix)).namespaces;
  }

  private async catalogSnapshot(
    index: string,
    prefix: string,
    mode: CountMode = {},
  ): Promise<{
    namespaces: (NamespaceStats & { levels: LevelStats[] })[];
    catalogSize: number;
    catalogBytes: number;
    packedFiles: number;
    packedCompactions: number;
  }> {
    this.requireIndex(index);
    const snapshot = await this.system.transport.request<NamespaceCounts>(address("index", index), "counts", {
      prefix,
    });
    const asked = await this.counts(index, snapshot.ask, undefined, mode);
    const counted = snapshot.cataloged
      .filter((entry) => entry.explicit || entry.records > 0)
      .map((entry) => ({
        name: entry.name,
        recordCount: entry.records,
        levels: levelStatsFrom(entry.levels),
      }));
    counted.push(...asked);
    return {
      namespaces: counted.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      catalogSize: snapshot.catalogSize,
      catalogBytes: snapshot.catalogBytes,
      packedFiles: snapshot.packedFiles,
      packedCompactions: snapshot.packedCompactions,
    };
  }

  async describeIndexStats(index: string, filter?: Filter): Promise<IndexStats> {
    const config = this.requireIndex(index);
    // A filter needs the rows themselves: every namespace is asked (and activated).
    const snapshot = await this.catalogSnapshot(index, "");
    const counted = filter
      ? await this.counts(index, await this.namespaceNames(index), filter)
      : snapshot.namespaces;
    const namespaces = counted
      .filter((ns) => ns.recordCount > 0)
      .map(({ name, recordCount }) => ({ name, recordCount }));
    const status = await this.compactionStatus();
    const ofIndex = (key: string | null | undefined) => key?.startsWith(`${index}/`) === true;
    const inIndex = (key: string) => key.slice(index.length + 1);
    return {
      namespaces,
      dimension: config.dimension,
      metric: config.metric,
      vectorType: config.vectorType,
      totalVectorCount: namespaces.reduce((sum, ns) => sum + ns.recordCount, 0),
      indexFullness: 0,
      compaction: {
        paused: status.paused,
        running: ofIndex(status.running) ? inIndex(status.running!) : null,
        queued: status.queued.filter(ofIndex).length,
        lastError:
          status.lastError && ofIndex(status.lastError.namespace)
            ? { ...status.lastError, namespace: inIndex(status.lastError.namespace) }
            : null,
        levels: sumLevels(counted.map((ns) => ns.levels)),
      },
      tenancy: {
        cataloged: snapshot.catalogSize,
        resident: this.system.activeCount("namespace", `${index}/`),
        catalogBytes: snapshot.catalogBytes,
        catalogBytesPerNamespace:
          snapshot.catalogSize === 0 ? 0 : snapshot.catalogBytes / snapshot.catalogSize,
        residentMax: this.namespacesResidentMax,
        packedFiles: snapshot.packedFiles,
        packedCompactions: snapshot.packedCompactions,
        evicted: this.system.evictedOfKind("namespace"),
      },
    };
  }

  private compactor<T>(verb: string): Promise<T> {
    this.checkOpen();
    return this.system.transport.request<T>(address("compactor", "local"), verb, {});
  }

  pauseCompaction(): Promise<CompactionStatus> {
    return this.compactor("pause");
  }

  resumeCompaction(): Promise<CompactionStatus> {
    return this.compactor("resume");
  }

  activeActors(kind: "namespace" | "slab"): number {
    return this.system.activeCount(kind);
  }

  async observe(): Promise<EngineObservation> {
    this.checkOpen();
    const compaction = await this.compactionStatus();
    const indexes: IndexObservation[] = [];
    for (const name of [...this.configs.keys()].sort()) {
      // A namespace too busy to answer is left out of this scrape rather than failing it:
      // metrics must answer most of all while the server is overloaded.
      const snapshot = await this.catalogSnapshot(name, "", { busy: "skip" }).catch((error: unknown) => {
        if (asNeedleError(error).code === "NOT_FOUND") return undefined; // deleted meanwhile
        throw error;
      });
      if (snapshot === undefined) continue;
      const prefix = `${name}/`;
      indexes.push({
        name,
        records: snapshot.namespaces.reduce((sum, ns) => sum + ns.recordCount, 0),
        namespaces: snapshot.namespaces.length,
        namespacesResident: this.system.activeCount("namespace", prefix),
        memtableBytes: this.system.heldBytes("namespace", prefix),
        levels: sumLevels(snapshot.namespaces.map((ns) => ns.levels)),
        compactionQueued: compaction.queued.filter((key) => key.startsWith(prefix)).length,
        compactionLastDurationMs: compaction.lastDurationMsByIndex[name] ?? null,
        requestLogBytes:
          this.options.logs === undefined ? await treeBytes(logDir(this.options.dir, name)) : null,
      });
    }
    const actors = observedKinds.map((kind) => this.system.observeKind(kind));
    const slabMemory = await this.system.transport.request<SlabMemoryObservation>(
      address("executor", "local"),
      "stats",
      {},
    );
    return { indexes, actors, compaction, slabMemory };
  }

  // ----- backups ---------------------------------------------------------------------------

  async createBackup(index: string, request: CreateBackupRequest): Promise<BackupDescription> {
    const config = this.requireIndex(index);
    if (this.options.logs !== undefined)
      throw new NeedleError(
        "FAILED_PRECONDITION",
        "backups need the request log in local files; this engine keeps it elsewhere (JetStream)",
      );
    const id = this.backups.newId();
    return this.withNameLock(index, async () => {
      // Invariant 5 of issue 9: requests for the index wait at the gate from here until the
      // files are copied, so the copy holds every write through one LSN and none after it.
      let open: () => void = () => {};
      this.gates.set(
        index,
        new Promise<void>((resolve) => {
          open = resolve;
        }),
      );
      try {
        return await this.quiesceIndexNow(index, async (dir) =>
          this.backups.create(id, config, async (into) => {
            // Every write that passed the gate has finished (quiescing drained the actors).
            const lsn = await this.system.transport.request<bigint>(address("writer", index), "lastLsn", {});
            const copied = await snapshotTree(dir, into, isSlabFile, request.progress);
            const snapshot = await this.catalogSnapshot(index, "", { gate: "pass" });
            return {
              backupId: id,
              sourceIndexName: index,
              name: request.name ?? `${index}-${new Date().toISOString()}`,
              description: request.description ?? "",
              status: "Ready",
              lsn,
              recordCount: snapshot.namespaces.reduce((sum, ns) => sum + ns.recordCount, 0),
              namespaceCount: snapshot.namespaces.length,
              sizeBytes: copied.bytes,
              createdAt: new Date().toISOString(),
              index: this.describe(config),
            };
          }),
        );
      } finally {
        this.gates.delete(index);
        open();
      }
    });
  }

  listBackups(index?: string): Promise<BackupDescription[]> {
    this.checkOpen();
    return this.backups.list(index);
  }

  describeBackup(backupId: string): Promise<BackupDescription> {
    this.checkOpen();
    return this.backups.describe(backupId);
  }

  deleteBackup(backupId: string): Promise<void> {
    this.checkOpen();
    return this.backups.remove(backupId);
  }

  async createIndexFromBackup(
    backupId: string,
    request: RestoreRequest,
  ): Promise<{ job: RestoreJob; index: IndexDescription }> {
    this.checkOpen();
    const source = await this.backups.source(backupId);
    const createdAt = new Date().toISOString();
    const index = await this.withNameLock(request.name, async () => {
      await this.ensureWritable(`index ${request.name}`);
      if (this.configs.has(request.name))
        throw new NeedleError("ALREADY_EXISTS", `Resource ${request.name} already exists`, {
          field: "name",
          received: request.name,
        });
      // Invariant 6 of issue 9: the files first, then the catalog; a crash between leaves a
      // directory no catalog names, removed at the next open (invariant 4).
      const dir = indexDir(this.options.dir, request.name);
      await removeTree(dir);
      await ensureDirectoryDurably(join(this.options.dir, "indexes"));
      await snapshotTree(source.dir, dir, isSlabFile, request.progress);
      await fsyncDirectory(join(this.options.dir, "indexes"));
      const config: IndexConfig = {
        ...configFromCatalog(source.config),
        name: request.name,
        tags: request.tags ?? { ...source.config.tags },
        deletionProtection: request.deletionProtection ?? "disabled",
        createdAt,
      };
      return this.catalogNewIndex(config);
    });
    const job: RestoreJob = {
      restoreJobId: this.backups.newId(),
      backupId,
      targetIndexName: request.name,
      status: "Completed",
      percentComplete: 100,
      createdAt,
      completedAt: new Date().toISOString(),
    };
    await this.backups.saveJob(job);
    return { job, index };
  }

  listRestoreJobs(): Promise<RestoreJob[]> {
    this.checkOpen();
    return this.backups.jobs();
  }

  describeRestoreJob(restoreJobId: string): Promise<RestoreJob> {
    this.checkOpen();
    return this.backups.job(restoreJobId);
  }

  async quiesceIndex<T>(name: string, during: (dir: string) => Promise<T>): Promise<T> {
    this.requireIndex(name);
    return this.withNameLock(name, () => this.quiesceIndexNow(name, during));
  }

  /** quiesceIndex inside the index's name lock (the caller holds it). */
  private async quiesceIndexNow<T>(name: string, during: (dir: string) => Promise<T>): Promise<T> {
    await this.holdCompaction();
    try {
      await this.compactionSettled();
      await this.system.passivateWhere((target) => belongsTo(target, name), shutdownOrder);
      return await during(indexDir(this.options.dir, name));
    } finally {
      await this.releaseCompaction();
    }
  }

  /**
   * Compaction stays paused while any quiesce holds it (two indexes backed up at once: the
   * first to finish must not resume it under the other); it resumes after the last release,
   * unless it was paused before the first hold. Holds and releases run one at a time.
   */
  private holdCompaction(): Promise<void> {
    return this.inHoldOrder(async () => {
      if (this.compactionHolds++ > 0) return;
      this.holdsPausedCompaction = !(await this.compactionStatus()).paused;
      if (this.holdsPausedCompaction) await this.pauseCompaction();
    });
  }

  private releaseCompaction(): Promise<void> {
    return this.inHoldOrder(async () => {
      if (--this.compactionHolds > 0 || !this.holdsPausedCompaction) return;
      this.holdsPausedCompaction = false;
      await this.resumeCompaction();
    });
  }

  private inHoldOrder(step: () => Promise<void>): Promise<void> {
    const next = this.holdOrder.then(step);
    this.holdOrder = next.catch(() => {});
    return next;
  }
  private compactionHolds = 0;
  private holdsPausedCompaction = false;
  private holdOrder: Promise<void> = Promise.resolve();

  compactionStatus(): Promise<CompactionStatus> {
    return this.compactor("status");
  }

  async compactionSettled(): Promise<CompactionStatus> {
    // Packed compaction runs in each active index (actors/index/packed-compaction.ts).
    for (const index of this.configs.keys()) {
      if (this.system.isActive(address("index", index)))
        await this.system.transport.request(address("index", index), "packedSettled", {});
    }
    return this.compactor("settled");
  }

  async listNamespaces(index: string, request: ListNamespacesRequest): Promise<ListNamespacesResult> {
    const prefix = request.prefix ?? "";
    const after = request.paginationToken
      ? Buffer.from(request.paginationToken, "base64url").toString()
      : undefined;
    this.requireIndex(index);
    // One more than a page from the catalog tells whether a next page exists.
    const fromIndex = await this.system.transport.request<NamespacePage>(address("index", index), "page", {
      prefix,
      after,
      limit: request.limit + 1,
    });
    const asked = await this.counts(index, fromIndex.ask);
    const merged = [
      ...fromIndex.cataloged.map(({ name, records }) => ({ name, recordCount: records })),
      ...asked
        .filter((ns) => after === undefined || ns.name > after)
        .map(({ name, recordCount }) => ({ name, recordCount })),
    ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const page = merged.slice(0, request.limit);
    const result: ListNamespacesResult = {
      namespaces: page,
      totalCount: fromIndex.catalogTotal + asked.length,
    };
    if (merged.length > request.limit) {
      result.next = Buffer.from(page[page.length - 1]!.name).toString("base64url");
    }
    return result;
  }

  async describeNamespace(index: string, namespace: string): Promise<NamespaceStats> {
    const name = canonicalNamespace(namespace);
    const found = (await this.catalogCounts(index, name)).find((counted) => counted.name === name);
    if (found === undefined) throw namespaceNotFound(name);
    return { name, recordCount: found.recordCount };
  }

  async describeSlabs(index: string, namespace: string): Promise<SlabDescription[]> {
    await this.describeNamespace(index, namespace); // NOT_FOUND, without activating a missing one
    return this.ask<SlabDescription[]>(index, canonicalNamespace(namespace), "slabs", {});
  }

  async createNamespace(index: string, namespace: string): Promise<NamespaceStats> {
    const name = canonicalNamespace(namespace);
    this.requireIndex(index);
    await this.ensureWritable(`index ${index}, namespace ${name}`);
    const result = await this.ask<{ lsn: bigint; existed: boolean; recordCount: number }>(
      index,
      name,
      "create",
      {},
    );
    if (result.existed) {
      throw new NeedleError("ALREADY_EXISTS", `Namespace ${name} already exists`, {
        field: "name",
        received: name,
      });
    }
    this.acked(index, result);
    return { name, recordCount: result.recordCount };
  }

  async deleteNamespace(index: string, namespace: string): Promise<WriteResult> {
    const name = canonicalNamespace(namespace);
    const exists = await this.ask<boolean>(index, name, "exists", {});
    if (!exists) throw namespaceNotFound(name);
    return this.acked(index, await this.ask<WriteResult>(index, name, "drop", {}));
  }

  /**
   * Waits until every write acknowledged with an LSN at or below `lsn` is visible. Writes
   * acknowledged by this engine are applied before their answer; writes from before a restart
   * are applied once the index has replayed its log (`recoveredLsn`).
   */
  async waitForLsn(index: string, lsn: bigint, timeoutMs: number): Promise<void> {
    this.requireIndex(index);
    const deadline = performance.now() + timeoutMs;
    const reached = async () => {
      if ((this.ackedLsn.get(index) ?? 0n) >= lsn) return true;
      const recovered = await this.system.transport.request<bigint>(
        address("index", index),
        "recoveredLsn",
        {},
      );
      return recovered >= lsn;
    };
    while (!(await reached())) {
      if (performance.now() >= deadline) {
        throw new NeedleError(
          "UNAVAILABLE",
          `index ${index} has not reached LSN ${lsn} within ${timeoutMs} ms`,
          {
            retryAfterSeconds: 1,
          },
        );
      }
      await Bun.sleep(lsnPollMs);
    }
  }

  private checkOpen(): void {
    if (this.closing) throw new NeedleError("UNAVAILABLE", "Needle is closed", { retryAfterSeconds: 1 });
  }

  close(): Promise<void> {
    this.memory.stop();
    this.closing ??= this.residency
      .stop()
      .then(() => this.system.shutdown(shutdownOrder))
      .finally(() => this.lock.release());
    return this.closing;
  }
}

/** Per level, the sums over an index's namespaces. */
/** How `counts` asks: see there. */
interface CountMode {
  busy?: "fail" | "skip";
  gate?: "wait" | "pass";
}

/** The kinds whose mailboxes and caches the metrics show. */
const observedKinds: ActorKind[] = ["index", "namespace", "writer", "slab", "compactor"];

function sumLevels(perNamespace: LevelStats[][]): CompactionLevelStats[] {
  const levels = new Map<number, CompactionLevelStats>();
  for (const namespace of perNamespace) {
    for (const level of namespace) {
      const sum = levels.get(level.level) ?? { level: level.level, slabs: 0, rows: 0, liveRows: 0, bytes: 0 };
      sum.slabs += level.slabs;
      sum.rows += level.rows;
      sum.liveRows += level.liveRows;
      sum.bytes += level.bytes;
      levels.set(level.level, sum);
    }
  }
  return [...levels.values()].sort((a, b) => a.level - b.level);
}

function belongsTo(target: Address, index: string): boolean {
  if (target.kind === "executor" || target.kind === "router") return false;
  if (target.kind === "index" || target.kind === "writer") return target.key === index;
  return target.key.startsWith(`${index}/`);
}

function namespaceNotFound(name: string): NeedleError {
  return new NeedleError("NOT_FOUND", `Namespace ${name} not found`, { field: "namespace", received: name });
}

/** The catalog's flat level stats (five numbers per level) as describeIndexStats reports them. */
function levelStatsFrom(flat: Float64Array | undefined): LevelStats[] {
  const levels: LevelStats[] = [];
  if (flat === undefined) return levels;
  for (let at = 0; at + levelStatsWidth <= flat.length; at += levelStatsWidth) {
    levels.push({
      level: flat[at]!,
      slabs: flat[at + 1]!,
      rows: flat[at + 2]!,
      liveRows: flat[at + 3]!,
      bytes: flat[at + 4]!,
    });
  }
  return levels;
}
