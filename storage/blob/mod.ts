/**
 * Blob stores: named byte objects (slabs, snapshots) by `/`-separated key. One interface, a
 * local-directory implementation now, a NATS Object Store one later; both must pass
 * blob-store.suite.ts. Why: storage/DESIGN.md "Blob store".
 */
export type { BlobStore } from "./blob-store.ts";
export { blobKeyBytesMax, blobKeyRule, validateBlobKey, validateBlobPrefix } from "./keys.ts";
export { LocalBlobStore } from "./local.ts";
