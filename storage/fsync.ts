/**
 * Durable file helpers. A file is durable once its bytes AND the directory entry naming it
 * have reached stable storage: `fsync` of the file alone does not persist a new name, and a
 * rename is only atomic, not durable, until its directory is fsynced.
 *
 * Temporary files are named `.<target name>.<random>.tmp` in the target's directory: the same
 * file system (so rename is atomic), hidden by the leading dot (blob keys and manifest names
 * never start with one, so listings skip them), and unique so two writers never share one.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, removeTree, rename, stat } from "./files.ts";
import { basename, dirname, join } from "node:path";
import { NeedleError } from "./errors.ts";

/** errno codes that mean the volume has no room: STORAGE_FULL. */
const fullCodes = new Set(["ENOSPC", "EDQUOT"]);
/** errno codes that mean the device or volume failed, or is out of a resource for now: STORAGE_FAILED. */
const failedCodes = new Set(["EIO", "EROFS", "ENXIO", "ENODEV", "EMFILE", "ENFILE", "EBUSY", "ETIMEDOUT"]);
/** Seconds a client is told to wait after a storage failure (the log reopens in the meantime). */
export const storageRetryAfterSeconds = { full: 5, failed: 1 } as const;

/**
 * The error every storage module raises when the operating system refuses an operation,
 * classified: no room (STORAGE_FULL), a failing or unavailable device (STORAGE_FAILED), or
 * anything else (IO). The message names the file: it is for the server's log; the HTTP
 * gateway shows clients a message without it.
 */
export function ioError(file: string, action: string, cause: unknown): NeedleError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const message = `${file}: ${action} failed: ${reason}`;
  const code = osErrorCode(cause);
  if (code !== undefined && fullCodes.has(code)) {
    return new NeedleError("STORAGE_FULL", message, {
      file,
      cause,
      retryAfterSeconds: storageRetryAfterSeconds.full,
    });
  }
  if (code !== undefined && failedCodes.has(code)) {
    return new NeedleError("STORAGE_FAILED", message, {
      file,
      cause,
      retryAfterSeconds: storageRetryAfterSeconds.failed,
    });
  }
  return new NeedleError("IO", message, { file, cause });
}

/**
 * The operating system's code of an error (ENOENT, EISDIR, ...), looking through an IO
 * NeedleError made by ioError to its cause; undefined when there is none.
 */
export function osErrorCode(error: unknown): string | undefined {
  if (error instanceof NeedleError) return osErrorCode(error.cause);
  const direct = (error as { code?: unknown } | null)?.code;
  return typeof direct === "string" ? direct : undefined;
}

/** True when `error` is the operating system's "no such file or directory". */
export function isNotFound(error: unknown): boolean {
  return osErrorCode(error) === "ENOENT";
}

/** Path of a fresh temporary file beside `path`. */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
}

/** True for names made by temporaryPathFor (uncommitted; safe to delete when no writer runs). */
export function isTemporaryName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}

/** Flushes a directory's entries (creations, renames, deletions) to stable storage. IO error on failure. */
export async function fsyncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw ioError(dir, "fsync of directory", error);
  }
}

/**
 * Creates `dir` and any missing parents, fsyncing each new directory's parent so the new
 * entries survive a power cut. Cheap when `dir` exists (one stat).
 */
export async function ensureDirectoryDurably(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch (error) {
    if (!isNotFound(error)) throw ioError(dir, "stat of directory", error);
  }
  const parent = dirname(dir);
  if (parent !== dir) await ensureDirectoryDurably(parent);
  try {
    await mkdir(dir);
  } catch (error) {
    // Another writer may have created it meanwhile; that is fine.
    if (osErrorCode(error) !== "EEXIST") throw ioError(dir, "create directory", error);
  }
  await fsyncDirectory(parent);
}

/**
 * Replaces `path` with `bytes` atomically and durably. Steps:
 *   1. write a temporary file in the same directory;
 *   2. fsync it, so its bytes are on disk before any name points at them;
 *   3. rename it over the target (atomic: readers see the old file or the new one, never a mix);
 *   4. fsync the directory, so the rename itself survives a power cut.
 * A crash before 3 leaves the old file and a stray temporary file; after 3, the new file.
 * Throws an IO NeedleError naming `path` on failure (the temporary file is removed).
 */
export async function writeFileDurably(path: string, bytes: Uint8Array): Promise<void> {
  const temporaryPath = temporaryPathFor(path);
  try {
    const handle = await open(temporaryPath, "w");
    try {
      let written = 0;
      while (written < bytes.byteLength) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.byteLength - written, written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporaryPath, path);
  } catch (error) {
    await removeTree(temporaryPath).catch(() => undefined);
    throw ioError(path, "durable write", error);
  }
  await fsyncDirectory(dirname(path));
}
