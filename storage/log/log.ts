/**
 * What a request log is to its writer, whatever holds it: the local segmented WAL
 * (RequestLog) or a JetStream stream (JetStreamLog, distributed mode). Both pass the same
 * contract suite (log.suite.ts).
 */
export interface Log {
  /** Assigns the next LSN and resolves once the record is durable. */
  append(payload: Uint8Array, options?: { owned?: boolean; messageId?: string }): Promise<bigint>;
  /**
   * Every record with lsn > afterLsn, in order, up to lastLsn as of the call. A payload stays
   * valid and unchanged after `visit` returns (callers keep them).
   */
  replay(afterLsn: bigint, visit: (lsn: bigint, payload: Uint8Array) => void | Promise<void>): Promise<void>;
  /** Drops records at or below lsn when it can (a local log: whole segments only). */
  trimThrough(lsn: bigint): Promise<void>;
  /** Highest durable LSN (0n when empty). */
  readonly lastLsn: bigint;
  /** The lowest LSN still held (lastLsn + 1 when empty). */
  readonly firstLsn: bigint;
  /** True once the log refuses appends until reopened. */
  readonly failed: boolean;
  close(): Promise<void>;
}

/**
 * Where an engine's request logs live, one per index: local segment files (the default,
 * inside the index's directory) or JetStream streams (distributed mode, jetstream-logs.ts).
 */
export interface LogProvider {
  open(index: string): Promise<Log>;
  /**
   * Removes everything of the index's log. Called after a delete of the index commits, and
   * before a create of the name (a delete that crashed after its commit may have left it).
   */
  remove(index: string): Promise<void>;
}
