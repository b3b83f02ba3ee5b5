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
  type JetStreamClient,
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
  /** False: trimThrough keeps everything (cluster v1). Default true. */
  trim?: boolean;
  /** A replay that receives nothing for this long fails as UNAVAILABLE. Default 5 s. */
  replayStallMs?: number;
}

const replayStallMsDefault = 5_000;
/** Room kept below max_payload for the message's subject and headers. */
const jetStreamHeadroomBytes = 4_096;

/** JetStream's "stream not found" (API error 10059). */
export function isStreamNotFound(error: unknown): boolean {
  return (error as { api_error?: { err_code?: number } }).api_error?.err_code === 10059;
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
    const config = {
      name: options.stream,
      subjects: [options.subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      num_replicas: options.replicas ?? 1,
      duplicate_window: (options.duplicateWindowMs ?? 120_000) * 1_000_000,
      max_msg_size: payloadBytesMax,
    };
    let state: { last_seq: number; first_seq: number; messages: number };
    let manager: JetStreamManager;
    try {
      manager = await options.connection.jetstreamManager();
      const info = await manager.streams.info(options.stream).catch((error: unknown) => {
        if (isStreamNotFound(error)) return undefined;
        throw error;
      });
      state = (info ?? (await manager.streams.add(config))).state;
    } catch (error) {
      // No answer (a leader election after a node failed) or no quorum: a retry may succeed.
      throw new NeedleError(
        "UNAVAILABLE",
        `stream ${options.stream} cannot be opened: ${(error as Error).message}`,
        {
          retryAfterSeconds: 1,
          cause: error instanceof Error ? error : undefined,
        },
      );
    }
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
    const serverMax = this.options.connection.info?.max_payload;
    if (serverMax !== undefined && payload.byteLength > serverMax - jetStreamHeadroomBytes) {
      throw new NeedleError(
        "PAYLOAD_TOO_LARGE",
        `a log record of ${payload.byteLength} bytes does not fit the NATS server's max_payload of ${serverMax} bytes: send smaller batches, or raise max_payload (needle cluster sets 8 MiB)`,
        { field: "records", limit: serverMax - jetStreamHeadroomBytes, received: payload.byteLength },
      );
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
      throw this.unavailable("did not take the append", error);
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
    let messages: Awaited<ReturnType<Awaited<ReturnType<JetStreamClient["consumers"]["get"]>>["consume"]>>;
    const stallMs = this.options.replayStallMs ?? replayStallMsDefault;
    try {
      const consumer = await this.options.connection.jetstream().consumers.get(this.options.stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Number(afterLsn + 1n),
      });
      // consume() of an ordered consumer may never resolve while the stream has no leader.
      const consuming = consumer.consume();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no consumer within ${stallMs} ms`)), stallMs);
      });
      try {
        messages = await Promise.race([consuming, gaveUp]);
      } catch (error) {
        void consuming.then(
          (late) => late.stop(),
          () => {},
        );
        throw error;
      } finally {
        clearTimeout(timer);
      }
    } catch (error) {
      throw this.unavailable("cannot be read", error);
    }
    // An ordered consumer can stall for good when the stream's leader changes under it (seen
    // in the R3 kill test): a read that gets nothing for `replayStallMs` gives up as
    // UNAVAILABLE, and the caller retries with a fresh consumer.
    let lastProgress = Date.now();
    let reached = afterLsn;
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > stallMs) messages.stop(new Error(`no record for ${stallMs} ms`));
    }, stallMs / 4);
    try {
      for await (const message of messages) {
        const lsn = BigInt(message.seq);
        if (lsn > through) break;
        // A plain Uint8Array of its own: the client hands out a Node Buffer viewing its read
        // chunk, whose slice() is a view too (the log body decoder once read garbage through
        // it), and callers keep payloads (the writer's replay index), which would pin chunks.
        const visited = visit(lsn, new Uint8Array(message.data));
        if (visited !== undefined) await visited;
        reached = lsn;
        lastProgress = Date.now();
        if (lsn >= through) break;
      }
    } catch (error) {
      throw this.unavailable(`stopped delivering records after LSN ${reached}`, error);
    } finally {
      clearInterval(watchdog);
      messages.stop();
    }
    if (reached < through)
      throw this.unavailable(`ended its records at LSN ${reached}, before ${through}`, undefined);
  }

  async trimThrough(lsn: bigint): Promise<void> {
    if (lsn < this.first || this.options.trim === false) return;
    const keepFrom = lsn >= this.durable ? this.durable + 1n : lsn + 1n;
    await this.manager.streams.purge(this.options.stream, { seq: Number(keepFrom) });
    this.first = keepFrom;
  }

  async close(): Promise<void> {}

  /** No answer (a leader election after a node failed) or no quorum: a retry may succeed. */
  private unavailable(what: string, error: unknown): NeedleError {
    return new NeedleError(
      "UNAVAILABLE",
      `stream ${this.options.stream} ${what}: ${asNeedleError(error).message}`,
      {
        retryAfterSeconds: 1,
        cause: error instanceof Error ? error : undefined,
      },
    );
  }
}
