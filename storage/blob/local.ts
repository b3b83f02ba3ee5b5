/**
 * A blob store in a local directory: key `a/b/c` is the file `<root>/a/b/c`.
 *
 * Invariants:
 *   1. A file under the root with a key-shaped name is a whole blob: put writes a temporary
 *      file, fsyncs it, renames it into place and fsyncs the directory (writeFileDurably).
 *   2. Names starting with '.' are temporary files of unfinished puts; keys cannot start a part
 *      with '.', so list never reports them and no key can reach them.
 *   3. Every key is validated before it becomes a path, so no key escapes the root.
 *   4. delete removes directories it leaves empty, so a key that was once a "folder" can later
 *      be a blob. A key cannot be a blob and a folder at the same time here (file systems
 *      forbid it); that put fails with FAILED_PRECONDITION.
 */
import type { Dirent } from "node:fs";
import { readdirEntries, readFile, rmdir, stat, unlink } from "../files.ts";
import { dirname, join, resolve } from "node:path";
import { NeedleError } from "../errors.ts";
import { ensureDirectoryDurably, fsyncDirectory, ioError, osErrorCode, writeFileDurably } from "../fsync.ts";
import type { BlobStore } from "./blob-store.ts";
import { validateBlobKey, validateBlobPrefix } from "./keys.ts";

/** How many times put recreates a parent directory that a concurrent delete removed. */
const putAttemptsMax = 3;

function notFound(key: string): NeedleError {
  return new NeedleError("NOT_FOUND", `blob ${JSON.stringify(key)} does not exist`, {
    field: "key",
    received: key,
  });
}

export class LocalBlobStore implements BlobStore {
  readonly rootDir: string;

  constructor(rootDir: string) {
    // Absolute and normalised, so the "still under the root" test in removeEmptyParents holds.
    this.rootDir = resolve(rootDir);
  }

  private pathOf(key: string): string {
    validateBlobKey(key);
    return join(this.rootDir, ...key.split("/"));
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    for (let attempt = 1; ; attempt++) {
      try {
        await ensureDirectoryDurably(dirname(path));
        await writeFileDurably(path, bytes);
        return;
      } catch (error) {
        const code = osErrorCode(error);
        if (code === "EISDIR" || code === "ENOTDIR" || code === "EEXIST") {
          throw new NeedleError(
            "FAILED_PRECONDITION",
            `blob ${JSON.stringify(key)} conflicts with an existing key: a local store cannot hold both "a" and "a/b"`,
            { field: "key", received: key, cause: error },
          );
        }
        // A concurrent delete removed the parent directory between the two steps: redo both.
        if (code === "ENOENT" && attempt < putAttemptsMax) continue;
        throw error;
      }
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const path = this.pathOf(key);
    try {
      return await readFile(path);
    } catch (error) {
      const code = osErrorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") throw notFound(key);
      throw ioError(path, "read blob", error);
    }
  }

  async localPath(key: string): Promise<string> {
    const path = this.pathOf(key);
    if (!(await this.isFile(path))) throw notFound(key);
    return path;
  }

  async exists(key: string): Promise<boolean> {
    return this.isFile(this.pathOf(key));
  }

  private async isFile(path: string): Promise<boolean> {
    try {
      return (await stat(path)).isFile();
    } catch (error) {
      const code = osErrorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") return false;
      throw ioError(path, "stat blob", error);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      const code = osErrorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") return;
      if (code === "EISDIR" || code === "EPERM") return; // a "folder", not a blob: nothing to delete
      throw ioError(path, "delete blob", error);
    }
    await fsyncDirectory(dirname(path));
    await this.removeEmptyParents(dirname(path));
  }

  /** Invariant 4: rmdir upward until a directory is not empty (or the root). */
  private async removeEmptyParents(dir: string): Promise<void> {
    while (dir.length > this.rootDir.length && dir.startsWith(this.rootDir)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty, or gone already: either way stop here
      }
      dir = dirname(dir);
      await fsyncDirectory(dir);
    }
  }

  async list(prefix: string): Promise<string[]> {
    validateBlobPrefix(prefix);
    // Walk only the deepest folder the prefix names in full.
    const slash = prefix.lastIndexOf("/");
    const baseKey = slash < 0 ? "" : prefix.slice(0, slash);
    const keys: string[] = [];
    await this.walk(baseKey, keys);
    return keys.filter((key) => key.startsWith(prefix)).sort();
  }

  private async walk(folderKey: string, into: string[]): Promise<void> {
    const dir = folderKey === "" ? this.rootDir : join(this.rootDir, ...folderKey.split("/"));
    let entries: Dirent[];
    try {
      entries = await readdirEntries(dir);
    } catch (error) {
      const code = osErrorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw ioError(dir, "list blobs", error);
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue; // invariant 2
      const key = folderKey === "" ? entry.name : `${folderKey}/${entry.name}`;
      if (entry.isDirectory()) await this.walk(key, into);
      else if (entry.isFile()) into.push(key);
    }
  }
}
