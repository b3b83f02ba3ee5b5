/**
 * The writer actor of one index: the only owner of the index's request log. It assigns LSNs
 * (the log's sequence) and answers an append only after the record is fsync'd. Appends from
 * many namespaces share fsyncs (group commit inside the log), so `append` runs concurrently;
 * the log assigns LSNs in arrival order.
 */
import { NeedleError } from "../../storage/errors.ts";
import { RequestLog } from "../../storage/log/mod.ts";
import { decodeLogBody, encodeLogBody, type LogBody } from "../codec.ts";
import { logDir } from "../layout.ts";
import type { Actor, ActorContext } from "../runtime/mod.ts";

export interface ReplayedRecord extends LogBody {
  lsn: bigint;
}

export type WriterMessage =
  | { verb: "append"; body: LogBody }
  | { verb: "replay"; afterLsn: bigint; namespace?: string }
  | { verb: "trim"; throughLsn: bigint }
  | { verb: "lastLsn" };

export function writerFactory(dataDir: string, segmentBytesMax?: number) {
  return async (context: ActorContext): Promise<Actor> => {
    const log = await RequestLog.open({ dir: logDir(dataDir, context.self.key), segmentBytesMax });
    return new WriterActor(log);
  };
}

class WriterActor implements Actor {
  readonly concurrentVerbs = new Set(["append", "lastLsn", "replay", "namespaces"]);

  constructor(private readonly log: RequestLog) {}

  async receive(verb: string, payload: unknown): Promise<unknown> {
    const message = payload as WriterMessage;
    switch (verb) {
      case "append":
        // The encoded payload is ours alone: hand it to the log without a copy.
        return this.log.append(encodeLogBody((message as { body: LogBody }).body), { owned: true });
      case "replay": {
        const { afterLsn, namespace } = message as { afterLsn: bigint; namespace?: string };
        const records: ReplayedRecord[] = [];
        // A namespace flushed long ago may ask from below the trimmed point: everything below
        // firstLsn was flushed by every namespace before it was trimmed (actors/DESIGN.md,
        // invariant 5), so replay starts at what the log still holds. Recovery has checked
        // that firstLsn - 1 is what a trim removed, not a lost segment (the trim marker).
        const from = afterLsn > this.log.firstLsn - 1n ? afterLsn : this.log.firstLsn - 1n;
        await this.log.replay(from, (lsn, bytes) => {
          const body = decodeLogBody(bytes);
          if (namespace === undefined || body.namespace === namespace) records.push({ lsn, ...body });
        });
        return records;
      }
      case "namespaces": {
        // Which namespaces have records in the log, and their LSN range (index activation).
        const ranges = new Map<string, { firstLsn: bigint; lastLsn: bigint }>();
        // Only what the log still holds: records below firstLsn were trimmed after every
        // namespace had flushed them.
        await this.log.replay(this.log.firstLsn - 1n, (lsn, bytes) => {
          const { namespace } = decodeLogBody(bytes);
          const range = ranges.get(namespace);
          if (range) range.lastLsn = lsn;
          else ranges.set(namespace, { firstLsn: lsn, lastLsn: lsn });
        });
        return ranges;
      }
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
