/**
 * The actor system: virtual activation, bounded mailboxes, passivation and supervision.
 *
 * Activation: an address needs no registration. The first message to it builds the actor with
 * its kind's factory (which loads durable state); later messages reuse it.
 *
 * Supervision (numbered steps):
 *   1. A factory that throws, or a receive that throws a fault which may have left the actor's
 *      memory inconsistent (INTERNAL or IO), stops the actor.
 *   2. The next message restarts it from durable state, but not before a backoff of
 *      `restartBackoffBaseMs * 2^(failures-1)`, capped at `restartBackoffCapMs`; messages in the
 *      backoff window fail at once with UNAVAILABLE and a Retry-After hint.
 *   3. After `failuresBeforeEscalation` consecutive failures the system escalates: it reports
 *      to its `onEscalate` handler (the operator's log) and keeps the capped backoff.
 *   4. A message handled without a fault resets the failure count.
 * CORRUPTION from a receive does not restart: the bytes on disk are bad, the actor's memory is
 * not, and a restart would fail the same way; user and retryable errors pass straight through.
 *
 * Passivation: a sweep (every `sweepIntervalMs`, unref'd) passivates actors whose `idleMs` has
 * passed with an empty mailbox; a resident actor is sent its `idleVerb` instead. `passivate(address)`
 * does it on demand (memory budgets).
 *
 * Invariants:
 *   1. At most one live activation per address in this system.
 *   2. An actor being passivated takes no new messages; they wait and then reactivate it.
 */
import { asNeedleError, NeedleError } from "../../storage/errors.ts";
import type { Actor, ActorContext, ActorFactory } from "./actor.ts";
import { type ActorKind, type Address, addressText } from "./address.ts";
import { Mailbox, mailboxDepthMaxDefault } from "./mailbox.ts";
import { InProcessTransport, type Transport } from "./transport.ts";

export const restartBackoffBaseMs = 100;
export const restartBackoffCapMs = 10_000;
export const failuresBeforeEscalation = 5;
const sweepIntervalMs = 1_000;
/**
 * Passivations of one kind run at most this many at a time (shutdown, index deletion), and at
 * most half a mailbox's depth. Each may message other actors (a slab reports "closed" to the
 * executor); thousands at once overflowed those actors' mailboxes and failed the shutdown
 * with OVERLOADED.
 */
// 512, not 64: a shutdown passivates thousands of small namespaces, whose flushes the index
// packs together; 64 at a time made 64-namespace packed files and took 2.4 s for 10,000
// tenants, 512 takes 1.7 s and writes one file per ~400 of them.
export const passivationsConcurrentMax = 512;
/**
 * Passivations an eviction for a kind's cap runs at once: the whole batch up to this many. A
 * dirty namespace's passivation is a flush the index packs with the others in flight; 64 at a
 * time made 64-tenant packed files and cut writes to 100,000 new tenants to 3,800 a second.
 */
export const evictionsConcurrentMax = passivationsConcurrentMax;

export interface ActorSystemOptions {
  mailboxDepthMax?: number;
  /**
   * At most this many active actors of a kind (residency, storage/namespaces/DESIGN.md step
   * 6): past it, the least recently used idle ones are passivated, a batch at a time, in the
   * background. Actors marked `resident` and those with messages are never chosen, so the
   * count may pass the cap by what is busy plus one batch. Absent: no cap.
   */
  activeMax?: Partial<Record<ActorKind, number>>;
  now?: () => number;
  onEscalate?: (address: Address, error: NeedleError, failures: number) => void;
  /**
   * Fault injection for tests: called before each delivery; an error it returns refuses the
   * message as a full mailbox or a lost connection would, a promise delays the delivery until
   * it settles (a slow network). Production code passes none.
   */
  deliveryFault?: (
    target: Address,
    verb: string,
    payload: unknown,
  ) => NeedleError | Promise<void> | undefined;
}

interface Activation {
  address: Address;
  mailbox: Mailbox;
  actor?: Actor;
  activating?: Promise<Actor>;
  passivating?: Promise<void>;
}

