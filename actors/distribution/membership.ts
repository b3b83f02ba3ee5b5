/**
 * Membership by heartbeats in NATS KV (issue 8 decision 12): a host puts its entry (name,
 * roles, pid) every `heartbeatMs`; the bucket's TTL (`ttlMs`, a few heartbeats) removes the
 * entry of a host that stopped, so `live(role)` lists only hosts heard from lately. Every host
 * reads the same bucket, so hosts agree on the members up to one TTL of skew, and placement
 * (placement.ts) settles once it passes.
 */
import type { KV, NatsConnection } from "nats";
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
    readonly self: MemberEntry,
  ) {}

  /** Opens (creating) the bucket; with `self`, joins and heartbeats until `leave()`. */
  static async open(
    connection: NatsConnection,
    self: MemberEntry,
    options: MembershipOptions = {},
  ): Promise<Membership> {
    const ttl = options.ttlMs ?? memberTtlMsDefault;
    const kv = await connection
      .jetstream()
      .views.kv(options.bucket ?? membersBucket, { ttl, history: 1, replicas: options.replicas ?? 1 });
    const membership = new Membership(kv, self);
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
    // Keys first (awaiting inside the keys() iteration ends it early), each once: a key put
    // again while the listing runs is delivered again.
    const keys = new Set<string>();
    for await (const key of await this.kv.keys()) keys.add(key);
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
