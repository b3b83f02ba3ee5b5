/**
 * The `namespace` role in cluster v1 (actors/distribution/DESIGN.md decisions 10-15): this
 * host owns the indexes that rank it first among the live namespace hosts, runs them in its
 * embedded engine (a local working directory; each index's log on its JetStream stream, which
 * the engine never trims itself), and answers their data operations on
 * `needle.owner.<index>.<method>`.
 *
 * Each tick (a heartbeat):
 *   - an index it ranks first for and does not own: take its lease (create-if-absent; while
 *     an old owner's lease lives, the next tick tries again), create it afresh in the local
 *     engine (whatever the directory held of an earlier ownership is removed), restore its
 *     latest checkpoint, let it replay the stream after it, then subscribe;
 *   - an index it owns but no longer ranks first for: checkpoint it, unsubscribe, finish
 *     what is in flight, drop it locally, release the lease; one that left the catalog: the
 *     same without the checkpoint, and its checkpoint removed;
 *   - an index whose stream grew `checkpointEveryRecords` past its checkpoint: a checkpoint,
 *     then the stream purged through it (decision 15);
 *   - a lease that lapsed: drop at once (fail-stop). Each request also checks the lease
 *     before it runs: a host that lost it stays silent (the owner's answer is the one the
 *     caller gets) and drops the index, never answering from stale state.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { JetStreamManager, KV, Msg, NatsConnection, Subscription } from "nats";
import { NeedleError } from "../../storage/errors.ts";
import { jetStreamLogs } from "../../storage/log/jetstream-logs.ts";
import { snapshotTree } from "../../storage/snapshot.ts";
import { indexLeaseKey, leasesBucket, logStreamName } from "../../storage/nats/names.ts";
import type { CreateIndexRequest, Engine, EngineOptions, IndexConfig } from "../api.ts";
import { openEngine } from "../engine.ts";
import { isSlabFile } from "../layout.ts";
import { address, addressSubjects, subjectOf } from "../runtime/address.ts";
import type { Checkpoints } from "./checkpoints.ts";
import type { ClusterCatalog, ClusterIndex } from "./cluster-catalog.ts";
import { callEngine, decodeEngineRequest, respondTo } from "./engine-requests.ts";
import { Lease } from "./lease.ts";
import type { Membership } from "./membership.ts";
import { ownerOf } from "./placement.ts";

export const leaseTtlMsDefault = 10_000;

/** The Engine methods an owner answers for its index (first argument: the index name). */
export const ownerVerbs = [
  "upsert",
  "query",
  "fetch",
  "fetchByMetadata",
  "update",
  "delete",
  "list",
  "describeIndexStats",
  "listNamespaces",
  "describeNamespace",
  "createNamespace",
  "deleteNamespace",
  "waitForLsn",
] as const;
export type OwnerVerb = (typeof ownerVerbs)[number];

export interface IndexOwnerOptions {
  connection: NatsConnection;
  membership: Membership;
  catalog: ClusterCatalog;
  /** The local working directory (slabs, manifests of the owned indexes). */
  dir: string;
  /** Replicas of the log streams and the leases bucket this host creates (1 or 3). */
  replicas?: number;
  leaseTtlMs?: number;
  /** How often placement is looked at (default: the membership heartbeat, 1 s). */
  tickMs?: number;
  engine?: Partial<EngineOptions>;
  /** Where checkpoints go (decision 15); without it, streams are never trimmed (v1). */
  checkpoints?: Checkpoints;
  /** A checkpoint is taken once the stream holds this many records after the last one. */
  checkpointEveryRecords?: number;
  log?: (line: string) => void;
}

export const checkpointEveryRecordsDefault = 50_000;

interface Owned {
  incarnation: string;
  lease: Lease;
  subscription: Subscription;
  /** Every request taken, answered or not. */
  inFlight: Set<Promise<void>>;
  /** Requests past the gate, running on the engine. */
  executing: Set<Promise<unknown>>;
  /** Set while a checkpoint quiesces and snapshots: requests wait before they touch the engine. */
  gate: Promise<void> | undefined;
  /** The checkpoint running (quiesce, snapshot, upload, purge), if any. */
  checkpointing: Promise<bigint> | undefined;
  /** The LSN of the latest checkpoint (0 before the first). */
  checkpointLsn: bigint;
}

