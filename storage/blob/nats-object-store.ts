/**
 * A BlobStore on a NATS JetStream Object Store bucket (issue 8 decision 3; the distributed
 * mode's slab store), passing the same contract suite as the local store
 * (blob-store.suite.ts).
 *
 *   - `put` is durable when JetStream has acknowledged every chunk; the store sends a copy of
 *     the caller's bytes (the contract: later changes to them do not leak in).
 *   - `localPath` keeps a cached file per key under `cacheDir`, named by the object's unique
 *     id (nuid), so an overwritten blob gets a fresh file and a mapped old one stays valid;
 *     the download goes to a temporary name and is renamed into place.
 *   - Deleted objects are absent for `get`, `exists`, `list` and `localPath`.
 * Bucket and key naming stays with the caller: keys are the blob keys (keys.ts) as object
 * names, which the Object Store encodes into its own subjects.
 */
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ObjectInfo, ObjectStore } from "nats";
import { NeedleError } from "../errors.ts";
import type { BlobStore } from "./blob-store.ts";
import { validateBlobKey, validateBlobPrefix } from "./keys.ts";

function notFound(key: string): NeedleError {
  return new NeedleError("NOT_FOUND", `blob ${JSON.stringify(key)} does not exist`, {
    field: "key",
    received: key,
  });
}

export class NatsObjectBlobStore implements BlobStore {
  constructor(
    private readonly objects: ObjectStore,
    /** Where `localPath` keeps downloaded copies (a local disk cache). */
    private readonly cacheDir: string,
  ) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    validateBlobKey(key);
    await this.objects.putBlob({ name: key }, bytes.slice());
  }

  async get(key: string): Promise<Uint8Array> {
    validateBlobKey(key);
    const bytes = await this.objects.getBlob(key);
    if (bytes === null) throw notFound(key);
    return bytes;
  }

  async localPath(key: string): Promise<string> {
    validateBlobKey(key);
    const info = await this.live(key);
    if (info === undefined) throw notFound(key);
    const path = join(this.cacheDir, `${key}.${info.nuid}`);
    if (await exists(path)) return path;
    const bytes = await this.objects.getBlob(key);
    if (bytes === null) throw notFound(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = join(dirname(path), `.${info.nuid}.${process.pid}.tmp`);
    await writeFile(temporary, bytes);
    await rename(temporary, path);
    return path;
  }

  async exists(key: string): Promise<boolean> {
    validateBlobKey(key);
    return (await this.live(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    if ((await this.live(key)) === undefined) return;
    await this.objects.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    validateBlobPrefix(prefix);
    const infos = await this.objects.list();
    return infos
      .filter((info) => !info.deleted && info.name.startsWith(prefix))
      .map((info) => info.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Stores a file's bytes under `key`, streamed from disk chunk by chunk: a slab may be up
   * to 4 GiB, more than a process should hold at once for a transfer.
   */
  async putFile(key: string, path: string): Promise<void> {
    validateBlobKey(key);
    await this.objects.put({ name: key }, Bun.file(path).stream());
  }

  /**
   * Writes the blob's bytes to `path`, streamed chunk by chunk to a temporary name and renamed
   * into place once the store's digest checked out. NOT_FOUND when absent.
   */
  async getFile(key: string, path: string): Promise<void> {
    validateBlobKey(key);
    const result = await this.objects.get(key);
    if (result === null) throw notFound(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    const writer = Bun.file(temporary).writer();
    try {
      for await (const chunk of result.data) writer.write(chunk);
      await writer.end();
      const failed = await result.error;
      if (failed) throw failed;
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  private async live(key: string): Promise<ObjectInfo | undefined> {
    const info = await this.objects.info(key);
    return info === null || info.deleted ? undefined : info;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
