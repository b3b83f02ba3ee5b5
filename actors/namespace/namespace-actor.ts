/**
 * The namespace actor: the single writer of one namespace. It owns the namespace's LSN
 * position, memtables, live-row bitsets and manifest, and routes strong reads.
 *
 * Write path (exclusive: one write at a time, in arrival order):
 *   1. Check what only the index knows (dimension, vector type); resolve a filter to ids.
 *   2. If the namespace was clean, tell the index it is dirty from flushedLsn + 1 on, and wait
 *      for the answer: a report that does not arrive fails the write before anything is logged
 *      (otherwise the index could trim the log past an acknowledged write).
 *   3. Under the state's swap lock: resolve the lookups the write needs and check its limits
 *      (a failure here refuses the write with nothing logged), ask the writer actor to append
 *      {namespace, write} (it answers after fsync with the LSN; a failure refuses the write and
 *      the log erases it), then apply in one synchronous step (state invariant 4). Nothing
 *      that can fail runs between the append and the apply, so a write reported as failed
 *      never takes effect at replay and an acknowledged one is always applied.
 *   4. Answer with the LSN; flush in the background past the row/byte thresholds.
 * Reads run concurrently (see reads.ts).
 *
 * Activation: load the newest manifest, then replay this namespace's log records above its
 * flushedLsn when the index says there may be some. Passivation (idle, or shutdown): flush, so
 * the next activation needs no replay.
 */
import { basename } from "node:path";
import type { BlobStore } from "../../storage/blob/mod.ts";
import { asNeedleError, NeedleError } from "../../storage/errors.ts";
import {
  type CompactionPlan,
  type PlanSettings,
  planCompaction,
  type PlanSlab,
} from "../../storage/compaction/plan.ts";
import { ManifestStore } from "../../storage/manifest/mod.ts";
import type { Filter, VectorRecord, WriteOp } from "../../storage/types.ts";
import type { DeleteRequest, IndexConfig, SlabDescription, UpdateRequest } from "../api.ts";
import { namespaceDir, namespaceKey, slabKey, splitKey } from "../layout.ts";
import { type Actor, type ActorContext, address } from "../runtime/mod.ts";
import type { ReplayedRecord } from "../writer/writer-actor.ts";
import {
  type CompactionDeps,
  type CompactionDone,
  type CompactionStep,
  commitRefused,
  compactNamespace,
} from "./compaction.ts";
import type { CatalogEntry } from "../../storage/namespaces/catalog-table.ts";
import { compareIds } from "../../storage/slab/ids.ts";
import { type PackAnswer, type PackRequest, packedSlabIdPattern } from "../index/packer.ts";
import { readRunRecords } from "../slab/shared-readers.ts";
import { runSlabKey } from "../slab/slab-actor.ts";
import { catalogEntryOf } from "./catalog-entry.ts";
import type { Permits } from "../runtime/permits.ts";
import { jobFromRecords } from "./slab-build-job.ts";
import { buildSlab, type CompactionBuilder } from "./slab-builder.ts";
import { countLive, liveFromDeleted } from "./deletions.ts";
import { completeFlush, freeze, type PendingFlush } from "./flush.ts";
import {
  estimatedSlabBytes,
  type NamespaceManifest,
  type SlabEntry,
  type SlabManifestEntry,
} from "./manifest.ts";
import { ReadEpochs } from "./read-epochs.ts";
import * as reads from "./reads.ts";
import { NamespaceState } from "./state.ts";

/**
 * Flush failures retried with the frozen memtable kept: storage (a full or failing volume),
 * and a packed flush's hand-off refused by a busy index (its mailbox is bounded).
 */
const flushRetryable = new Set(["STORAGE_FULL", "STORAGE_FAILED", "UNAVAILABLE", "OVERLOADED"]);

/** A flush that failed for storage is retried after this, doubling to the cap. */
export const flushRetryBackoffBaseMs = 100;
export const flushRetryBackoffCapMs = 10_000;

export interface NamespaceSettings {
  dataDir: string;
  blobs: BlobStore;
  flushRowsMax: number;
  flushBytesMax: number;
  flushIdleMs: number;
  /** Namespaces up to this many live rows are packed (0: never); see EngineOptions. */
  packedRowsMax: number;
  /** Packed flushes in flight at once, across namespaces (runtime/permits.ts). */
  packPermits: Permits;
  indexConfig(index: string): IndexConfig;
  /** Dedicated read capacity: never passivated; idle memtables flush instead (actors/residency.ts). */
  isResident(index: string): boolean;
  /** Compaction thresholds (storage/compaction/plan.ts). */
  compaction: PlanSettings;
  /** Where compaction outputs are built (slab-builder.ts CompactionBuilder). */
  compactionBuilder: CompactionBuilder;
  log(line: string): void;
}

