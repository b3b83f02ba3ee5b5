/**
 * The cluster's indexes in NATS KV (issue 8 decision 11): key = index name, value = its
 * IndexConfig and incarnation (a nuid naming this creation's log stream) as JSON. Create is KV create (compare-and-set on "absent"), so of two gateways
 * creating one name exactly one succeeds and the other answers ALREADY_EXISTS; configure and
 * delete are compare-and-set on the revision they read, retried when another change came
 * between (each retry re-applies the change to what is there now).
 */
import type { JetStreamManager, KV, NatsConnection } from "nats";
import { NeedleError } from "../../storage/errors.ts";
import { kvKeys } from "../../storage/nats/kv-keys.ts";
import { catalogBucket } from "../../storage/nats/names.ts";
import type { IndexConfig } from "../api.ts";

const casAttemptsMax = 20;

export interface ClusterIndex {
  config: IndexConfig;
  /** Names the index's log stream; a new one at every create of the name. */
  incarnation: string;
}
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ClusterCatalog {
  private constructor(
    private readonly kv: KV,
    private readonly manager: JetStreamManager,
    private readonly bucket: string,
  ) {}

  static async open(
    connection: NatsConnection,
    options: { bucket?: string; replicas?: number } = {},
  ): Promise<ClusterCatalog> {
    const kv = await connection
      .jetstream()
      .views.kv(options.bucket ?? catalogBucket, { history: 1, replicas: options.replicas ?? 1 });
    return new ClusterCatalog(kv, await connection.jetstreamManager(), options.bucket ?? catalogBucket);
  }

  async get(name: string): Promise<ClusterIndex | undefined> {
    return (await this.read(name))?.index;
  }

  /** The index, or NOT_FOUND as the engine answers it. */
  async require(name: string): Promise<ClusterIndex> {
    const index = await this.get(name);
    if (index === undefined) throw notFound(name);
    return index;
  }

  async list(): Promise<ClusterIndex[]> {
    const keys = await kvKeys(this.manager, this.bucket); // not kv.keys(): see kv-keys.ts
    const indexes: ClusterIndex[] = [];
    for (const key of keys) {
      const index = await this.get(key);
      if (index !== undefined) indexes.push(index);
    }
    return indexes;
  }

  async create(index: ClusterIndex): Promise<void> {
    const config = index.config;
    try {
      await this.kv.create(config.name, encoder.encode(JSON.stringify(index)));
    } catch (error) {
      if ((await this.get(config.name)) === undefined) throw error;
      throw new NeedleError("ALREADY_EXISTS", `Resource ${config.name} already exists`, {
        field: "name",
        received: config.name,
      });
    }
  }

  /** Applies `change` to the current configuration by compare-and-set; answers the result. */
  async update(name: string, change: (current: IndexConfig) => IndexConfig): Promise<IndexConfig> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(name);
      if (current === undefined) throw notFound(name);
      const next = change(current.index.config);
      try {
        await this.kv.update(
          name,
          encoder.encode(JSON.stringify({ ...current.index, config: next })),
          current.revision,
        );
        return next;
      } catch (error) {
        if (attempt >= casAttemptsMax) throw error;
      }
    }
  }

  /** Removes the index after `check` accepted its configuration, by compare-and-set; answers it. */
  async delete(name: string, check: (current: IndexConfig) => void): Promise<ClusterIndex> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(name);
      if (current === undefined) throw notFound(name);
      check(current.index.config);
      try {
        await this.kv.delete(name, { previousSeq: current.revision });
        return current.index;
      } catch (error) {
        if (attempt >= casAttemptsMax) throw error;
      }
    }
  }

  private async read(name: string): Promise<{ index: ClusterIndex; revision: number } | undefined> {
    const entry = await this.kv.get(name);
    if (entry === null || entry.operation !== "PUT") return undefined;
    return { index: JSON.parse(decoder.decode(entry.value)) as ClusterIndex, revision: entry.revision };
  }
}

export function notFound(name: string): NeedleError {
  return new NeedleError("NOT_FOUND", `Resource ${name} not found`, { field: "name", received: name });
}
