/**
 * The request log as a JetStream stream (issue 8 decision 4; actors/distribution/DESIGN.md):
 * file storage, one or three replicas, LSN = stream sequence. An append is acknowledged only
 * after JetStream acknowledged the publish; a retried append with the same message id is
 * stored once (the stream's duplicate window) and answers the first one's LSN. Trimming is a
 * purge below a sequence. The stream and subject names come from the caller (one place builds
 * them), so storage knows no naming scheme.
 */
import {
  DeliverPolicy,
  type JetStreamManager,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
} from "nats";
import { asNeedleError, NeedleError } from "../errors.ts";
import { payloadBytesMax } from "./format.ts";
import type { Log } from "./log.ts";

export interface JetStreamLogOptions {
  connection: NatsConnection;
  stream: string;
  subject: string;
  /** 1 or 3. */
  replicas?: number;
  /** How long a message id is remembered for deduplication. Default 2 minutes. */
  duplicateWindowMs?: number;
}

export class JetStreamLog implements Log {
  readonly failed = false;
  private durable: bigint;
  private first: bigint;

  private constructor(
    private readonly options: JetStreamLogOptions,
    private readonly manager: JetStreamManager,
    lastLsn: bigint,
    firstLsn: bigint,
  ) {
    this.durable = lastLsn;
    this.first = firstLsn;
  }

  /** Creates the stream if it is missing; reads where it stands. */
  static async open(options: JetStreamLogOptions): Promise<JetStreamLog> {
    const manager = await options.connection.jetstreamManager();
    const config = {
      name: options.stream,
      subjects: [options.subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      num_replicas: options.replicas ?? 1,
      duplicate_window: (options.duplicateWindowMs ?? 120_000) * 1_000_000,
      max_msg_size: payloadBytesMax,
    };
    const info = await manager.streams.info(options.stream).catch(() => undefined);
    const state = (info ?? (await manager.streams.add(config))).state;
    const lastLsn = BigInt(state.last_seq);
    const firstLsn = state.messages === 0 ? lastLsn + 1n : BigInt(state.first_seq);
    return new JetStreamLog(options, manager, lastLsn, firstLsn);
  }

  get lastLsn(): bigint {
    return this.durable;
  }

  get firstLsn(): bigint {
    return this.first;
  }

  async append(payload: Uint8Array, options: { messageId?: string } = {}): Promise<bigint> {
    if (payload.byteLength === 0 || payload.byteLength > payloadBytesMax) {
      throw new NeedleError("INVALID_ARGUMENT", "log payload size out of range", {
        field: "payload",
        limit: `1-${payloadBytesMax} bytes`,
        received: `${payload.byteLength} bytes`,
      });
    }
    try {
      const ack = await this.options.connection
        .jetstream()
        .publish(
          this.options.subject,
          payload,
          options.messageId === undefined ? {} : { msgID: options.messageId },
        );
      const lsn = BigInt(ack.seq);
      if (lsn > this.durable) this.durable = lsn;
      return lsn;
    } catch (error) {
      throw new NeedleError(
        "UNAVAILABLE",
        `stream ${this.options.stream} did not take the append: ${asNeedleError(error).message}`,
        {
          retryAfterSeconds: 1,
          cause: error instanceof Error ? error : undefined,
        },
      );
    }
  }

  async replay(
    afterLsn: bigint,
    visit: (lsn: bigint, payload: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    const through = this.durable;
    if (afterLsn >= through) return;
    if (afterLsn + 1n < this.first) {
      throw new NeedleError(
        "FAILED_PRECONDITION",
        `records after LSN ${afterLsn} were trimmed from the log`,
        {
          field: "afterLsn",
          limit: `>= ${this.first - 1n}`,
          received: afterLsn.toString(),
        },
      );
    }
    const consumer = await this.options.connection.jetstream().consumers.get(this.options.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Number(afterLsn + 1n),
    });
    const messages = await consumer.consume();
    try {
      for await (const message of messages) {
        const lsn = BigInt(message.seq);
        if (lsn > through) break;
        const visited = visit(lsn, message.data);
        if (visited !== undefined) await visited;
        if (lsn >= through) break;
      }
    } finally {
      messages.stop();
    }
  }

  async trimThrough(lsn: bigint): Promise<void> {
    if (lsn < this.first) return;
    const keepFrom = lsn >= this.durable ? this.durable + 1n : lsn + 1n;
    await this.manager.streams.purge(this.options.stream, { seq: Number(keepFrom) });
    this.first = keepFrom;
  }

  async close(): Promise<void> {}
}
