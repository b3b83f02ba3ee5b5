/**
 * Request logs of an engine on JetStream: one stream per index (issue 8 decision 4), named
 * in storage/nats/names.ts, file storage, 1 or 3 replicas.
 */
import type { NatsConnection } from "nats";
import { logStreamName, logSubject } from "../nats/names.ts";
import { isStreamNotFound, JetStreamLog } from "./jetstream-log.ts";
import type { LogProvider } from "./log.ts";

export interface JetStreamLogsOptions {
  replicas?: number;
  /**
   * Cluster v1 (actors/distribution/DESIGN.md decision 13): the stream is the only copy a new
   * owner starts from, so nothing is trimmed, and removing it is the cluster catalog's job
   * (the owner's local engine "creates" and "deletes" indexes as it claims and drops them).
   */
  retain?: boolean;
  /** The incarnation of each index (cluster mode: the catalog's), naming its stream. */
  incarnationOf?: (index: string) => string | undefined;
}

export function jetStreamLogs(connection: NatsConnection, options: JetStreamLogsOptions = {}): LogProvider {
  return {
    open: (index) => {
      const incarnation = options.incarnationOf?.(index);
      return JetStreamLog.open({
        connection,
        stream: logStreamName(index, incarnation),
        subject: logSubject(index, incarnation),
        replicas: options.replicas,
        trim: !options.retain,
      });
    },
    remove: async (index) => {
      if (options.retain) return;
      await removeLogStream(connection, logStreamName(index, options.incarnationOf?.(index)));
    },
  };
}

/** Deletes a log stream; one that is not there is fine. */
export async function removeLogStream(connection: NatsConnection, stream: string): Promise<void> {
  const manager = await connection.jetstreamManager();
  await manager.streams.delete(stream).catch((error: unknown) => {
    if (!isStreamNotFound(error)) throw error;
  });
}
