/**
 * The writer actor of one index: the only owner of the index's request log. It assigns LSNs
 * (the log's sequence) and answers an append only after the record is fsync'd. Appends from
 * many namespaces share fsyncs (group commit inside the log), so `append` runs concurrently;
 * the log assigns LSNs in arrival order.
 *
 * After an I/O failure the log refuses appends (fail-stop); the writer reopens it from its
 * last durable point on the next append, no sooner than a backoff after the last failed
 * reopen (`reopenBackoffBaseMs` doubling to `reopenBackoffCapMs`). Until then appends are
 * refused with the failure's class (STORAGE_FULL, STORAGE_FAILED), which is retryable; the
 * writer's other verbs (replay, lastLsn, trim) keep working on the failed log, so reads and
 * recovery do not depend on the write path.
 */
import { NeedleError } from "../../storage/errors.ts";
import type { Log, LogProvider } from "../../storage/log/log.ts";
import { RequestLog } from "../../storage/log/mod.ts";
import { decodeLogBody, encodeLogBody, type LogBody, logBodyNamespace } from "../codec.ts";
import { logDir } from "../layout.ts";
import type { Actor, ActorContext } from "../runtime/mod.ts";

export interface ReplayedRecord extends LogBody {
  lsn: bigint;
}

/** A log record not yet decoded: its LSN and payload (decodeLogBody reads it). */
export interface RawRecord {
  lsn: bigint;
  bytes: Uint8Array;
}

export type WriterMessage =
  | { verb: "append"; body: LogBody }
  | { verb: "replay"; afterLsn: bigint; namespace?: string }
  | { verb: "trim"; throughLsn: bigint }
  | { verb: "lastLsn" };

export const reopenBackoffBaseMs = 100;
export const reopenBackoffCapMs = 5_000;

export function writerFactory(dataDir: string, segmentBytesMax?: number, logs?: LogProvider) {
  return async (context: ActorContext): Promise<Actor> => {
    const index = context.self.key;
    const open = (): Promise<Log> =>
      logs !== undefined
        ? logs.open(index)
        : RequestLog.open({ dir: logDir(dataDir, index), segmentBytesMax });
    return new WriterActor(await open(), open, context.now);
  };
}

class WriterActor implements Actor {
  readonly concurrentVerbs = new Set(["append", "lastLsn", "replay", "replayMany", "namespaces", "replayed"]);
  /**
   * The log's records by namespace, read once at index activation for the replays after it;
   * undecoded (views of the segments read), so holding 100,000 tenants' records costs their
   * bytes, not their objects.
   */
  private replayIndex: { throughLsn: bigint; records: Map<string, RawRecord[]> } | undefined;
  private reopening: Promise<Log> | undefined;
  private reopenFailures = 0;
  private reopenNotBeforeMs = 0;
  private lastReopenError: unknown;

  constructor(
    private log: Log,
    private readonly openLog: () => Promise<Log>,
    private readonly now: () => number,
  ) {}

  /** The log, reopened first if a failure stopped it (see the module comment). */
  private usableLog(): Promise<Log> {
    if (!this.log.failed) return Promise.resolve(this.log);
    if (this.reopening) return this.reopening;
    if (this.now() < this.reopenNotBeforeMs) return Promise.reject(this.lastReopenError);
    const failed = this.log;
    this.reopening = (async () => {
      await failed.close();
      try {
        this.log = await this.openLog();
        this.reopenFailures = 0;
        return this.log;
      } catch (error) {
        this.reopenFailures++;
        this.lastReopenError = error;
        const backoffMs = Math.min(reopenBackoffCapMs, reopenBackoffBaseMs * 2 ** (this.reopenFailures - 1));
        this.reopenNotBeforeMs = this.now() + backoffMs;
        throw error;
      }
    })().finally(() => {
      this.reopening = undefined;
    });
    return this.reopening;
  }

