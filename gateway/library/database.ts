/**
 * The database handle `open(dir)` returns: the control plane of the official client's
 * `Pinecone` class (createIndex, describeIndex, listIndexes, configureIndex, deleteIndex,
 * index / Index, the backup methods, and the `indexes`, `backups` and `restoreJobs`
 * namespaces of 9.x), plus `lastLsn(index)` and `close()`.
 */
import type { CompactionStatus, Engine } from "../../actors/api.ts";
import { NeedleError } from "../../storage/errors.ts";
import {
  checkDeletionProtection,
  parseConfigureIndex,
  parseCreateIndex,
  parseIndexName,
} from "../schemas/mod.ts";
import { LibraryBackups, type ListOptions } from "./backups.ts";
import { apiConfigureOptions, apiCreateOptions } from "./client-options.ts";
import { NeedleIndex } from "./index-handle.ts";
import { Session } from "./session.ts";
import { indexModelOut } from "./shapes.ts";
import type {
  BackupList,
  BackupModel,
  ConfigureIndexOptions,
  ConfigureIndexResourceOptions,
  CreateIndexOptions,
  IndexList,
  IndexModel,
  IndexOptions,
  RecordMetadata,
  RestoreJobList,
  RestoreJobModel,
} from "./types.ts";

/** How often waitUntilReady looks at the index, and how long it waits by default. */
const readyPollMs = 25;
const readyWaitSecondsDefault = 300;

export class Needle {
  readonly #session: Session;

  /** The 9.x `pc.indexes.*` spelling of the control plane. */
  readonly indexes: {
    list: () => Promise<IndexList>;
    create: (options: CreateIndexOptions) => Promise<IndexModel | undefined>;
    describe: (name: string) => Promise<IndexModel>;
    delete: (name: string) => Promise<void>;
    configure: (name: string, options: ConfigureIndexResourceOptions) => Promise<IndexModel>;
  };

  /** The 9.x `pc.backups.*` spelling of the backup methods. */
  readonly backups: {
    create: (indexName: string, options?: { name?: string; description?: string }) => Promise<BackupModel>;
    list: (options?: ListOptions) => Promise<BackupList>;
    listByIndex: (indexName: string, options?: ListOptions) => Promise<BackupList>;
    describe: (backupId: string) => Promise<BackupModel>;
    delete: (backupId: string) => Promise<void>;
    createIndex: (
      backupId: string,
      options: { name: string; tags?: Record<string, string>; deletionProtection?: string },
    ) => Promise<{ restoreJobId: string; indexId: string }>;
  };
  /** The 9.x `pc.restoreJobs.*`. */
  readonly restoreJobs: {
    list: (options?: ListOptions) => Promise<RestoreJobList>;
    describe: (restoreJobId: string) => Promise<RestoreJobModel>;
  };
  readonly #backups: LibraryBackups;