/** Durable-state work of failed actors still finishing, per address; restarts wait for it. */
type Stopping = Map<string, Promise<void>>;

interface FailureRecord {
  address: Address;
  failures: number;
  retryAtMs: number;
  lastError: NeedleError;
}

/** One actor kind as the metrics show it (Engine.observe). */
export interface ActorKindObservation {
  kind: ActorKind;
  active: number;
  /** Messages waiting or running in the kind's mailboxes now. */
  mailboxDepth: number;
  /** Since start: actors passivated to keep under the kind's cap. */
  evicted: number;
  /** Since start: messages refused OVERLOADED (a full mailbox). */
  overloaded: number;
  /** Since start: messages delivered to an actor already in memory (cache hits). */
  hits: number;
  /** Since start: activations begun, each loading its state (cache misses). */
  misses: number;
}

export class ActorSystem {
  readonly transport: Transport;
  private readonly factories = new Map<ActorKind, ActorFactory>();
  private readonly activations = new Map<string, Activation>();
  private readonly failures = new Map<string, FailureRecord>();
  private readonly stopping: Stopping = new Map();
  private readonly depthMax: number;
  private readonly now: () => number;
  private readonly onEscalate: NonNullable<ActorSystemOptions["onEscalate"]>;
  private readonly deliveryFault: ActorSystemOptions["deliveryFault"];
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private readonly activeMax: Partial<Record<ActorKind, number>>;
  /** Active actors per kind (kept at activation and passivation: stats read it in O(1)). */
  private readonly activeCounts = new Map<ActorKind, number>();
  /** The eviction running for a kind: resolves with how many it passivated. */
  private readonly evicting = new Map<ActorKind, Promise<number>>();
  /** Actors passivated for a kind's cap since start (stats, tests). */
  private readonly evictedCounts = new Map<ActorKind, number>();
  /** Per kind since start (metrics): messages refused OVERLOADED, found resident, activations begun. */
  private readonly tallies = new Map<ActorKind, { overloaded: number; hits: number; misses: number }>();

  constructor(options: ActorSystemOptions = {}) {
    this.depthMax = options.mailboxDepthMax ?? mailboxDepthMaxDefault;
    this.now = options.now ?? (() => performance.now());
    this.onEscalate = options.onEscalate ?? (() => {});
    this.deliveryFault = options.deliveryFault;
    this.activeMax = options.activeMax ?? {};
    this.transport = new InProcessTransport(this);
    this.sweepTimer = setInterval(() => void this.sweep(), sweepIntervalMs);
    this.sweepTimer.unref?.();
  }

  register(kind: ActorKind, factory: ActorFactory): void {
    this.factories.set(kind, factory);
  }

  /** How many actors are active (for stats and tests), of a kind and with keys starting `keyPrefix`. */
  activeCount(kind?: ActorKind, keyPrefix = ""): number {
    let count = 0;
    for (const activation of this.activations.values()) {
      if (
        activation.actor &&
        (!kind || activation.address.kind === kind) &&
        activation.address.key.startsWith(keyPrefix)
      )
        count++;
    }
    return count;
  }

  private tallyOf(kind: ActorKind): { overloaded: number; hits: number; misses: number } {
    let tally = this.tallies.get(kind);
    if (!tally) {
      tally = { overloaded: 0, hits: 0, misses: 0 };
      this.tallies.set(kind, tally);
    }
    return tally;
  }

  /**
   * What the metrics show of one kind: actors active now, messages waiting or running in
   * their mailboxes, and since start the messages refused OVERLOADED, delivered to a resident
   * actor (a cache hit: nothing loaded) and activations begun (a miss: state loaded from disk).
   */
  observeKind(kind: ActorKind): ActorKindObservation {
    let mailboxDepth = 0;
    for (const activation of this.activations.values())
      if (activation.address.kind === kind) mailboxDepth += activation.mailbox.depth;
    return {
      kind,
      active: this.activeOfKind(kind),
      mailboxDepth,
      evicted: this.evictedOfKind(kind),
      ...this.tallyOf(kind),
    };
  }

