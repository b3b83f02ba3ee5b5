/**
 * The one door between Needle and the operating system's file calls. Every module that reads
 * or writes the data directory (request log, manifests, blob store, slab reader, engine,
 * index actor) calls these functions instead of `node:fs`, so tests can make any of them fail
 * the way a real machine does: a full disk (ENOSPC, EDQUOT), a failing device (EIO), too many
 * open files (EMFILE), or a short write followed by ENOSPC.
 *
 * Production code installs no rules; the cost is one array length check per call.
 *
 * Rules come from `injectFaults(...)` in-process, or from the environment variable
 * `NEEDLE_FAULTS` (a JSON array of rules whose `path` is a regular expression's source) for
 * child processes of crash tests. A rule matches an operation and, optionally, a path
 * (substring, or RegExp); it lets `skip` matching calls through, then fails the next `times`
 * ones (default 1; `Infinity` for "until removed"). Observers (`observeFileOperations`) see
 * every call, for tests that check the order of fsyncs.
 */
import type { Dirent, Stats } from "node:fs";
import { join } from "node:path";
import {
  closeSync as nodeCloseSync,
  openSync as nodeOpenSync,
  readSync as nodeReadSync,
  statSync as nodeStatSync,
} from "node:fs";
import * as fs from "node:fs/promises";

export type FileOperation =
  | "open"
  | "read"
  | "write"
  | "sync"
  | "truncate"
  | "close"
  | "rename"
  | "link"
  | "copy"
  | "unlink"
  | "mkdir"
  | "rmdir"
  | "rm"
  | "readdir"
  | "stat"
  | "statfs"
  | "mmap";

/** What an injected fault does: fail with an errno code, or write half the bytes and then fail with ENOSPC. */
export type FaultKind = "ENOSPC" | "EDQUOT" | "EIO" | "EMFILE" | "EACCES" | "short-write";

export interface FaultRule {
  operation: FileOperation | FileOperation[];
  /** Matches when the path contains this text, or matches this expression. Absent: every path. */
  path?: string | RegExp;
  fault: FaultKind;
  /** Matching calls let through before the first failure. Default 0. */
  skip?: number;
  /** Matching calls failed after the skipped ones. Default 1; Infinity fails until removed. */
  times?: number;
}

export interface InjectedFaults {
  /** How many calls these rules failed so far. */
  readonly failures: number;
  remove(): void;
}

interface ActiveRule {
  rule: FaultRule;
  seen: number;
  failed: number;
  owner: { failures: number };
}

const errnoOf: Record<Exclude<FaultKind, "short-write">, number> = {
  ENOSPC: -28,
  EDQUOT: -122,
  EIO: -5,
  EMFILE: -24,
  EACCES: -13,
};

const activeRules: ActiveRule[] = [];
const observers: ((operation: FileOperation, path: string) => void)[] = [];

/** Installs rules until the returned handle's `remove()`; rules are checked in order. */
export function injectFaults(...rules: FaultRule[]): InjectedFaults {
  const owner = { failures: 0 };
  const added = rules.map((rule) => ({ rule, seen: 0, failed: 0, owner }));
  activeRules.push(...added);
  return {
    get failures() {
      return owner.failures;
    },
    remove() {
      for (const rule of added) {
        const at = activeRules.indexOf(rule);
        if (at >= 0) activeRules.splice(at, 1);
      }
    },
  };
}

/** Calls `observer` before every file operation until the returned function is called. */
export function observeFileOperations(
  observer: (operation: FileOperation, path: string) => void,
): () => void {
  observers.push(observer);
  return () => {
    const at = observers.indexOf(observer);
    if (at >= 0) observers.splice(at, 1);
  };
}

/** Rules for a child process, from NEEDLE_FAULTS (JSON; `path` is a RegExp source). */
function rulesFromEnvironment(): void {
  const text = process.env.NEEDLE_FAULTS;
  if (text === undefined || text === "") return;
  const parsed = JSON.parse(text) as (Omit<FaultRule, "path" | "times"> & {
    path?: string;
    times?: number | null;
  })[];
  injectFaults(
    ...parsed.map((rule) => ({
      ...rule,
      path: rule.path === undefined ? undefined : new RegExp(rule.path),
      times: rule.times === null ? Number.POSITIVE_INFINITY : rule.times,
    })),
  );
}
rulesFromEnvironment();

