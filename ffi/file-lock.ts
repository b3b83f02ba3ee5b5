/**
 * Exclusive advisory locks on open files (`flock(fd, LOCK_EX | LOCK_NB)` from the C library),
 * through bun:ffi: neither Node's nor Bun's file API has one. The kernel drops the lock when
 * the descriptor closes or the process dies, however it dies, so a crash never leaves a stale
 * lock behind (a lock file with a PID in it would).
 *
 * flock locks belong to the open file description: a second open of the same file, even in
 * the same process, cannot take the lock while the first holds it.
 */
import { dlopen, FFIType, type Pointer, read } from "bun:ffi";

const lockExclusive = 2; // LOCK_EX
const lockNonBlocking = 4; // LOCK_NB

/** errno values that mean "someone else holds it" (EWOULDBLOCK on Linux and macOS). */
const heldElsewhereErrnos = new Set([11, 35]);

interface LibC {
  flock(fd: number, operation: number): number;
  errno(): number;
}

let libc: LibC | undefined;
let unavailable: string | undefined;

function loadLibC(): LibC | undefined {
  if (libc !== undefined || unavailable !== undefined) return libc;
  const darwin = process.platform === "darwin";
  const errnoSymbol = darwin ? "__error" : "__errno_location";
  try {
    const loaded = dlopen(darwin ? "libc.dylib" : "libc.so.6", {
      flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      [errnoSymbol]: { args: [], returns: FFIType.ptr },
    });
    const errnoAt = loaded.symbols[errnoSymbol] as () => Pointer | null;
    libc = {
      flock: (fd, operation) => loaded.symbols.flock(fd, operation) as number,
      errno: () => {
        const at = errnoAt();
        return at === null ? -1 : read.i32(at, 0);
      },
    };
  } catch (error) {
    unavailable = error instanceof Error ? error.message : String(error);
  }
  return libc;
}

export type LockResult = { locked: true } | { locked: false; heldElsewhere: boolean; reason: string };

/**
 * Tries to take an exclusive lock on the open descriptor `fd` without waiting. When the C
 * library cannot be loaded, answers `{locked: false, heldElsewhere: false}` with the reason.
 */
export function tryLockExclusive(fd: number): LockResult {
  const c = loadLibC();
  if (c === undefined)
    return { locked: false, heldElsewhere: false, reason: `flock unavailable: ${unavailable}` };
  if (c.flock(fd, lockExclusive | lockNonBlocking) === 0) return { locked: true };
  const errno = c.errno();
  return {
    locked: false,
    heldElsewhere: heldElsewhereErrnos.has(errno),
    reason: `flock failed with errno ${errno}`,
  };
}
