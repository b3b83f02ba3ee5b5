/**
 * Versioned manifests committed atomically: each commit writes the next version as a new
 * file (temporary file, fsync, rename, directory fsync) and keeps the one before it.
 * Format: format.ts.
 *
 * Invariants:
 *   1. A file with a committed name (`<name>.<20 digits>`) was fsynced before it was renamed
 *      into place, so it is whole: if it fails a check, the disk or someone else damaged it.
 *   2. Temporary files (`.<name>.<…>.tmp`) are never read: they are commits that did not finish.
 *   3. Versions only grow; a version number is never written twice (the next version is one
 *      more than the highest committed name on disk).
 *   4. Commits run one at a time per store (queued), and a directory has one writing store.
 *   5. After commit(v) returns, versions v and v-1 exist; older ones are deleted (best effort).
 *
 * The load rule: the newest committed file is the manifest. If it fails its checksum (or any
 * check), load throws CORRUPTION naming it, even when an older valid version exists. Falling
 * back would silently undo a commit that was acknowledged: the newer manifest may already have
 * let the request log be trimmed, or retired slabs, so the older one would point at data that
 * is gone. An unfinished commit never competes: it is a temporary file (invariant 2), so the
 * previous version is loaded with no error.
 */
import { readdir, readFile, unlink } from "../files.ts";
import { join } from "node:path";
import { invalidArgument } from "../errors.ts";
import {
  ensureDirectoryDurably,
  fsyncDirectory,
  ioError,
  isNotFound,
  isTemporaryName,
  writeFileDurably,
} from "../fsync.ts";
import {
  decodeManifestFile,
  encodeManifestFile,
  manifestBodyBytesMax,
  manifestFileName,
  parseManifestFileName,
} from "./format.ts";

const manifestNamePattern = /^[A-Za-z0-9_-]{1,64}$/;

export class ManifestStore<T> {
  readonly dir: string;
  readonly name: string;
  private commitQueue: Promise<unknown> = Promise.resolve();

  constructor(
    dir: string,
    name: string,
    /** Largest body a commit writes (the format's length field allows up to 4 GiB). */
    private readonly bodyBytesMax = manifestBodyBytesMax,
  ) {
    if (!manifestNamePattern.test(name)) {
      throw invalidArgument(
        "name",
        "manifest name must be 1-64 letters, digits, '_' or '-'",
        "[A-Za-z0-9_-]{1,64}",
        name,
      );
    }
    this.dir = dir;
    this.name = name;
  }

  /** File names in the directory. An absent directory holds none. */
  private async fileNames(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw ioError(this.dir, "list manifest directory", error);
    }
  }

  /** The committed versions among `fileNames`, ascending. */
  private committedVersions(fileNames: string[]): number[] {
    return fileNames
      .map((fileName) => parseManifestFileName(this.name, fileName))
      .filter((version): version is number => version !== undefined)
      .sort((a, b) => a - b);
  }

  /**
   * Loads the newest committed version; undefined if none was ever committed. CORRUPTION
   * naming the file if the newest committed file fails a check (see the load rule above).
   */
  async load(): Promise<{ version: number; body: T } | undefined> {
    const version = this.committedVersions(await this.fileNames()).at(-1);
    if (version === undefined) return undefined;
    const path = join(this.dir, manifestFileName(this.name, version));
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw ioError(path, "read manifest", error);
    }
    return { version, body: decodeManifestFile(path, version, bytes) as T };
  }

  /**
   * Writes version+1 durably (tmp, fsync, rename, fsync dir), then deletes versions older
   * than the previous one and leftover temporary files. Returns the new version.
   */
  commit(body: T): Promise<number> {
    const result = this.commitQueue.then(() => this.commitNow(body));
    this.commitQueue = result.catch(() => undefined);
    return result;
  }

  private async commitNow(body: T): Promise<number> {
    // One listing serves both the next version and the clean-up: this store is the only
    // writer (invariant 4), so nothing else adds files meanwhile.
    const fileNames = await this.fileNames();
    const versions = this.committedVersions(fileNames);
    const version = (versions.at(-1) ?? 0) + 1;
    if (version === 1) await ensureDirectoryDurably(this.dir);
    await writeFileDurably(
      join(this.dir, manifestFileName(this.name, version)),
      encodeManifestFile(version, body, this.bodyBytesMax),
    );
    const temporaryPrefix = `.${this.name}.`;
    await this.removeStale([
      ...versions.filter((old) => old < version - 1).map((old) => manifestFileName(this.name, old)),
      ...fileNames.filter((fileName) => isTemporaryName(fileName) && fileName.startsWith(temporaryPrefix)),
    ]);
    return version;
  }

  /**
   * Deletes superseded versions and unfinished commits (left by a crash before this commit
   * listed the directory). Best effort: the commit is already durable, so a failure here
   * must not report the commit as failed; the next commit retries.
   */
  private async removeStale(doomed: string[]): Promise<void> {
    if (doomed.length === 0) return;
    try {
      await Promise.all(doomed.map((fileName) => unlink(join(this.dir, fileName)).catch(() => undefined)));
      await fsyncDirectory(this.dir);
    } catch {
      // Leftovers are harmless: load never reads them, and the next commit deletes them.
    }
  }
}