  /** Bytes the active actors of a kind with keys starting `keyPrefix` hold in memory (their own estimate). */
  heldBytes(kind: ActorKind, keyPrefix = ""): number {
    let bytes = 0;
    for (const activation of this.activations.values()) {
      const actor = activation.actor;
      if (
        actor?.heldBytes &&
        activation.address.kind === kind &&
        activation.address.key.startsWith(keyPrefix)
      )
        bytes += actor.heldBytes();
    }
    return bytes;
  }

  /** Active actors of a kind, in O(1) (activeCount filters by key prefix too, by a scan). */
  activeOfKind(kind: ActorKind): number {
    return this.activeCounts.get(kind) ?? 0;
  }

  /** Actors of a kind passivated to keep it under its cap since the system started. */
  evictedOfKind(kind: ActorKind): number {
    return this.evictedCounts.get(kind) ?? 0;
  }

  isActive(target: Address): boolean {
    return this.activations.get(addressText(target))?.actor !== undefined;
  }

  /**
   * Passivates up to `count` idle actors of `kind`, least recently used first, skipping
   * resident ones (memory pressure). Returns how many it passivated.
   */
  async passivateLeastRecent(kind: ActorKind, count: number): Promise<number> {
    const idle = [...this.activations.values()]
      .filter((a) => a.address.kind === kind && a.actor !== undefined && !a.actor.resident && a.mailbox.idle)
      .sort((a, b) => a.mailbox.lastActivityMs - b.mailbox.lastActivityMs)
      .slice(0, count);
    let passivated = 0;
    // Many at a time: a dirty namespace's passivation is a flush, which the index packs
    // together with the others' in flight (one at a time made one packed file each).
    for (let start = 0; start < idle.length; start += evictionsConcurrentMax) {
      await Promise.all(
        idle.slice(start, start + evictionsConcurrentMax).map((activation) =>
          this.passivateActivation(activation).then(
            () => passivated++,
            () => {},
          ),
        ),
      );
    }
    return passivated;
  }

  /** Keeps `kind` under its cap: passivates the least recently used, one batch at a time. */
  private evictIfOver(kind: ActorKind): void {
    const max = this.activeMax[kind];
    if (max === undefined || this.evicting.has(kind) || this.closed) return;
    const over = this.activeOfKind(kind) - max;
    if (over <= 0) return;
    // A batch past the cap (an eighth of it), so a scan does not pay one sort per activation.
    const batch = over + Math.ceil(max / 8);
    const evicting = this.passivateLeastRecent(kind, batch).then((passivated) => {
      this.evictedCounts.set(kind, this.evictedOfKind(kind) + passivated);
      this.evicting.delete(kind);
      // Activations that came in meanwhile may have passed the cap again; when nothing was
      // idle to passivate, the next activation tries again (no loop over busy actors).
      if (passivated > 0) this.evictIfOver(kind);
      return passivated;
    });
    this.evicting.set(kind, evicting);
  }

  /**
   * Admission: an activation of a capped kind waits while the kind is a batch past its cap
   * and evictions make progress (writes to thousands of new tenants outrun the flushes that
   * evicting dirty ones takes). When nothing idle is left to evict, it goes ahead: busy
   * actors never wait on one another here.
   */
  private async admit(kind: ActorKind): Promise<void> {
    const max = this.activeMax[kind];
    if (max === undefined) return;
    while (this.activeOfKind(kind) >= max + Math.ceil(max / 8)) {
      this.evictIfOver(kind);
      const evicting = this.evicting.get(kind);
      if (evicting === undefined || (await evicting) === 0) return;
    }
  }

  private countActive(kind: ActorKind, delta: 1 | -1): void {
    this.activeCounts.set(kind, this.activeOfKind(kind) + delta);
    if (delta > 0) this.evictIfOver(kind);
  }