  constructor(engine: Engine) {
    this.#session = new Session(engine);
    const backups = new LibraryBackups(() => this.#session.live());
    this.#backups = backups;
    this.backups = {
      create: (indexName, options = {}) => backups.create({ indexName, ...options }),
      list: (options = {}) => backups.list(options),
      listByIndex: (indexName, options = {}) => backups.list({ ...options, indexName }),
      describe: (backupId) => backups.describe(backupId),
      delete: (backupId) => backups.delete(backupId),
      createIndex: (backupId, options) => backups.createIndex(backupId, options),
    };
    this.restoreJobs = {
      list: (options = {}) => backups.listRestoreJobs(options),
      describe: (restoreJobId) => backups.describeRestoreJob(restoreJobId),
    };
    this.indexes = {
      list: () => this.listIndexes(),
      create: (options) => this.createIndex(options),
      describe: (name) => this.describeIndex(name),
      delete: (name) => this.deleteIndex(name),
      configure: (name, options) => this.configureIndex(name, options),
    };
  }

  /**
   * Creates an index from either client form (2026-07 `schema`/`deployment`, or the older
   * `dimension`/`metric`/`spec`). With `suppressConflicts`, an existing index resolves to
   * undefined instead of throwing ALREADY_EXISTS.
   */
  async createIndex(options: CreateIndexOptions & { suppressConflicts?: false }): Promise<IndexModel>;
  async createIndex(options: CreateIndexOptions): Promise<IndexModel | undefined>;
  async createIndex(options: CreateIndexOptions): Promise<IndexModel | undefined> {
    const engine = this.#session.live();
    checkDeletionProtection(options?.deletionProtection, "deletionProtection");
    const request = parseCreateIndex(apiCreateOptions(options));
    let created: IndexModel;
    try {
      created = indexModelOut(await engine.createIndex(request));
    } catch (error) {
      if (options.suppressConflicts && error instanceof NeedleError && error.code === "ALREADY_EXISTS") {
        return undefined;
      }
      throw error;
    }
    this.#session.forgetIndex(request.name);
    if (!options.waitUntilReady || created.status.ready) return created;
    return this.#waitUntilReady(request.name, options.timeout ?? readyWaitSecondsDefault);
  }

  async describeIndex(name: string): Promise<IndexModel> {
    const engine = this.#session.live();
    return indexModelOut(await engine.describeIndex(parseIndexName(name)));
  }

  async listIndexes(): Promise<IndexList> {
    const engine = this.#session.live();
    const descriptions = await engine.listIndexes();
    return { indexes: descriptions.map(indexModelOut) };
  }

  /** Takes `{name, ...options}` (the `Pinecone` class) or `(name, options)` (`pc.indexes`). */
  async configureIndex(
    nameOrOptions: string | ConfigureIndexOptions,
    options?: ConfigureIndexResourceOptions,
  ): Promise<IndexModel> {
    const engine = this.#session.live();
    const { name, ...rest } =
      typeof nameOrOptions === "string" ? { ...options, name: nameOrOptions } : (nameOrOptions ?? {});
    const indexName = parseIndexName(name);
    checkDeletionProtection(rest.deletionProtection, "deletionProtection");
    const request = parseConfigureIndex(apiConfigureOptions(rest));
    return indexModelOut(await engine.configureIndex(indexName, request));
  }

  /** The engine refuses with FAILED_PRECONDITION while deletion protection is enabled. */
  async deleteIndex(name: string): Promise<void> {
    const engine = this.#session.live();
    const indexName = parseIndexName(name);
    await engine.deleteIndex(indexName);
    this.#session.forgetIndex(indexName);
  }

  /** `index(name)`, `index(name, host)` or `index({name, namespace})`; the host is ignored. */
  index<T extends RecordMetadata = RecordMetadata>(options: IndexOptions): NeedleIndex<T>;
  index<T extends RecordMetadata = RecordMetadata>(
    name: string,
    host?: string,
    additionalHeaders?: Record<string, string>,
  ): NeedleIndex<T>;
  index<T extends RecordMetadata = RecordMetadata>(nameOrOptions: string | IndexOptions): NeedleIndex<T> {
    this.#session.live();
    const options = typeof nameOrOptions === "string" ? { name: nameOrOptions } : (nameOrOptions ?? {});
    const name = parseIndexName(options.name);
    return new NeedleIndex<T>(this.#session, name, options.namespace || undefined);
  }

  /** The client's capitalised alias of `index`. */
  Index<T extends RecordMetadata = RecordMetadata>(options: IndexOptions): NeedleIndex<T>;
  Index<T extends RecordMetadata = RecordMetadata>(
    name: string,
    host?: string,
    additionalHeaders?: Record<string, string>,
  ): NeedleIndex<T>;
  Index<T extends RecordMetadata = RecordMetadata>(nameOrOptions: string | IndexOptions): NeedleIndex<T> {
    return typeof nameOrOptions === "string" ? this.index<T>(nameOrOptions) : this.index<T>(nameOrOptions);
  }

  /** A backup of the index: all of it at one LSN (the client's `createBackup`). */
  createBackup(options: { indexName: string; name?: string; description?: string }): Promise<BackupModel> {
    return this.#backups.create(options);
  }

  /** Every backup, or those of `indexName`. */
  listBackups(options: ListOptions & { indexName?: string } = {}): Promise<BackupList> {
    return this.#backups.list(options);
  }

  describeBackup(backupId: string): Promise<BackupModel> {
    return this.#backups.describe(backupId);
  }

  deleteBackup(backupId: string): Promise<void> {
    return this.#backups.delete(backupId);
  }

  /** A new index with the backup's contents; its restore job is already complete. */
  createIndexFromBackup(options: {
    backupId: string;
    name: string;
    tags?: Record<string, string>;
    deletionProtection?: string;
  }): Promise<{ restoreJobId: string; indexId: string }> {
    const { backupId, ...rest } = options;
    return this.#backups.createIndex(backupId, rest);
  }

  listRestoreJobs(options: ListOptions = {}): Promise<RestoreJobList> {
    return this.#backups.listRestoreJobs(options);
  }

  describeRestoreJob(restoreJobId: string): Promise<RestoreJobModel> {
    return this.#backups.describeRestoreJob(restoreJobId);
  }

  /** Needle: stops starting compactions (a running one finishes) until `resumeCompaction`. */
  async pauseCompaction(): Promise<CompactionStatus> {
    return this.#session.live().pauseCompaction();
  }

  async resumeCompaction(): Promise<CompactionStatus> {
    return this.#session.live().resumeCompaction();
  }

  /** Needle: resolves once no compaction runs or waits (or compaction is paused). */
  async compactionSettled(): Promise<CompactionStatus> {
    return this.#session.live().compactionSettled();
  }

  /** Needle: the compactor's state (paused, running, queued, completed, last error). */
  async compactionStatus(): Promise<CompactionStatus> {
    return this.#session.live().compactionStatus();
  }

  /** The highest LSN acknowledged for `index` through this database (a safe `minLsn`). */
  lastLsn(index: string): bigint | undefined {
    return this.#session.highestLsn.get(index);
  }

  /** Flushes memtables, syncs, stops every actor and releases files. Idempotent. */
  async close(): Promise<void> {
    if (this.#session.closed) return;
    this.#session.closed = true;
    await this.#session.engine.close();
  }

  async #waitUntilReady(name: string, timeoutSeconds: number): Promise<IndexModel> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const model = await this.describeIndex(name);
      if (model.status.ready) return model;
      if (Date.now() >= deadline) {
        throw new NeedleError("UNAVAILABLE", `index ${name} was not ready after ${timeoutSeconds} seconds`);
      }
      await Bun.sleep(readyPollMs);
    }
  }
}