/** Per level of a namespace: what describeIndexStats reports under `compaction.levels`. */
export interface LevelStats {
  level: number;
  slabs: number;
  rows: number;
  liveRows: number;
  bytes: number;
}

/** What the namespace's `compact` verb answers. */
export type CompactAnswer = { done: CompactionDone; more: boolean } | { done: undefined; more: false };

/**
 * Rows live in a committed manifest entry, computed once per entry (entries are never changed:
 * every commit makes new ones), for compaction planning.
 */
const committedLiveCounts = new WeakMap<SlabManifestEntry, number>();

export function namespaceFactory(settings: NamespaceSettings) {
  return async (context: ActorContext): Promise<Actor> => {
    const [index, namespace] = splitKey(context.self.key);
    const config = settings.indexConfig(index);
    const dir = namespaceDir(settings.dataDir, index, namespace);
    const manifests = new ManifestStore<NamespaceManifest>(dir, "manifest");
    const rowBytes = Math.max(1, (config.dimension ?? 0) * 4);
    const rowsHint = Math.min(settings.flushRowsMax, Math.ceil(settings.flushBytesMax / rowBytes));
    const state = new NamespaceState(config, namespace, context.transport, rowsHint);
    const loaded = await manifests.load();
    if (loaded) {
      const body = loaded.body;
      state.committed = body;
      state.committedVersion = loaded.version;
      state.explicit = body.explicit;
      state.flushedLsn = body.flushedLsn;
      state.appliedLsn = body.flushedLsn;
      state.nextSlabSeq = body.nextSlabSeq;
      state.slabs = body.slabs.map((slab) => {
        const live = liveFromDeleted(slab.deleted, slab.rowCount, `${dir}/manifest`);
        committedLiveCounts.set(slab, countLive(live, slab.rowCount));
        return {
          id: slab.id,
          level: slab.level,
          rowCount: slab.rowCount,
          minLsn: slab.minLsn,
          maxLsn: slab.maxLsn,
          live,
          liveCount: committedLiveCounts.get(slab)!,
          bytes: slab.bytes ?? estimatedSlabBytes(slab.rowCount, config.dimension ?? 0),
          address: address("slab", namespaceKey(index, slab.id)),
        };
      });
    }
    // One message to the index per activation (many activate at once after a restart): its
    // catalog entry, and whether the log holds writes above what is committed. A packed
    // namespace's committed state is its entry (a run of a packed slab); a manifest with a
    // higher flushed LSN wins (it graduated, and the catalog update was lost).
    const { needsReplay, entry: cataloged } = await context.transport.request<{
      needsReplay: boolean;
      entry: CatalogEntry | undefined;
    }>(address("index", index), "activating", { namespace });
    if (cataloged?.location.kind === "packed" && (!loaded || cataloged.flushedLsn > loaded.body.flushedLsn)) {
      state.committed = undefined;
      state.committedVersion = 0;
      state.explicit = cataloged.explicit;
      state.flushedLsn = cataloged.flushedLsn;
      state.appliedLsn = cataloged.flushedLsn;
      const { slab, runLength } = cataloged.location;
      state.slabs =
        runLength > 0 ? [runEntry(index, namespace, slab, runLength, cataloged.flushedLsn, rowBytes)] : [];
    }
    const actor = new NamespaceActor(state, context, settings, manifests, basename(dir), `${dir}/manifest`);
    if (needsReplay) await actor.replay();
    actor.reportCompaction();
    return actor;
  };
}