  /** When the actor last received a message; undefined when it is not active. */
  lastActivityMs(target: Address): number | undefined {
    return this.activations.get(addressText(target))?.mailbox.lastActivityMs;
  }

  deliver(target: Address, verb: string, payload: unknown): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(
        new NeedleError("UNAVAILABLE", "Needle is shutting down", { retryAfterSeconds: 1 }),
      );
    }
    const injected = this.deliveryFault?.(target, verb, payload);
    if (injected instanceof Promise) return injected.then(() => this.deliverNow(target, verb, payload));
    if (injected !== undefined) return Promise.reject(injected);
    return this.deliverNow(target, verb, payload);
  }

  private deliverNow(target: Address, verb: string, payload: unknown): Promise<unknown> {
    const key = addressText(target);
    const failure = this.failures.get(key);
    if (failure && failure.retryAtMs > this.now()) {
      const waitSeconds = Math.max(1, Math.ceil((failure.retryAtMs - this.now()) / 1000));
      return Promise.reject(
        failure.lastError.kind === "fault" && failure.lastError.code === "CORRUPTION"
          ? failure.lastError
          : new NeedleError(
              "UNAVAILABLE",
              // The failure's own message may name files: it stays in the cause (server logs).
              `${key} is restarting after a failure (${failure.lastError.code})`,
              {
                retryAfterSeconds: waitSeconds,
                cause: failure.lastError,
              },
            ),
      );
    }
    let activation = this.activations.get(key);
    const tally = this.tallyOf(target.kind);
    if (!activation) {
      activation = { address: target, mailbox: new Mailbox(key, this.depthMax, this.now()) };
      this.activations.set(key, activation);
      tally.misses++;
    }
    const current = activation;
    const use = !current.actor?.bookkeepingVerbs?.has(verb);
    if (current.actor && use) tally.hits++;
    if (current.mailbox.full) tally.overloaded++;
    const exclusive = !current.actor?.concurrentVerbs?.has(verb);
    return current.mailbox.post(
      () => this.handle(current, verb, payload),
      exclusive,
      use ? this.now() : undefined,
    );
  }

  private async handle(activation: Activation, verb: string, payload: unknown): Promise<unknown> {
    const key = addressText(activation.address);
    if (activation.passivating) await activation.passivating;
    let actor: Actor;
    try {
      actor = await this.activate(activation);
    } catch (error) {
      throw this.recordFailure(activation, error);
    }
    try {
      const answer = await actor.receive(verb, payload);
      this.failures.delete(key);
      return answer;
    } catch (error) {
      const needleError = asNeedleError(error);
      if (needleError.code === "INTERNAL" || needleError.code === "IO") {
        throw this.recordFailure(activation, needleError);
      }
      throw needleError;
    }
  }

  private activate(activation: Activation): Promise<Actor> {
    if (activation.actor) return Promise.resolve(activation.actor);
    if (!activation.activating) {
      const factory = this.factories.get(activation.address.kind);
      if (!factory) {
        return Promise.reject(
          new NeedleError("INTERNAL", `no factory for actor kind ${activation.address.kind}`),
        );
      }
      const context: ActorContext = { self: activation.address, transport: this.transport, now: this.now };
      const previous = this.stopping.get(addressText(activation.address)) ?? Promise.resolve();
      activation.activating = previous
        .then(() => this.admit(activation.address.kind))
        .then(() => factory(context))
        .then(
          (actor) => {
            activation.actor = actor;
            activation.activating = undefined;
            this.countActive(activation.address.kind, 1);
            return actor;
          },
          (error) => {
            activation.activating = undefined;
            throw error;
          },
        );
    }
    return activation.activating;
  }

  /** Stops a failed actor and schedules its restart with capped exponential backoff. */
  private recordFailure(activation: Activation, error: unknown): NeedleError {
    const key = addressText(activation.address);
    const needleError = asNeedleError(error);
    const previous = this.failures.get(key);
    const failures = (previous?.failures ?? 0) + 1;
    const backoffMs = Math.min(restartBackoffCapMs, restartBackoffBaseMs * 2 ** (failures - 1));
    this.failures.set(key, {
      address: activation.address,
      failures,
      retryAtMs: this.now() + backoffMs,
      lastError: needleError,
    });
    const failed = activation.actor;
    activation.actor = undefined;
    if (failed !== undefined) this.countActive(activation.address.kind, -1);
    if (failed?.stop) {
      const stopped = failed
        .stop()
        .catch(() => {})
        .finally(() => {
          if (this.stopping.get(key) === stopped) this.stopping.delete(key);
        });
      this.stopping.set(key, stopped);
    }
    if (this.activations.get(key) === activation && activation.mailbox.depth <= 1)
      this.activations.delete(key);
    if (failures >= failuresBeforeEscalation) this.onEscalate(activation.address, needleError, failures);
    return needleError;
  }

  /** Passivates one actor now (memory pressure, tests). No-op if it is not active. */
  async passivate(target: Address): Promise<void> {
    const activation = this.activations.get(addressText(target));
    if (activation) await this.passivateActivation(activation);
  }

  /**
   * Passivates every active actor whose address matches (e.g. all actors of a deleted index),
   * kinds in `order` first, each after its running messages finish; then forgets their failure
   * records so a new actor at the same address starts clean.
   */
  async passivateWhere(matches: (target: Address) => boolean, order: ActorKind[] = []): Promise<void> {
    await this.passivateInOrder(matches, order);
    for (const [key, failure] of [...this.failures]) if (matches(failure.address)) this.failures.delete(key);
  }

  private async passivateInOrder(
    matches: (target: Address) => boolean,
    order: ActorKind[],
  ): Promise<unknown[]> {
    const errors: unknown[] = [];
    const passivateKind = async (kind?: ActorKind) => {
      const targets = [...this.activations.values()].filter(
        (a) => matches(a.address) && (!kind || a.address.kind === kind),
      );
      let next = 0;
      const worker = async () => {
        while (next < targets.length) {
          const a = targets[next++]!;
          await a.mailbox.drained();
          await this.passivateActivation(a).catch((error) => errors.push(error));
        }
      };
      const concurrent = Math.max(1, Math.min(passivationsConcurrentMax, Math.floor(this.depthMax / 2)));
      await Promise.all(Array.from({ length: Math.min(concurrent, targets.length) }, worker));
    };
    for (const kind of order) await passivateKind(kind);
    await passivateKind();
    return errors;
  }

  private async passivateActivation(activation: Activation): Promise<void> {
    if (activation.passivating) return activation.passivating;
    const actor = activation.actor;
    if (!actor) return;
    activation.passivating = (async () => {
      try {
        await actor.passivate?.();
      } finally {
        if (activation.actor === actor) {
          activation.actor = undefined;
          this.countActive(activation.address.kind, -1);
        }
        activation.passivating = undefined;
        const key = addressText(activation.address);
        if (this.activations.get(key) === activation && activation.mailbox.idle) this.activations.delete(key);
      }
    })();
    return activation.passivating;
  }

  private async sweep(): Promise<void> {
    const now = this.now();
    for (const activation of [...this.activations.values()]) {
      const actor = activation.actor;
      if (!actor || actor.idleMs === undefined || !activation.mailbox.idle) continue;
      if (now - activation.mailbox.lastActivityMs < actor.idleMs) continue;
      if (actor.resident) {
        // Through the mailbox, so it runs in turn with the actor's other messages.
        if (actor.idleVerb !== undefined)
          void this.deliver(activation.address, actor.idleVerb, {}).catch(() => {});
        continue;
      }
      await this.passivateActivation(activation).catch(() => {});
    }
  }

  /**
   * Passivates every actor, kinds in the order given first (e.g. namespaces before writers,
   * so flushes can still log), then the rest. Further messages are refused.
   */
  async shutdown(order: ActorKind[] = []): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const errors = await this.passivateInOrder(() => true, order);
    await Promise.all(this.stopping.values());
    this.closed = true;
    if (errors.length > 0) throw asNeedleError(errors[0]);
  }
}
