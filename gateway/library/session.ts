/**
 * State shared by a database handle and every index handle made from it.
 *
 * Invariants:
 *   - Once `closed` is true it stays true, and every call refuses with FAILED_PRECONDITION.
 *   - `highestLsn` holds, per index, the largest LSN acknowledged through this database; it
 *     only grows (LSNs are monotonic per index), so it is a safe `minLsn` for any later read.
 */
import type { Engine } from "../../actors/api.ts";
import { NeedleError } from "../../storage/errors.ts";

/** How long a read waits for `minLsn` before giving up with UNAVAILABLE. */
export const lsnWaitMsMax = 10_000;

export class Session {
  closed = false;
  readonly highestLsn = new Map<string, bigint>();

  constructor(readonly engine: Engine) {}

  /** The engine, or FAILED_PRECONDITION once the database is closed. */
  live(): Engine {
    if (this.closed) throw new NeedleError("FAILED_PRECONDITION", "the database is closed");
    return this.engine;
  }

  noteWrite(index: string, lsn: bigint): void {
    const known = this.highestLsn.get(index);
    if (known === undefined || lsn > known) this.highestLsn.set(index, lsn);
  }

  forgetIndex(index: string): void {
    this.highestLsn.delete(index);
  }
}