class NamespaceActor implements Actor {
  readonly concurrentVerbs = new Set([
    "slabs",
    "query",
    "fetch",
    "list",
    "fetchByMetadata",
    "count",
    "exists",
    "warm",
    "compact",
  ]);
  readonly idleMs: number;
  readonly idleVerb = "flush";
  private flushing: Promise<void> | undefined;
  private flushError: unknown;
  /** A flush that failed for storage, waiting for its retry (flush.ts). */
  private pendingFlush: PendingFlush | undefined;
  private lastFlushFailure: unknown;
  /**
   * Held by a flush from its freeze to the end of its swap, and by a compaction commit
   * (storage/compaction/DESIGN.md, invariant 2): a flush's freeze-time slab list must not be
   * edited under it. Ordered before the state's swap lock, never after.
   */
  private manifestLockTail: Promise<unknown> = Promise.resolve();
  private flushRetries = 0;
  private flushRetryTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Flushes the memtable once no write came for `flushIdleMs`, even while reads keep the
   * namespace busy (the runtime passivates only actors without any message): a namespace
   * that stopped taking writes gets its rows into slabs, merged and indexed.
   */
  private idleFlushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Every message but `compact` counts as a read: a compaction retires its sources after them. */
  private readonly epochs = new ReadEpochs();
  private compacting = false;
  /** When the last write arrived (never, in this activation: the namespace counts as idle). */
  private lastWriteMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly state: NamespaceState,
    private readonly context: ActorContext,
    private readonly settings: NamespaceSettings,
    private readonly manifests: ManifestStore<NamespaceManifest>,
    private readonly slabIdPrefix: string,
    private readonly manifestFile: string,
  ) {
    this.idleMs = settings.flushIdleMs;
  }

  get resident(): boolean {
    return this.settings.isResident(this.index);
  }

  private get transport() {
    return this.context.transport;
  }

  private get key(): string {
    return this.context.self.key;
  }

  private get index(): string {
    return this.state.index.name;
  }

  async replay(): Promise<void> {
    const records = await this.transport.request<ReplayedRecord[]>(address("writer", this.index), "replay", {
      afterLsn: this.state.flushedLsn,
      namespace: this.state.namespace,
    });
    for (const record of records) {
      let apply: (lsn: bigint) => void;
      try {
        apply = await this.state.prepare(record.write);
      } catch (error) {
        // A logged write that does not fit was never acknowledged (the same check refused it
        // before it could apply), so skipping it loses nothing; crashing here would poison the
        // namespace on every restart.
        if (error instanceof NeedleError && error.kind === "user") {
          this.settings.log(
            `needle: skipped unappliable log record ${record.lsn} of ${this.key}: ${error.message}`,
          );
          continue;
        }
        throw error;
      }
      apply(record.lsn);
    }
    void this.reportUnflushed();
  }

  async receive(verb: string, payload: unknown): Promise<unknown> {
    if (verb === "compact") return this.compact((payload as { idle: boolean }).idle);
    const ended = this.epochs.begin();
    try {
      return await this.receiveCounted(verb, payload);
    } finally {
      ended();
    }
  }

  private async receiveCounted(verb: string, payload: unknown): Promise<unknown> {
    const state = this.state;
    const message = payload as Record<string, unknown>;
    switch (verb) {
      case "upsert": {
        const records = message.records as VectorRecord[];
        state.checkRecords(records, "records");
        const lsn = await this.write({ op: "upsert", records });
        return { lsn, upsertedCount: records.length };
      }
      case "update":
        return this.update(message.request as UpdateRequest);
      case "delete":
        return this.delete(message.request as DeleteRequest);
      case "create": {
        const existed = state.exists;
        const lsn = existed ? state.appliedLsn : await this.write({ op: "createNamespace" });
        return { lsn, existed, recordCount: state.recordCount };
      }
      case "drop":
        return { lsn: await this.write({ op: "deleteNamespace" }) };
      case "flush":
        await this.flush();
        return undefined;
      case "query":
        return reads.query(state, this.transport, message.request as never);
      case "fetch":
        return reads.fetch(state, message.ids as string[]);
      case "list":
        return reads.list(state, this.transport, message.request as never);
      case "fetchByMetadata":
        return reads.fetchByMetadata(state, this.transport, message.request as never);
      case "slabs":
        return this.describeSlabs();
      case "count":
        return {
          exists: state.exists,
          recordCount: await reads.countMatching(state, this.transport, message.filter as Filter | undefined),
          lsn: state.appliedLsn,
          levels: this.levelStats(),
        };
      case "exists":
        return state.exists;
      case "warm":
        // Dedicated read capacity: open and warm every live slab now, not at the first query.
        await Promise.all(
          state.slabs
            .filter((slab) => slab.liveCount > 0)
            .map((slab) => this.transport.request(slab.address, "warm", {})),
        );
        return undefined;
      default:
        throw new NeedleError("INTERNAL", `namespace: unknown verb ${verb}`);
    }
  }

  private async update(request: UpdateRequest): Promise<{ lsn: bigint; matchedRecords: number }> {
    const state = this.state;
    state.checkVectors(request.values, request.sparseValues, "update", "update");
    let ids: string[];
    if (request.id !== undefined) {
      const found = await state.locate([request.id]);
      ids = found.has(request.id) ? [request.id] : [];
    } else {
      ids = await this.idsMatching(request.filter);
    }
    if (request.dryRun || ids.length === 0) return { lsn: state.appliedLsn, matchedRecords: ids.length };
    const write: WriteOp = { op: "update", ids };
    if (request.values) write.values = request.values;
    if (request.sparseValues) write.sparseValues = request.sparseValues;
    if (request.setMetadata) write.setMetadata = request.setMetadata;
    return { lsn: await this.write(write), matchedRecords: ids.length };
  }

  private async delete(request: DeleteRequest): Promise<{ lsn: bigint }> {
    if ("deleteAll" in request) return { lsn: await this.write({ op: "deleteAll" }) };
    const ids = "ids" in request ? request.ids : await this.idsMatching(request.filter);
    if (ids.length === 0) return { lsn: this.state.appliedLsn };
    return { lsn: await this.write({ op: "delete", ids }) };
  }

  /** Every live id matching the filter (writes are exclusive, so the set cannot change meanwhile). */
  private async idsMatching(filter: Filter | undefined): Promise<string[]> {
    const ids: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await reads.fetchByMetadata(this.state, this.transport, {
        filter,
        limit: 10_000,
        paginationToken: after,
      });
      ids.push(...page.records.map((record) => record.id));
      if (!page.next) return ids;
      after = page.next;
    }
  }

  private async write(write: WriteOp): Promise<bigint> {
    if (this.flushError) throw this.flushError;
    if (this.pendingFlush && this.memtableFull(2)) {
      // Flushes keep failing for storage: stop growing memory until one succeeds.
      throw new NeedleError(
        "STORAGE_FULL",
        `namespace ${this.state.namespace} of index ${this.index}: its memtable cannot be flushed (the data volume is full or failing); writes resume once a flush succeeds`,
        { retryAfterSeconds: 5, cause: this.lastFlushFailure },
      );
    }
    this.lastWriteMs = this.context.now();
    // Counted before the dirty report: a flush swap meanwhile must not call the namespace clean.
    this.state.writesInFlight++;
    try {
      await this.markDirty();
      const lsn = await this.state.withSwapLock(async () => {
        const apply = await this.state.prepare(write, { live: true });
        const appended = await this.transport.request<bigint>(address("writer", this.index), "append", {
          body: { namespace: this.state.namespace, write },
        });
        apply(appended);
        return appended;
      });
      await this.maybeFlush();
      this.armIdleFlush();
      return lsn;
    } finally {
      this.state.writesInFlight--;
    }
  }

  /**
   * Step 2: before the first write after a clean state, the index must know, so the log is
   * never trimmed past the record even if the actor restarts before flushing it. The state is
   * marked first (a flush finishing meanwhile then reports it dirty too) and unmarked if the
   * report fails, so the next write reports again.
   */
  private async markDirty(): Promise<void> {
    if (this.state.dirty) return;
    const oldest = this.state.flushedLsn + 1n;
    this.state.oldestUnflushedLsn = oldest;
    try {
      await this.transport.request(address("index", this.index), "unflushed", {
        namespace: this.state.namespace,
        oldestLsn: oldest,
        exists: this.state.exists,
        beforeWrite: true,
      });
    } catch (error) {
      if (this.state.oldestUnflushedLsn === oldest && this.state.appliedLsn < oldest) {
        this.state.oldestUnflushedLsn = 0n;
      }
      throw error;
    }
  }

  private async maybeFlush(): Promise<void> {
    if (!this.memtableFull(1)) return;
    // A flush waiting to be retried after a storage failure is not frozen over: the next
    // retry takes it, and writes past twice the thresholds are refused meanwhile (write()).
    if (this.pendingFlush) return;
    // Backpressure: at most one flush in flight; a second full memtable waits for it.
    if (this.flushing) await this.flushing;
    if (!this.flushing && !this.pendingFlush) this.flushing = this.runFlush();
  }

  /** The active memtable holds `times` x a flush threshold (rows or bytes) or more. */
  private memtableFull(times: number): boolean {
    const memtable = this.state.memtable;
    return (
      memtable.rowCount >= this.settings.flushRowsMax * times ||
      memtable.byteCount >= this.settings.flushBytesMax * times
    );
  }

  private flushDeps() {
    return {
      blobs: this.settings.blobs,
      manifests: this.manifests,
      slabIdPrefix: this.slabIdPrefix,
      retire: (slabIds: string[]) => this.retire(slabIds),
    };
  }

  private compactionDeps(): CompactionDeps {
    return {
      ...this.flushDeps(),
      withManifestLock: (work) => this.withManifestLock(work),
      checkCommit: () => {
        if (this.pendingFlush !== undefined || this.flushError !== undefined)
          throw commitRefused(this.state.namespace);
      },
      manifestFile: this.manifestFile,
      onStep: (step) => this.logCompaction(step),
      indexRowsMin: this.settings.compaction.indexRowsMin,
      build: this.settings.compactionBuilder,
    };
  }

  private logCompaction(step: CompactionStep): void {
    this.settings.log(
      JSON.stringify({ event: "compaction", step, index: this.index, namespace: this.state.namespace }),
    );
  }

  /**
   * The compactor's `compact`: plans from the current slab table and runs the plan
   * (compaction.ts). One at a time per namespace; none while a flush failed.
   */
  private async compact(idle: boolean): Promise<CompactAnswer> {
    // The compactor asks one namespace at a time; this guards a second caller all the same.
    if (this.compacting) return { done: undefined, more: false };
    if (this.flushError !== undefined || this.pendingFlush !== undefined)
      return { done: undefined, more: false };
    const plan = this.plan(idle || this.isIdle());
    if (plan === undefined) return { done: undefined, more: false };
    this.compacting = true;
    try {
      const done = await compactNamespace(this.state, plan, this.compactionDeps());
      if (done !== undefined) await this.reportCatalog();
      const more = this.plan(idle || this.isIdle()) !== undefined;
      return done === undefined ? { done: undefined, more: false } : { done, more };
    } finally {
      this.compacting = false;
    }
  }

  private armIdleFlush(): void {
    clearTimeout(this.idleFlushTimer);
    this.idleFlushTimer = setTimeout(() => {
      this.idleFlushTimer = undefined;
      void (async () => {
        // A flush the last write started (thresholds) may still run: the idle report must
        // follow it, or a namespace whose last write filled its memtable is never indexed.
        if (this.flushing) await this.flushing;
        if (this.state.dirty && !this.flushing && !this.pendingFlush && !this.flushError) {
          this.flushing = this.runFlush();
          await this.flushing;
        }
        this.reportCompaction(true);
      })();
    }, this.settings.flushIdleMs);
    this.idleFlushTimer.unref?.();
  }

  private isIdle(): boolean {
    return this.context.now() - this.lastWriteMs >= this.settings.flushIdleMs;
  }

  /**
   * The next compaction for the slab table, planned on the rows live in the last committed
   * manifest: only those can be dropped (compaction.ts, step 1), so a slab whose rows died
   * after it waits for the next flush instead of being rewritten again and again.
   */
  private plan(idle: boolean): CompactionPlan | undefined {
    const committed = this.state.committed;
    if (committed === undefined || this.state.slabs.length === 0) return undefined;
    const table: PlanSlab[] = this.state.slabs.map((slab) => {
      const entry = committed.slabs.find((listed) => listed.id === slab.id);
      return {
        id: slab.id,
        level: slab.level,
        rowCount: slab.rowCount,
        liveCount: entry === undefined ? 0 : this.committedLiveCount(entry),
        bytes: slab.bytes,
      };
    });
    return planCompaction(table, idle, this.settings.compaction);
  }

  private committedLiveCount(entry: SlabManifestEntry): number {
    let count = committedLiveCounts.get(entry);
    if (count === undefined) {
      count = countLive(liveFromDeleted(entry.deleted, entry.rowCount, this.manifestFile), entry.rowCount);
      committedLiveCounts.set(entry, count);
    }
    return count;
  }

  /** Tells the compactor when a compaction is due (it asks back with `compact`). */
  reportCompaction(idle = false): void {
    if (this.plan(idle || this.isIdle()) === undefined) return;
    void this.transport
      .request(address("compactor", "local"), "report", { namespace: this.key, idle })
      .catch(() => {});
  }

  /**
   * Deletes slab files that left the slab list, once every read begun before they left has
   * ended (a read may still message their slab actors): their actors are passivated first.
   */
  private retire(slabIds: string[]): void {
    if (slabIds.length === 0) return;
    this.epochs.afterCurrentReads(() => {
      void (async () => {
        for (const id of slabIds) {
          if (packedSlabIdPattern.test(id)) {
            // A run of a shared file: close this namespace's view; the index deletes the file
            // once no catalog entry names it and every namespace that left it said so.
            await this.transport
              .request(address("executor", "local"), "retire", {
                slab: runSlabKey(this.index, id, this.state.namespace),
              })
              .catch(() => {});
            await this.transport
              .request(address("index", this.index), "released", { slabId: id })
              .catch(() => {});
            continue;
          }
          await this.transport
            .request(address("executor", "local"), "retire", { slab: namespaceKey(this.index, id) })
            .catch(() => {});
          await this.settings.blobs.delete(slabKey(this.index, id)).catch(() => {});
        }
      })();
    });
  }

  /** Each live slab, newest first, with how it is searched (the console's namespace view). */
  private async describeSlabs(): Promise<SlabDescription[]> {
    return Promise.all(
      this.state.slabs.map(async (slab) => {
        const searched = slab.packed
          ? { index: "flat" as const, partitions: 0 }
          : await this.transport.request<{ index: "flat" | "ivf"; partitions: number }>(
              slab.address,
              "describe",
              {},
            );
        return {
          id: slab.id,
          level: slab.level,
          rows: slab.rowCount,
          liveRows: slab.liveCount,
          deadRows: slab.rowCount - slab.liveCount,
          bytes: slab.bytes,
          packed: slab.packed === true,
          ...searched,
        };
      }),
    );
  }

  /** Slabs, rows and bytes per level (describeIndexStats' compaction extension). */
  private levelStats(): LevelStats[] {
    const levels = new Map<number, LevelStats>();
    for (const slab of this.state.slabs) {
      const stats = levels.get(slab.level) ?? { level: slab.level, slabs: 0, rows: 0, liveRows: 0, bytes: 0 };
      stats.slabs++;
      stats.rows += slab.rowCount;
      stats.liveRows += slab.liveCount;
      stats.bytes += slab.bytes;
      levels.set(slab.level, stats);
    }
    return [...levels.values()].sort((a, b) => a.level - b.level);
  }

  /** Freezes (unless a failed flush is pending, which is retried instead) and completes a flush. */
  private runFlush(): Promise<void> {
    let pending: PendingFlush | undefined;
    return this.withManifestLock(async () => {
      if (this.pendingFlush === undefined && this.state.dirty && this.mustGraduate()) await this.graduate();
      pending = this.pendingFlush ?? freeze(this.state, this.flushDeps());
      this.pendingFlush = undefined;
      if (pending === undefined) return;
      if (this.packs(pending)) {
        await this.completePackedFlush(pending);
        this.flushRetries = 0;
        await this.reportUnflushed();
        return;
      }
      await completeFlush(this.state, pending, this.flushDeps());
      this.flushRetries = 0;
      // The index learns the new counts before it learns the namespace is clean: its stats
      // trust the catalog only for clean namespaces. If the catalog could not take them, the
      // namespace stays dirty there (stats then ask it; more log kept, never less).
      if (await this.reportCatalog()) await this.reportUnflushed();
      this.reportCompaction();
    })
      .catch((error) => {
        const cause = asNeedleError(error);
        if (pending !== undefined && flushRetryable.has(cause.code)) {
          // Nothing durable changed (flush.ts; a packed flush commits only in the packer's
          // catalog delta): keep the frozen memtable queryable and retry.
          this.pendingFlush = pending;
          this.lastFlushFailure = cause;
          this.scheduleFlushRetry();
          return;
        }
        // Fail-stop: a failed flush leaves the frozen memtable queryable and the log untrimmed.
        // Every later write and the passivation refuse with a fault, so the supervisor restarts
        // the actor from durable state (manifest + log replay) instead of flushing around a
        // memtable that never reached a slab.
        this.flushError =
          cause.kind === "fault"
            ? cause
            : new NeedleError("INTERNAL", `flush of namespace ${this.key} failed: ${cause.message}`, {
                cause,
              });
      })
      .finally(() => {
        this.flushing = undefined;
      });
  }

  /** The namespace's run of a packed slab, if it has one. */
  private packedRun(): SlabEntry | undefined {
    return this.state.slabs.find((slab) => slab.packed === true);
  }

  /** Live rows a packed flush of `pending` would write (run and frozen memtable). */
  private packs(pending: PendingFlush): boolean {
    if (this.settings.packedRowsMax <= 0 || this.state.committed !== undefined) return false;
    let rows = pending.liveRows.length;
    for (const { slab, live } of pending.slabSnapshot) {
      if (slab.packed !== true) return false;
      rows += countLive(live, slab.rowCount);
    }
    return rows <= this.settings.packedRowsMax;
  }

  /**
   * A packed namespace outgrew packing (or packing is off): its next flush is dedicated, so
   * its run must first become a slab of its own.
   */
  private mustGraduate(): boolean {
    const run = this.packedRun();
    if (run === undefined) return false;
    const rows = run.liveCount + this.state.memtable.liveCount;
    return this.settings.packedRowsMax <= 0 || rows > this.settings.packedRowsMax;
  }

  /**
   * Graduation, step 1 (storage/namespaces/DESIGN.md decision 9): the run's live rows are
   * written to a private L0 slab that replaces the run in memory; the flush that follows
   * commits it in the namespace's first manifest, and its catalog update drops the run. A
   * crash before that manifest leaves the slab an orphan and the run in the catalog.
   */
  private async graduate(): Promise<void> {
    const run = this.packedRun()!;
    const rows = liveRowsOf(run.live, run.rowCount);
    if (rows.length === 0) {
      // Every row of the run was overwritten or deleted since it was packed (a resumed bulk
      // import upserts again what it sent before): the run leaves without a slab, since a
      // slab of no rows cannot be written; the flush that follows commits the manifest
      // without it, and its catalog update drops the run.
      await this.state.withSwapLock(async () => {
        this.state.slabs = this.state.slabs.filter((slab) => slab !== run);
        this.state.slabGeneration++;
      });
      this.retire([run.id]);
      return;
    }
    const records = await this.readRun(run.id, rows);
    const slabId = `${this.slabIdPrefix}-${String(this.state.nextSlabSeq++).padStart(8, "0")}`;
    const bytes = await buildSlab(
      jobFromRecords(records, {
        slabId,
        namespace: this.state.namespace,
        level: 0,
        dim: this.state.dim,
        metric: this.state.index.metric,
        minLsn: run.minLsn,
        maxLsn: run.maxLsn,
        sourceSlabs: [],
      }),
    );
    await this.settings.blobs.put(slabKey(this.index, slabId), bytes);
    await this.state.withSwapLock(async () => {
      // Rows killed since they were read stay dead: slab row i is run row rows[i].
      const live = new Uint8Array((rows.length + 7) >> 3);
      let liveCount = 0;
      rows.forEach((row, i) => {
        if ((run.live[row >> 3]! >> (row & 7)) & 1) {
          live[i >> 3]! |= 1 << (i & 7);
          liveCount++;
        }
      });
      this.state.slabs = [
        {
          id: slabId,
          level: 0,
          rowCount: rows.length,
          minLsn: run.minLsn,
          maxLsn: run.maxLsn,
          live,
          liveCount,
          bytes: bytes.byteLength,
          address: address("slab", namespaceKey(this.index, slabId)),
        },
        ...this.state.slabs.filter((slab) => slab !== run),
      ];
      this.state.slabGeneration++;
    });
    this.retire([run.id]);
  }

  /**
   * A packed flush (storage/namespaces/DESIGN.md decision 6): the namespace's whole live
   * contents (its run's live rows and the frozen memtable's) go to the index's packer, which
   * writes them as a new run of a new packed slab and commits the catalog; then the swap.
   */
  private async completePackedFlush(pending: PendingFlush): Promise<void> {
    const { frozen, liveRows, flushedLsn, explicit, slabSnapshot } = pending;
    const state = this.state;
    const run = slabSnapshot.find(({ slab }) => slab.packed === true);
    const records: VectorRecord[] = [];
    /** Per record: whether its source row is still live (asked at the swap). */
    const stillLive: (() => boolean)[] = [];
    if (run !== undefined) {
      const rows = liveRowsOf(run.live, run.slab.rowCount);
      const read = await this.readRun(run.slab.id, rows);
      const slab = run.slab;
      read.forEach((record, i) => {
        records.push(record);
        const row = rows[i]!;
        stillLive.push(() => ((slab.live[row >> 3]! >> (row & 7)) & 1) === 1);
      });
    }
    for (const row of liveRows) {
      records.push(frozen.record(row));
      stillLive.push(() => frozen.isLive(row));
    }
    const answer = await this.settings.packPermits.run(() =>
      this.transport.request<PackAnswer>(address("index", this.index), "pack", {
        namespace: state.namespace,
        records,
        explicit,
        flushedLsn,
        minLsn: frozen.minLsn === 0n ? flushedLsn : frozen.minLsn,
        maxLsn: flushedLsn,
      } satisfies PackRequest),
    );
    state.flushedLsn = flushedLsn;
    await state.withSwapLock(async () => {
      state.frozen = state.frozen.filter((memtable) => memtable !== frozen);
      const slabs = state.slabs.filter((slab) => slab !== run?.slab);
      if (answer.runLength > 0) {
        // The packer wrote the run in id order: row i is the i-th record by id.
        const order = records.map((_, i) => i).sort((a, b) => compareIds(records[a]!.id, records[b]!.id));
        const entry = runEntry(this.index, state.namespace, answer.slabId, answer.runLength, flushedLsn, 0);
        entry.bytes = answer.bytes;
        order.forEach((source, row) => {
          if (!stillLive[source]!()) {
            entry.live[row >> 3]! &= ~(1 << (row & 7));
            entry.liveCount--;
          }
        });
        slabs.unshift(entry);
      }
      state.slabs = slabs;
      state.slabGeneration++;
      const stillDirty = state.appliedLsn > flushedLsn || state.writesInFlight > 0;
      state.oldestUnflushedLsn = stillDirty ? flushedLsn + 1n : 0n;
    });
    if (run !== undefined) this.retire([run.slab.id]);
  }

  /**
   * Rows of this namespace's run of a packed slab, read from the file itself (one shared
   * mapping) rather than through the run's slab actor: a flush must not wait out that actor's
   * restart back-off after a storage failure; a failure here is retried like any flush's.
   */
  private readRun(slabId: string, rows: number[]): Promise<VectorRecord[]> {
    return readRunRecords(this.settings.blobs, this.index, slabId, this.state.namespace, rows);
  }

  private withManifestLock<T>(work: () => Promise<T>): Promise<T> {
    const result = this.manifestLockTail.then(work);
    this.manifestLockTail = result.catch(() => undefined);
    return result;
  }

  private scheduleFlushRetry(): void {
    this.flushRetries++;
    const delayMs = Math.min(flushRetryBackoffCapMs, flushRetryBackoffBaseMs * 2 ** (this.flushRetries - 1));
    clearTimeout(this.flushRetryTimer);
    this.flushRetryTimer = setTimeout(() => {
      this.flushRetryTimer = undefined;
      if (this.pendingFlush && !this.flushing) this.flushing = this.runFlush();
    }, delayMs);
    this.flushRetryTimer.unref?.();
  }

  private async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.flushError) throw this.flushError;
    this.flushing = this.runFlush();
    await this.flushing;
    if (this.flushError) throw this.flushError;
    // A pending flush that failed again: the caller (passivation, shutdown) must know.
    if (this.pendingFlush) throw this.lastFlushFailure;
  }

  /**
   * Sends the committed state's catalog entry (counts, levels) to the index, after a flush or
   * a compaction commit. False when the index could not make it durable.
   */
  private async reportCatalog(): Promise<boolean> {
    const committed = this.state.committed;
    if (committed === undefined) return true;
    const entry = catalogEntryOf(
      committed,
      this.state.committedVersion,
      this.state.index.dimension ?? 0,
      (slab) => this.committedLiveCount(slab),
    );
    try {
      await this.transport.request(address("index", this.index), "cataloged", { entry });
      return true;
    } catch (error) {
      this.settings.log(
        `needle: the catalog of index ${this.index} did not take ${this.key}: ${asNeedleError(error).message}`,
      );
      return false;
    }
  }

  /**
   * After a flush or a replay: what the index holds about this namespace may only be older,
   * which keeps more log than needed, never less, so a lost report is harmless.
   */
  private reportUnflushed(): Promise<unknown> {
    return this.transport
      .request(address("index", this.index), "unflushed", {
        namespace: this.state.namespace,
        oldestLsn: this.state.oldestUnflushedLsn,
        exists: this.state.exists,
      })
      .catch(() => {});
  }

  heldBytes(): number {
    let bytes = 0;
    for (const memtable of this.state.memtables()) bytes += memtable.byteCount;
    return bytes;
  }

  async passivate(): Promise<void> {
    clearTimeout(this.flushRetryTimer);
    clearTimeout(this.idleFlushTimer);
    try {
      await this.flush();
    } finally {
      await this.reportPassivated();
    }
    // Idle now: a namespace that stopped taking writes gets its level 0 merged and indexed.
    this.reportCompaction(true);
  }

  /** After a failure: let a background flush finish before a restart reads the manifest. */
  async stop(): Promise<void> {
    clearTimeout(this.flushRetryTimer);
    clearTimeout(this.idleFlushTimer);
    try {
      await this.flushing;
    } finally {
      await this.reportPassivated();
    }
  }

  /** The index counts resident namespaces (packed compaction moves only idle ones' runs). */
  private reportPassivated(): Promise<void> {
    return this.transport
      .request(address("index", this.index), "passivated", { namespace: this.state.namespace })
      .then(
        () => undefined,
        () => undefined,
      );
  }
}

/** The rows whose bit is set, ascending. */
function liveRowsOf(live: Uint8Array, rowCount: number): number[] {
  const rows: number[] = [];
  for (let row = 0; row < rowCount; row++) if ((live[row >> 3]! >> (row & 7)) & 1) rows.push(row);
  return rows;
}

/** A namespace's run of a packed slab, all rows live (a packed flush writes live rows only). */
function runEntry(
  index: string,
  namespace: string,
  slabId: string,
  runLength: number,
  flushedLsn: bigint,
  rowBytes: number,
): SlabEntry {
  const live = new Uint8Array((runLength + 7) >> 3);
  for (let row = 0; row < runLength; row++) live[row >> 3]! |= 1 << (row & 7);
  return {
    id: slabId,
    level: 0,
    rowCount: runLength,
    minLsn: 0n,
    maxLsn: flushedLsn,
    live,
    liveCount: runLength,
    bytes: runLength * (rowBytes + 64),
    address: address("slab", runSlabKey(index, slabId, namespace)),
    packed: true,
  };
}
