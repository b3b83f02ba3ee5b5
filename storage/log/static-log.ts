/**
 * A log that holds nothing and takes nothing, standing at a fixed LSN: what a read replica's
 * engine runs on (actors/distribution/DESIGN.md decision 16). Its index was restored from a
 * checkpoint holding everything through that LSN, so there is nothing to replay, and writes
 * belong to the index's owner.
 */
import { NeedleError } from "../errors.ts";
import type { Log, LogProvider } from "./log.ts";

export class StaticLog implements Log {
  readonly failed = false;

  constructor(readonly lastLsn: bigint) {}

  get firstLsn(): bigint {
    return this.lastLsn + 1n;
  }

  append(): Promise<bigint> {
    return Promise.reject(
      new NeedleError("FAILED_PRECONDITION", "a read replica takes no writes: they go to the index's owner"),
    );
  }

  async replay(): Promise<void> {}

  async trimThrough(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Static logs at each index's LSN (`lsnOf`); nothing to remove. */
export function staticLogs(lsnOf: (index: string) => bigint): LogProvider {
  return {
    open: async (index) => new StaticLog(lsnOf(index)),
    remove: async () => {},
  };
}