export class IndexOwner {
  private readonly owned = new Map<string, Owned>();
  private readonly busy = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private observing: Subscription | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly options: IndexOwnerOptions,
    private readonly engine: Engine,
    private readonly leases: KV,
    private readonly manager: JetStreamManager,
    /** Index name -> the incarnation owned, naming its stream for the local engine's writer. */
    private readonly incarnations: Map<string, string>,
  ) {}

  static async start(options: IndexOwnerOptions): Promise<IndexOwner> {
    const ttl = options.leaseTtlMs ?? leaseTtlMsDefault;
    const leases = await options.connection
      .jetstream()
      .views.kv(leasesBucket, { ttl, history: 1, replicas: options.replicas ?? 1 });
    const incarnations = new Map<string, string>();
    const engine = await openEngine({
      ...options.engine,
      dir: options.dir,
      log: options.log,
      logs: jetStreamLogs(options.connection, {
        replicas: options.replicas,
        retain: true,
        incarnationOf: (index) => incarnations.get(index),
      }),
    });
    // Whatever the directory holds is from an earlier life of this host: never trusted.
    for (const index of await engine.listIndexes()) await engine.deleteIndex(index.name).catch(() => {});
    const manager = await options.connection.jetstreamManager();
    const owner = new IndexOwner(options, engine, leases, manager, incarnations);
    // A cluster gateway's /metrics asks every owner host for its engine's state at once.
    owner.observing = options.connection.subscribe(subjectOf(address("member", "all"), "observe"), {
      callback: (error, msg) => {
        if (error === null) void respondTo(msg, () => engine.observe());
      },
    });
    owner.timer = setInterval(() => void owner.tick(), options.tickMs ?? 1_000);
    await owner.tick();
    return owner;
  }

  /** The indexes this host answers for now. */
  ownedIndexes(): string[] {
    return [...this.owned.keys()].sort();
  }

  /** One look at placement (the timer calls it; tests may too). */
  tick(): Promise<void> {
    this.ticking ??= this.tickNow().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async tickNow(): Promise<void> {
    if (this.closed) return;
    // Fail-stop first: it must not wait for NATS to answer the lookups below.
    for (const [name, owned] of this.owned)
      if (!owned.lease.holds()) await this.drop(name, "its lease lapsed");
    const self = this.options.membership.self.name;
    let members: string[];
    let indexes: ClusterIndex[];
    try {
      members = await this.options.membership.live("namespace");
      indexes = await this.options.catalog.list();
    } catch (error) {
      this.options.log?.(`needle: placement skipped a tick: ${(error as Error).message}`);
      return;
    }
    const wanted = new Map<string, ClusterIndex>();
    for (const index of indexes)
      if (ownerOf(index.config.name, members) === self) wanted.set(index.config.name, index);
    const existing = new Map(indexes.map((index) => [index.config.name, index.incarnation]));
    for (const [name, owned] of this.owned) {
      const keep = wanted.get(name);
      if (keep !== undefined && keep.incarnation === owned.incarnation) continue;
      if (existing.get(name) === owned.incarnation) {
        await this.drop(name, "placement moved it to another host", true);
      } else {
        await this.drop(name, "it was deleted");
        await this.options.checkpoints?.remove(name).catch(() => {});
      }
    }
    await this.checkpointWhereDue();
    for (const [name, index] of wanted) {
      if (!this.owned.has(name) && !this.busy.has(name)) await this.claim(index);
    }
  }

  private async claim(index: ClusterIndex): Promise<void> {
    const name = index.config.name;
    this.busy.add(name);
    try {
      const lease = await Lease.acquire(this.leases, indexLeaseKey(name), this.options.membership.self.name, {
        ttlMs: this.options.leaseTtlMs ?? leaseTtlMsDefault,
        onLost: (why) => {
          this.options.log?.(`needle: lost index ${name}: ${why}`);
          void this.drop(name, why);
        },
      });
      if (lease === undefined) return; // an earlier owner's lease still lives: next tick
      try {
        this.incarnations.set(name, index.incarnation);
        await this.engine.createIndex(localCreateRequest(index.config));
        // The latest checkpoint first (decision 15), then the stream after it.
        const checkpoint = await this.options.checkpoints?.latest(name, index.incarnation);
        if (checkpoint !== undefined) {
          this.options.log?.(
            `needle: taking index ${name}: restoring its checkpoint at LSN ${checkpoint.lsn}`,
          );
          await this.engine.quiesceIndex(name, (dir) =>
            this.options.checkpoints!.restore(checkpoint, dir, `owner/${name}`),
          );
        }
        this.options.log?.(`needle: taking index ${name}: replaying its stream`);
        // Replays the stream (after the checkpoint) before the first request is taken.
        await this.engine.describeIndexStats(name);
        if (!lease.holds()) throw new NeedleError("UNAVAILABLE", `lease of ${name} lapsed while it replayed`);
        const owned: Owned = {
          incarnation: index.incarnation,
          lease,
          subscription: undefined as unknown as Subscription,
          inFlight: new Set(),
          executing: new Set(),
          gate: undefined,
          checkpointing: undefined,
          checkpointLsn: checkpoint === undefined ? 0n : BigInt(checkpoint.lsn),
        };
        owned.subscription = this.options.connection.subscribe(addressSubjects(address("owner", name)), {
          callback: (error, msg) => {
            if (error === null) this.answer(name, owned, msg);
          },
        });
        this.owned.set(name, owned);
        this.options.log?.(
          `needle: owns index ${name}${checkpoint === undefined ? "" : ` (from its checkpoint at LSN ${checkpoint.lsn})`}`,
        );
      } catch (error) {
        await this.engine.deleteIndex(name).catch(() => {});
        this.incarnations.delete(name);
        await lease.release();
        this.options.log?.(`needle: could not take index ${name}: ${(error as Error).message}`);
      }
    } finally {
      this.busy.delete(name);
    }
  }

  private answer(name: string, owned: Owned, msg: Msg): void {
    const { lease, inFlight } = owned;
    if (!lease.holds()) {
      // Not ours any more (a host thawed after its lease lapsed): stay silent, so the
      // request's answer comes from the owner now, and stop listening at once.
      void this.drop(name, "its lease lapsed");
      return;
    }
    const answered = respondTo(msg, async () => {
      const { verb, args } = decodeEngineRequest(msg, ownerVerbs, "an index owner");
      while (owned.gate !== undefined) await owned.gate;
      const running = callEngine(this.engine, verb, name, args);
      owned.executing.add(running);
      try {
        return await running;
      } finally {
        owned.executing.delete(running);
      }
    });
    inFlight.add(answered);
    void answered.finally(() => inFlight.delete(answered));
  }

  private async drop(name: string, why: string, handOver = false): Promise<void> {
    const owned = this.owned.get(name);
    if (owned === undefined) return;
    // Handing over while still the owner: a checkpoint first, so the successor starts from it.
    if (handOver && owned.lease.holds()) {
      this.options.log?.(`needle: handing over index ${name}: checkpoint`);
      await this.checkpoint(name).catch((error) => {
        this.options.log?.(`needle: handover checkpoint of ${name} failed: ${(error as Error).message}`);
      });
    }
    if (this.owned.get(name) !== owned) return;
    this.owned.delete(name);
    owned.subscription.unsubscribe();
    await Promise.allSettled([...owned.inFlight]);
    await this.engine.deleteIndex(name).catch(() => {});
    this.incarnations.delete(name);
    await owned.lease.release();
    this.options.log?.(`needle: dropped index ${name}: ${why}`);
  }

  /**
   * A checkpoint of an owned index now (decision 15): requests wait at the gate, the ones
   * running finish, the index is quiesced and its directory snapshotted locally at the
   * stream's last LSN (slabs hard-linked, the small files copied: milliseconds), and the gate
   * opens. Then, while requests run again, the snapshot uploads (only files that changed:
   * checkpoints.ts), is recorded, and the stream is purged through its LSN. Checkpoints of
   * one index run one at a time. Answers the checkpoint's LSN.
   */
  async checkpoint(name: string): Promise<bigint> {
    const owned = this.owned.get(name);
    const checkpoints = this.options.checkpoints;
    if (owned === undefined || checkpoints === undefined) {
      throw new NeedleError(
        "FAILED_PRECONDITION",
        `this host does not own index ${name} or keeps no checkpoints`,
      );
    }
    while (owned.checkpointing !== undefined) await owned.checkpointing.catch(() => {});
    const running = this.checkpointNow(name, owned, checkpoints);
    owned.checkpointing = running;
    try {
      return await running;
    } finally {
      owned.checkpointing = undefined;
    }
  }

  private async checkpointNow(name: string, owned: Owned, checkpoints: Checkpoints): Promise<bigint> {
    const stream = logStreamName(name, owned.incarnation);
    const manager = this.manager;
    const snapshot = join(this.options.dir, `.checkpoint-${name}`);
    await rm(snapshot, { recursive: true, force: true });
    try {
      while (owned.gate !== undefined) await owned.gate;
      let open!: () => void;
      owned.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      let lsn: bigint;
      try {
        await Promise.allSettled([...owned.executing]);
        lsn = await this.engine.quiesceIndex(name, async (dir) => {
          const last = BigInt((await manager.streams.info(stream)).state.last_seq);
          await snapshotTree(dir, snapshot, isSlabFile);
          return last;
        });
      } finally {
        owned.gate = undefined;
        open();
      }
      if (!owned.lease.holds()) throw new NeedleError("UNAVAILABLE", `lease of ${name} lapsed`);
      await checkpoints.save(name, owned.incarnation, lsn, snapshot);
      // Everything through `lsn` is in the checkpoint now: the stream need not keep it.
      if (!owned.lease.holds()) throw new NeedleError("UNAVAILABLE", `lease of ${name} lapsed`);
      await manager.streams.purge(stream, { seq: Number(lsn + 1n) });
      owned.checkpointLsn = lsn;
      this.options.log?.(`needle: checkpoint of index ${name} at LSN ${lsn}`);
      return lsn;
    } finally {
      await rm(snapshot, { recursive: true, force: true });
    }
  }

  private async checkpointWhereDue(): Promise<void> {
    if (this.options.checkpoints === undefined) return;
    const every = BigInt(this.options.checkpointEveryRecords ?? checkpointEveryRecordsDefault);
    for (const [name, owned] of this.owned) {
      try {
        const manager = await this.options.connection.jetstreamManager();
        const last = BigInt(
          (await manager.streams.info(logStreamName(name, owned.incarnation))).state.last_seq,
        );
        if (last - owned.checkpointLsn >= every) await this.checkpoint(name);
      } catch (error) {
        this.options.log?.(`needle: checkpoint of index ${name} failed: ${(error as Error).message}`);
      }
    }
  }

  /** Hands every index back (leases released, so successors need not wait) and closes. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.observing?.unsubscribe();
    this.options.log?.("needle: owner closing: waiting for the tick");
    await this.ticking;
    this.options.log?.("needle: owner closing: handing indexes over");
    for (const name of [...this.owned.keys()]) await this.drop(name, "the host is stopping", true);
    await this.engine.close();
  }
}

/** A local copy's create request: deletion protection is the catalog's business, not the copy's. */
export function localCreateRequest(config: IndexConfig): CreateIndexRequest {
  return {
    name: config.name,
    dimension: config.dimension,
    metric: config.metric,
    vectorType: config.vectorType,
    deletionProtection: "disabled",
    tags: config.tags,
    deployment: config.deployment,
    readCapacity: config.readCapacity,
    metadataIndexed: config.metadataIndexed,
  };
}