/** An error shaped like the ones node:fs throws, so callers classify it the same way. */
export function systemError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const errno = (errnoOf as Record<string, number>)[code];
  const error = new Error(`${code}: injected fault, ${syscall} '${path}'`) as NodeJS.ErrnoException;
  error.code = code;
  if (errno !== undefined) error.errno = errno;
  error.syscall = syscall;
  error.path = path;
  return error;
}

/** The fault to raise for this call, or undefined. Observers run first. */
function faultFor(operation: FileOperation, path: string): FaultKind | undefined {
  for (const observer of observers) observer(operation, path);
  if (activeRules.length === 0) return undefined;
  for (const active of activeRules) {
    const { rule } = active;
    const operations = Array.isArray(rule.operation) ? rule.operation : [rule.operation];
    if (!operations.includes(operation)) continue;
    if (rule.path !== undefined) {
      const matches = typeof rule.path === "string" ? path.includes(rule.path) : rule.path.test(path);
      if (!matches) continue;
    }
    active.seen++;
    if (active.seen <= (rule.skip ?? 0)) continue;
    if (active.failed >= (rule.times ?? 1)) continue;
    active.failed++;
    active.owner.failures++;
    return rule.fault;
  }
  return undefined;
}

function check(operation: FileOperation, path: string): void {
  const fault = faultFor(operation, path);
  if (fault === undefined) return;
  throw systemError(fault === "short-write" ? "ENOSPC" : fault, operation, path);
}

