/**
 * The compactor (`compactor/local`): schedules this process's compactions
 * (storage/compaction/DESIGN.md, decision 2). Namespaces report when a plan is due; the
 * compactor asks them back, one at a time (two cores: one stays free for queries), with
 * `compact`, which plans from the namespace's current slab table and runs the merge
 * (actors/namespace/compaction.ts). A namespace that has more to do is queued again.
 *
 * Failures: retryable ones (a failing volume, a pending flush, a full mailbox) are retried
 * with backoff (1 s doubling to 60 s, per namespace); others are recorded as `lastError` and
 * the namespace is not asked again until it reports anew (its slab table changed). A deleted
 * index's namespaces answer NOT_FOUND, which is dropped silently.
 *
 * `pause` stops asking (the running compaction finishes); `resume` goes on with the queue.
 * Passivation (engine shutdown) pauses and waits for the running compaction.
 */
import { asNeedleError, type NeedleError } from "../../storage/errors.ts";
import type { CompactionStatus } from "../api.ts";
import type { CompactAnswer } from "../namespace/namespace-actor.ts";
import { splitKey } from "../layout.ts";
import { type Actor, type ActorContext, address } from "../runtime/mod.ts";

export const compactionRetryBaseMs = 1_000;
export const compactionRetryCapMs = 60_000;

export interface CompactorSettings {
  /** False once the engine closes: reports are ignored, nothing new starts. */
  accepting(): boolean;
  /** Start paused (EngineOptions.compaction.paused). */
  paused: boolean;
  /** Whether the index is still in the catalog (a deleted one's namespaces answer NOT_FOUND). */
  indexExists(index: string): boolean;
  log(line: string): void;
}

interface Queued {
  idle: boolean;
  notBeforeMs: number;
  failures: number;
}

export function compactorFactory(settings: CompactorSettings) {
  return async (context: ActorContext): Promise<Actor> => new CompactorActor(context, settings);
}

class CompactorActor implements Actor {
  readonly concurrentVerbs = new Set(["report", "pause", "resume", "status", "settled"]);
  private paused: boolean;
  private readonly queue = new Map<string, Queued>();
  private running: string | null = null;
  private loop: Promise<void> | undefined;
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private completed = 0;
  private lastDurationMs: number | null = null;
  /** The last completed compaction's duration per index (metrics). */
  private readonly lastDurationMsByIndex = new Map<string, number>();
  private lastError: CompactionStatus["lastError"] = null;
  private settledWaiters: (() => void)[] = [];

  constructor(
    private readonly context: ActorContext,
    private readonly settings: CompactorSettings,
  ) {
    this.paused = settings.paused;
  }

  async receive(verb: string, payload: unknown): Promise<unknown> {
    switch (verb) {
      case "report": {
        const { namespace, idle } = payload as { namespace: string; idle: boolean };
        if (!this.settings.accepting()) return undefined;
        const queued = this.queue.get(namespace);
        if (queued) queued.idle ||= idle;
        else this.queue.set(namespace, { idle, notBeforeMs: 0, failures: 0 });
        this.kick();
        return undefined;
      }
      case "pause":
        this.paused = true;
        return this.status();
      case "resume":
        this.paused = false;
        this.kick();
        return this.status();
      case "status":
        return this.status();
      case "settled":
        // Until nothing is running and nothing is queued (or the compactor is paused).
        if (!this.isSettled()) await new Promise<void>((resolve) => this.settledWaiters.push(resolve));
        return this.status();
      default:
        return undefined;
    }
  }

  async passivate(): Promise<void> {
    this.paused = true;
    clearTimeout(this.wakeTimer);
    await this.loop;
  }

  private status(): CompactionStatus {
    return {
      paused: this.paused,
      running: this.running,
      queued: [...this.queue.keys()],
      completed: this.completed,
      lastDurationMs: this.lastDurationMs,
      lastDurationMsByIndex: Object.fromEntries(this.lastDurationMsByIndex),
      lastError: this.lastError,
    };
  }

  private isSettled(): boolean {
    return this.running === null && (this.paused || this.queue.size === 0);
  }

  private notifySettled(): void {
    if (!this.isSettled()) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private kick(): void {
    if (this.loop || this.paused) {
      this.notifySettled();
      return;
    }
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      this.notifySettled();
    });
  }

  private async run(): Promise<void> {
    while (!this.paused && this.settings.accepting()) {
      const now = this.context.now();
      const next = [...this.queue].find(([, queued]) => queued.notBeforeMs <= now);
      if (next === undefined) {
        this.wakeLater();
        return;
      }
      const [namespace, queued] = next;
      this.queue.delete(namespace);
      this.running = namespace;
      const started = this.context.now();
      try {
        const answer = await this.context.transport.request<CompactAnswer>(
          address("namespace", namespace),
          "compact",
          { idle: queued.idle },
        );
        if (answer.done) {
          this.completed++;
          this.lastDurationMs = Math.round(this.context.now() - started);
          this.lastDurationMsByIndex.set(splitKey(namespace)[0], this.lastDurationMs);
          this.settings.log(
            JSON.stringify({
              event: "compaction",
              step: "done",
              namespace,
              ms: this.lastDurationMs,
              ...answer.done,
            }),
          );
        }
        if (answer.more) this.queue.set(namespace, { idle: queued.idle, notBeforeMs: 0, failures: 0 });
      } catch (error) {
        this.failed(namespace, queued, asNeedleError(error));
      } finally {
        this.running = null;
      }
    }
  }

  private failed(namespace: string, queued: Queued, error: NeedleError): void {
    if (error.code === "NOT_FOUND" && !this.indexExists(namespace)) return;
    this.lastError = {
      namespace,
      code: error.code,
      message: error.message,
      at: new Date().toISOString(),
    };
    this.settings.log(
      JSON.stringify({
        event: "compaction",
        step: "failed",
        namespace,
        code: error.code,
        error: error.message,
      }),
    );
    if (error.kind !== "retryable") return;
    const failures = queued.failures + 1;
    const delayMs = Math.min(compactionRetryCapMs, compactionRetryBaseMs * 2 ** (failures - 1));
    const current = this.queue.get(namespace);
    this.queue.set(namespace, {
      idle: queued.idle || (current?.idle ?? false),
      notBeforeMs: this.context.now() + delayMs,
      failures,
    });
  }

  /** NOT_FOUND from a namespace of a deleted index is expected; of a live one it is an error. */
  private indexExists(namespace: string): boolean {
    return this.settings.indexExists(splitKey(namespace)[0]);
  }

  private wakeLater(): void {
    if (this.queue.size === 0) return;
    const now = this.context.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const queued of this.queue.values()) soonest = Math.min(soonest, queued.notBeforeMs);
    clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.kick();
      },
      Math.max(0, soonest - now),
    );
    this.wakeTimer.unref?.();
  }
}
