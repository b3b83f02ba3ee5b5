/**
 * Membership by heartbeats in NATS KV (issue 8 decision 12): a host puts its entry (name,
 * roles, pid) every `heartbeatMs`; the bucket's TTL (`ttlMs`, a few heartbeats) removes the
 * entry of a host that stopped, so `live(role)` lists only hosts heard from lately. Every host
 * reads the same bucket, so hosts agree on the members up to one TTL of skew, and placement
 * (placement.ts) settles once it passes.
 */
import type { JetStreamManager, KV, NatsConnection } from "nats";
import { kvKeys } from "../../storage/nats/kv-keys.ts";
import { membersBucket } from "../../storage/nats/names.ts";

export type Role = "gateway" | "namespace" | "executor" | "compactor";
export const roles: readonly Role[] = ["gateway", "namespace", "executor", "compactor"];

export interface MemberEntry {
  name: string;
  roles: Role[];
  pid: number;
}

export interface MembershipOptions {
  heartbeatMs?: number;
  ttlMs?: number;
  /** The bucket (tests use their own). */
  bucket?: string;
  /** Replicas of the bucket if this host creates it: 3 in a three-node cluster. */
  replicas?: number;
}

export const heartbeatMsDefault = 1_000;
export const memberTtlMsDefault = 4_000;

export class Membership {
  private timer: ReturnType<typeof setInterval> | undefined;
  private beats: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly kv: KV,
    private readonly manager: JetStreamManager,
    private readonly bucket: string,
    readonly self: MemberEntry,
  ) {}

  /** Opens (creating) the bucket; with `self`, joins and heartbeats until `leave()`. */
  static async open(
    connection: NatsConnection,
    self: MemberEntry,
    options: MembershipOptions = {},
  ): Promise<Membership> {
    const ttl = options.ttlMs ?? memberTtlMsDefault;
    const bucket = options.bucket ?? membersBucket;
    const kv = await connection
      .jetstream()
      .views.kv(bucket, { ttl, history: 1, replicas: options.replicas ?? 1 });
    const membership = new Membership(kv, await connection.jetstreamManager(), bucket, self);
    await membership.beat();
    membership.timer = setInterval(() => {
      membership.beats = membership.beat().catch(() => undefined);
    }, options.heartbeatMs ?? heartbeatMsDefault);
    return membership;
  }

  private async beat(): Promise<void> {
    await this.kv.put(this.self.name, new TextEncoder().encode(JSON.stringify(this.self)));
  }

  /** Names of the live members with `role`, sorted. */
  async live(role: Role): Promise<string[]> {
    const keys = await kvKeys(this.manager, this.bucket); // not kv.keys(): see kv-keys.ts
    const names: string[] = [];
    for (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry === null || entry.operation !== "PUT") continue;
      const member = JSON.parse(new TextDecoder().decode(entry.value)) as MemberEntry;
      if (member.roles.includes(role)) names.push(member.name);
    }
    return names.sort();
  }

  /** Stops the heartbeat and removes the entry (a crashed host's entry expires instead). */
  async leave(): Promise<void> {
    clearInterval(this.timer);
    await this.beats;
    await this.kv.delete(this.self.name).catch(() => undefined);
  }

  /** Stops the heartbeat without removing the entry, as a crash would (tests). */
  async abandon(): Promise<void> {
    clearInterval(this.timer);
    await this.beats; // a beat in flight would otherwise land after the "crash"
  }
}