  async receive(verb: string, payload: unknown): Promise<unknown> {
    const message = payload as WriterMessage;
    switch (verb) {
      case "append": {
        const log = await this.usableLog();
        // The encoded payload is ours alone: hand it to the log without a copy.
        return log.append(encodeLogBody((message as { body: LogBody }).body), { owned: true });
      }
      case "replay": {
        const { afterLsn, namespace } = message as { afterLsn: bigint; namespace?: string };
        const records: ReplayedRecord[] = [];
        // A namespace flushed long ago may ask from below the trimmed point: everything below
        // firstLsn was flushed by every namespace before it was trimmed (actors/DESIGN.md,
        // invariant 5), so replay starts at what the log still holds. Recovery has checked
        // that firstLsn - 1 is what a trim removed, not a lost segment (the trim marker).
        let from = afterLsn > this.log.firstLsn - 1n ? afterLsn : this.log.firstLsn - 1n;
        // After a restart every namespace with unflushed records replays: the index built at
        // `namespaces` serves each its own records, so recovery reads the log once, not once
        // per namespace (it was quadratic: 10,000 tenants took minutes). Records appended
        // since come from the log itself.
        const index = this.replayIndex;
        if (index !== undefined && namespace !== undefined) {
          for (const { lsn, bytes } of index.records.get(namespace) ?? [])
            if (lsn > from) records.push({ lsn, ...decodeLogBody(bytes) });
          if (index.throughLsn >= this.log.lastLsn) return records;
          if (index.throughLsn > from) from = index.throughLsn;
        }
        await this.log.replay(from, (lsn, bytes) => {
          if (namespace === undefined || logBodyNamespace(bytes) === namespace)
            records.push({ lsn, ...decodeLogBody(bytes) });
        });
        return records;
      }
      case "namespaces": {
        // Which namespaces have records in the log, and their LSN range (index activation);
        // the records themselves are kept by namespace for the replays that follow.
        const ranges = new Map<string, { firstLsn: bigint; lastLsn: bigint }>();
        const byNamespace = new Map<string, RawRecord[]>();
        const throughLsn = this.log.lastLsn;
        // Only what the log still holds (records below firstLsn were trimmed after every
        // namespace had flushed them), and only above what the index knows every namespace
        // flushed (its catalog's clean-through LSN): after a clean shutdown, nothing.
        const { cleanThroughLsn } = payload as { cleanThroughLsn?: bigint };
        const from =
          (cleanThroughLsn ?? 0n) > this.log.firstLsn - 1n ? cleanThroughLsn! : this.log.firstLsn - 1n;
        await this.log.replay(from > throughLsn ? throughLsn : from, (lsn, bytes) => {
          const namespace = logBodyNamespace(bytes);
          const range = ranges.get(namespace);
          if (range) range.lastLsn = lsn;
          else ranges.set(namespace, { firstLsn: lsn, lastLsn: lsn });
          const list = byNamespace.get(namespace);
          if (list) list.push({ lsn, bytes });
          else byNamespace.set(namespace, [{ lsn, bytes }]);
        });
        this.replayIndex = { throughLsn, records: byNamespace };
        return ranges;
      }
      case "replayMany": {
        // The records above each namespace's flushed LSN, for many namespaces in one pass (the
        // index replays small namespaces itself after a restart), undecoded: the index decodes
        // one slice of namespaces at a time.
        const { namespaces } = payload as { namespaces: { namespace: string; afterLsn: bigint }[] };
        const after = new Map(namespaces.map(({ namespace, afterLsn }) => [namespace, afterLsn]));
        const found = new Map<string, RawRecord[]>();
        const take = (namespace: string, record: RawRecord) => {
          const afterLsn = after.get(namespace);
          if (afterLsn === undefined || record.lsn <= afterLsn) return;
          const list = found.get(namespace);
          if (list) list.push(record);
          else found.set(namespace, [record]);
        };
        const index = this.replayIndex;
        if (index !== undefined && index.throughLsn >= this.log.lastLsn) {
          for (const namespace of after.keys())
            for (const record of index.records.get(namespace) ?? []) take(namespace, record);
        } else {
          await this.log.replay(this.log.firstLsn - 1n, (lsn, bytes) =>
            take(logBodyNamespace(bytes), { lsn, bytes }),
          );
        }
        return found;
      }
      case "replayed":
        // Every namespace that had to replay has: the records kept for it can go.
        this.replayIndex = undefined;
        return undefined;
      case "trim":
        await this.log.trimThrough((message as { throughLsn: bigint }).throughLsn);
        return undefined;
      case "lastLsn":
        return this.log.lastLsn;
      default:
        throw new NeedleError("INTERNAL", `writer: unknown verb ${verb}`);
    }
  }

  async passivate(): Promise<void> {
    await this.log.close();
  }

  /** After a failure: close the log before a restarted writer reopens it (no leaked handle). */
  async stop(): Promise<void> {
    await this.log.close();
  }
}
