/**
 * Request logs of an engine on JetStream: one stream per index (issue 8 decision 4), named
 * in storage/nats/names.ts, file storage, 1 or 3 replicas.
 */
import type { NatsConnection } from "nats";
import { logStreamName, logSubject } from "../nats/names.ts";
import { isStreamNotFound, JetStreamLog } from "./jetstream-log.ts";
import type { LogProvider } from "./log.ts";

export function jetStreamLogs(connection: NatsConnection, options: { replicas?: number } = {}): LogProvider {
  return {
    open: (index) =>
      JetStreamLog.open({
        connection,
        stream: logStreamName(index),
        subject: logSubject(index),
        replicas: options.replicas,
      }),
    remove: async (index) => {
      const manager = await connection.jetstreamManager();
      await manager.streams.delete(logStreamName(index)).catch((error: unknown) => {
        // Nothing to remove is fine: the stream is made at the first open.
        if (!isStreamNotFound(error)) throw error;
      });
    },
  };
}
