/** What an actor is to the runtime. */
import type { Address } from "./address.ts";
import type { Transport } from "./transport.ts";

export interface Actor {
  /** Handles one message. Exclusive verbs run one at a time; see `concurrentVerbs`. */
  receive(verb: string, payload: unknown): Promise<unknown>;
  /** Verbs that may run while other messages are in flight (reads, pipelined writes). */
  readonly concurrentVerbs?: ReadonlySet<string>;
  /**
   * Verbs the runtime's own bookkeeping sends (the executor's `demote`): they are not use, so
   * they leave the actor's least-recently-used rank and idle time as they were.
   */
  readonly bookkeepingVerbs?: ReadonlySet<string>;
  /** Milliseconds without messages after which the runtime passivates the actor; absent = never. */
  readonly idleMs?: number;
  /**
   * A resident actor is never passivated for being idle (Dedicated read capacity); after
   * `idleMs` the runtime sends it `idleVerb` instead, if it has one (a namespace flushes).
   */
  readonly resident?: boolean;
  readonly idleVerb?: string;
  /**
   * Called before the runtime drops the actor (idle passivation, memory pressure, shutdown).
   * It must leave durable state complete: the next activation starts from it.
   */
  passivate?(): Promise<void>;
  /** Bytes this actor holds in memory now, by its own estimate (a namespace: its memtables); for metrics. */
  heldBytes?(): number;
  /**
   * Called when the runtime drops the actor after a failure, without persisting anything. The
   * next activation waits for it, so work still running (a background flush) never overlaps
   * the restarted actor.
   */
  stop?(): Promise<void>;
}

export interface ActorContext {
  readonly self: Address;
  readonly transport: Transport;
  /** Milliseconds since an arbitrary epoch; injected so tests can drive time. */
  now(): number;
}

/** Builds an actor from durable state on its first message (virtual activation). */
export type ActorFactory = (context: ActorContext) => Promise<Actor>;
