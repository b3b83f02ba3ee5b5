/**
 * Read replicas on executors (actors/distribution/DESIGN.md decision 16): this host holds the
 * indexes that place it among their `replicas` executors, each restored from the index's
 * latest checkpoint into a local engine that takes no writes (a StaticLog at the
 * checkpoint's LSN), and answers eventual reads on `needle.replica.<index>.<method>` in the
 * queue group `replica.<index>`: any replica answers, and a dead one's share goes to the
 * others at once. Each tick swaps in a newer checkpoint (the old copy answers until the new
 * one is ready) and drops what placement moved away.
 */
import type { NatsConnection, Subscription } from "nats";
import { staticLogs } from "../../storage/log/static-log.ts";
import type { Engine, EngineOptions } from "../api.ts";
import { openEngine } from "../engine.ts";
import { address, addressSubjects } from "../runtime/address.ts";
import type { CheckpointRecord, Checkpoints } from "./checkpoints.ts";
import type { ClusterCatalog, ClusterIndex } from "./cluster-catalog.ts";
import { callEngine, decodeEngineRequest, respondTo } from "./engine-requests.ts";
import { localCreateRequest } from "./index-owner.ts";
import type { Membership } from "./membership.ts";
import { place } from "./placement.ts";

export const replicasDefault = 2;

/** What a replica answers: reads only. */
export const replicaVerbs = [
  "query",
  "fetch",
  "fetchByMetadata",
  "list",
  "describeIndexStats",
  "listNamespaces",
  "describeNamespace",
] as const;

export interface IndexReplicasOptions {
  connection: NatsConnection;
  membership: Membership;
  catalog: ClusterCatalog;
  checkpoints: Checkpoints;
  /** The local working directory of the replicas. */
  dir: string;
  /** Executors holding each index (default 2). */
  replicas?: number;
  tickMs?: number;
  engine?: Partial<EngineOptions>;
  log?: (line: string) => void;
}

interface Held {
  incarnation: string;
  lsn: bigint;
  /** The name of the index in the local engine: one per loaded checkpoint. */
  local: string;
  subscription: Subscription;
  inFlight: Set<Promise<void>>;
}

export class IndexReplicas {
  private readonly held = new Map<string, Held>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  private loads = 0;

  private constructor(
    private readonly options: IndexReplicasOptions,
    private readonly engine: Engine,
    /** Local index name -> the LSN its static log stands at. */
    private readonly lsns: Map<string, bigint>,
  ) {}

  static async start(options: IndexReplicasOptions): Promise<IndexReplicas> {
    const lsns = new Map<string, bigint>();
    const engine = await openEngine({
      ...options.engine,
      dir: options.dir,
      log: options.log,
      logs: staticLogs((local) => lsns.get(local) ?? 0n),
    });
    for (const index of await engine.listIndexes()) await engine.deleteIndex(index.name).catch(() => {});
    const replicas = new IndexReplicas(options, engine, lsns);
    replicas.timer = setInterval(() => void replicas.tick(), options.tickMs ?? 1_000);
    await replicas.tick();
    return replicas;
  }

  /** Index name -> the checkpoint LSN this host serves it at. */
  heldIndexes(): Map<string, bigint> {
    return new Map([...this.held].map(([name, held]) => [name, held.lsn]));
  }

  tick(): Promise<void> {
    this.ticking ??= this.tickNow().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async tickNow(): Promise<void> {
    if (this.closed) return;
    const self = this.options.membership.self.name;
    let executors: string[];
    let indexes: ClusterIndex[];
    try {
      executors = await this.options.membership.live("executor");
      indexes = await this.options.catalog.list();
    } catch (error) {
      this.options.log?.(`needle: replicas skipped a tick: ${(error as Error).message}`);
      return;
    }
    const count = this.options.replicas ?? replicasDefault;
    const wanted = indexes.filter((index) => place(index.config.name, executors, count).includes(self));
    for (const name of [...this.held.keys()]) {
      const keep = wanted.find((index) => index.config.name === name);
      if (keep === undefined || keep.incarnation !== this.held.get(name)!.incarnation)
        await this.unload(name, "placement moved it or it was deleted");
    }
    for (const index of wanted) {
      try {
        const checkpoint = await this.options.checkpoints.latest(index.config.name, index.incarnation);
        if (checkpoint === undefined) continue; // nothing to serve yet: reads go to the owner
        const held = this.held.get(index.config.name);
        if (held !== undefined && held.lsn >= BigInt(checkpoint.lsn)) continue;
        await this.load(index, checkpoint);
      } catch (error) {
        this.options.log?.(`needle: replica of ${index.config.name} not loaded: ${(error as Error).message}`);
      }
    }
  }

  /** Restores `checkpoint` as a new local index, then switches the subscription to it. */
  private async load(index: ClusterIndex, checkpoint: CheckpointRecord): Promise<void> {
    const name = index.config.name;
    // Each loaded checkpoint is its own local index, so the previous one answers meanwhile.
    const local = `replica-${++this.loads}`;
    const lsn = BigInt(checkpoint.lsn);
    this.lsns.set(local, lsn);
    await this.engine.createIndex(localCreateRequest({ ...index.config, name: local }));
    await this.engine.quiesceIndex(local, (dir) =>
      this.options.checkpoints.restore(checkpoint, dir, `replica/${name}`),
    );
    await this.engine.describeIndexStats(local); // opens it before the first request
    const previous = this.held.get(name);
    const inFlight = new Set<Promise<void>>();
    const subscription = this.options.connection.subscribe(addressSubjects(address("replica", name)), {
      queue: `replica.${name}`,
      callback: (error, msg) => {
        if (error !== null) return;
        const answered = respondTo(msg, async () => {
          const { verb, args } = decodeEngineRequest(msg, replicaVerbs, "a replica");
          return callEngine(this.engine, verb, local, args);
        });
        inFlight.add(answered);
        void answered.finally(() => inFlight.delete(answered));
      },
    });
    this.held.set(name, { incarnation: index.incarnation, lsn, local, subscription, inFlight });
    this.options.log?.(`needle: replica of index ${name} at LSN ${lsn}`);
    if (previous !== undefined) await this.retire(previous);
  }

  private async unload(name: string, why: string): Promise<void> {
    const held = this.held.get(name);
    if (held === undefined) return;
    this.held.delete(name);
    await this.retire(held);
    this.options.log?.(`needle: dropped replica of index ${name}: ${why}`);
  }

  private async retire(held: Held): Promise<void> {
    held.subscription.unsubscribe();
    await Promise.allSettled([...held.inFlight]);
    await this.engine.deleteIndex(held.local).catch(() => {});
    this.lsns.delete(held.local);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.ticking;
    for (const name of [...this.held.keys()]) await this.unload(name, "the host is stopping");
    await this.engine.close();
  }
}
