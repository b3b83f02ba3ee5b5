/** The blob store interface: named immutable-ish byte objects (slabs, snapshots) by key. */
export interface BlobStore {
  /** Durable when resolved. Overwrites. The store keeps its own copy of `bytes`. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** NOT_FOUND NeedleError if absent. The caller owns the returned bytes. */
  get(key: string): Promise<Uint8Array>;
  /** A local file path holding the blob, for memory-mapping (local store: the file itself; a remote store will return a cached copy). NOT_FOUND if absent. */
  localPath(key: string): Promise<string>;
  exists(key: string): Promise<boolean>;
  /** Removes the blob; deleting an absent key is not an error (deletes are retried by cleanup). */
  delete(key: string): Promise<void>;
  /** Keys starting with prefix, sorted (JavaScript string order: code units). */
  list(prefix: string): Promise<string[]>;
}
