/**
 * One process per data directory. Two engines on one directory would both assign LSNs from the
 * same log and overwrite each other's records and manifests, so `open` takes an exclusive lock
 * on `<dir>/LOCK` first and a second open (another process, or the same one) fails with a
 * clear error instead. The lock is the kernel's (flock): it disappears with the process, so a
 * crash never leaves it behind. The file holds the owner's PID, for the error message only.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tryLockExclusive } from "../ffi/file-lock.ts";
import { NeedleError } from "./errors.ts";
import { ioError } from "./fsync.ts";

export const lockFileName = "LOCK";

export interface DirectoryLock {
  /** Drops the lock (closing the descriptor). Idempotent. */
  release(): void;
}

/**
 * Locks `dir` (which must exist) for this process. FAILED_PRECONDITION when another open holds
 * it; when the platform offers no flock, `warn` is told and the directory is used unlocked.
 */
export function lockDirectory(dir: string, warn: (line: string) => void): DirectoryLock {
  const path = join(dir, lockFileName);
  let fd: number;
  try {
    fd = openSync(path, "a+");
  } catch (error) {
    throw ioError(path, "open of the lock file", error);
  }
  const result = tryLockExclusive(fd);
  if (!result.locked) {
    if (!result.heldElsewhere) {
      warn(
        `needle: the data directory ${dir} is not locked (${result.reason}); run one Needle process on it at a time`,
      );
    } else {
      closeSync(fd);
      const owner = ownerOf(path);
      throw new NeedleError(
        "FAILED_PRECONDITION",
        `the data directory ${dir} is in use by another Needle${owner ? ` (pid ${owner})` : ""}; one process may open it at a time`,
        { field: "dir", received: dir },
      );
    }
  } else {
    try {
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid}\n`, 0);
    } catch {
      // The PID is only a hint for the message above; the lock is what matters.
    }
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}

function ownerOf(path: string): string | undefined {
  try {
    const text = readFileSync(path, "utf8").trim();
    return /^\d+$/.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}