/** The subset of a file handle Needle uses; every call goes through the fault check. */
export interface FileHandle {
  readonly path: string;
  readonly fd: number;
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** fsync: data and metadata. */
  sync(): Promise<void>;
  /** fdatasync: data and the metadata needed to read it (size). */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Told how long each fsync/fdatasync took, in seconds (the metrics' fsync latency histogram). */
export type SyncListener = (seconds: number) => void;
const syncListeners = new Set<SyncListener>();

/** Calls `listener` after every completed file sync in this process; returns its removal. */
export function onFileSync(listener: SyncListener): () => void {
  syncListeners.add(listener);
  return () => syncListeners.delete(listener);
}

async function timedSync(sync: () => Promise<void>): Promise<void> {
  if (syncListeners.size === 0) return sync();
  const started = performance.now();
  await sync();
  const seconds = (performance.now() - started) / 1000;
  for (const listener of syncListeners) listener(seconds);
}

class CheckedHandle implements FileHandle {
  constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
  ) {}

  get fd(): number {
    return this.handle.fd;
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number) {
    const fault = faultFor("write", this.path);
    if (fault === "short-write") {
      // Half the bytes reach the file, then the device is full: what a filling disk does.
      const half = Math.floor(length / 2);
      if (half > 0) await this.handle.write(buffer, offset, half, position);
      throw systemError("ENOSPC", "write", this.path);
    }
    if (fault !== undefined) throw systemError(fault, "write", this.path);
    return this.handle.write(buffer, offset, length, position);
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number) {
    check("read", this.path);
    return this.handle.read(buffer, offset, length, position);
  }

  async sync(): Promise<void> {
    check("sync", this.path);
    await timedSync(() => this.handle.sync());
  }

  async datasync(): Promise<void> {
    check("sync", this.path);
    await timedSync(() => this.handle.datasync());
  }

  async truncate(length: number): Promise<void> {
    check("truncate", this.path);
    await this.handle.truncate(length);
  }

  async close(): Promise<void> {
    // A close never fails by injection: the kernel releases the descriptor either way.
    await this.handle.close();
  }
}

export async function open(path: string, flags: string): Promise<FileHandle> {
  check("open", path);
  return new CheckedHandle(path, await fs.open(path, flags));
}

export async function readFile(path: string): Promise<Uint8Array> {
  check("read", path);
  const buffer = await fs.readFile(path);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export async function readdir(path: string): Promise<string[]> {
  check("readdir", path);
  return fs.readdir(path);
}

export async function readdirEntries(path: string): Promise<Dirent[]> {
  check("readdir", path);
  return fs.readdir(path, { withFileTypes: true });
}

export async function stat(path: string): Promise<Stats> {
  check("stat", path);
  return fs.stat(path);
}

export async function statfs(path: string): Promise<{ bavail: number; bsize: number; blocks: number }> {
  check("statfs", path);
  return fs.statfs(path);
}

export function statSync(path: string): Stats {
  check("stat", path);
  return nodeStatSync(path);
}

export async function rename(from: string, to: string): Promise<void> {
  check("rename", to);
  await fs.rename(from, to);
}

/** A second name for an existing file (same volume only: EXDEV otherwise). */
export async function link(existing: string, path: string): Promise<void> {
  check("link", path);
  await fs.link(existing, path);
}

/** A copy of a file's bytes under a new name (not fsynced: the caller syncs). */
export async function copyFile(from: string, to: string): Promise<void> {
  check("copy", to);
  await fs.copyFile(from, to);
}

export async function unlink(path: string): Promise<void> {
  check("unlink", path);
  await fs.unlink(path);
}

export async function mkdir(path: string): Promise<void> {
  check("mkdir", path);
  await fs.mkdir(path);
}

export async function rmdir(path: string): Promise<void> {
  check("rmdir", path);
  await fs.rmdir(path);
}

/**
 * Bytes of the regular files under `dir`, recursively; hidden names (temporaries of writes in
 * progress) left out; 0 for an absent directory; a file removed while counted counts nothing.
 */
export async function treeBytes(dir: string): Promise<number> {
  let entries: Dirent[];
  try {
    entries = await readdirEntries(dir);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return 0;
    throw error;
  }
  let total = 0;
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else if (entry.isFile()) total += (await stat(path).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/** Recursive, forced removal (a whole directory tree; absent paths are fine). */
export async function removeTree(path: string): Promise<void> {
  check("rm", path);
  await fs.rm(path, { recursive: true, force: true });
}

/**
 * Positional reads of several byte ranges of one file, synchronously, through one descriptor
 * opened for the call and closed after it. Each range comes back in its own fresh buffer (so
 * typed-array views over it are aligned). A range past the end of the file is an error: the
 * callers read immutable files whose sizes they checked.
 */
export function readRangesSync(
  path: string,
  ranges: readonly { position: number; length: number }[],
): Uint8Array[] {
  check("read", path);
  const fd = nodeOpenSync(path, "r");
  try {
    return ranges.map(({ position, length }) => {
      const buffer = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const read = nodeReadSync(fd, buffer, done, length - done, position + done);
        if (read === 0) throw shortRead(path, position + done, length - done);
        done += read;
      }
      return buffer;
    });
  } finally {
    nodeCloseSync(fd);
  }
}

/** A file that ended before a range the caller checked against its size: the device's fault. */
function shortRead(path: string, at: number, missing: number): NodeJS.ErrnoException {
  return systemError("EIO", "read", `${path} (ended at ${at}, ${missing} bytes short)`);
}

/** readRangesSync without blocking the event loop (the reads run on the I/O threads). */
export async function readRanges(
  path: string,
  ranges: readonly { position: number; length: number }[],
): Promise<Uint8Array[]> {
  check("read", path);
  const handle = await fs.open(path, "r");
  try {
    // All at once: positional reads of one descriptor may overlap, and the I/O threads serve
    // them in parallel (one at a time, a search's 20 scattered rows cost 20 round trips).
    return await Promise.all(
      ranges.map(async ({ position, length }) => {
        const buffer = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
          if (bytesRead === 0) throw shortRead(path, position + done, length - done);
          done += bytesRead;
        }
        return buffer;
      }),
    );
  } finally {
    await handle.close();
  }
}

/** A private (copy-on-write) memory map of the whole file. */
export function mmap(path: string): Uint8Array {
  check("mmap", path);
  return Bun.mmap(path, { shared: false });
}
