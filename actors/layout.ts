/**
 * Where an index's durable state lives, relative to the data directory (and, for slabs, as
 * blob-store keys). One module so the layout is written down once:
 *
 *   <data>/catalog/                          index catalog manifests
 *   <data>/indexes/<index>/log/              the index's request log segments
 *   <data>/indexes/<index>/namespaces/<h>/   one namespace's manifests (h = hash of its name)
 *   blob key indexes/<index>/slabs/<id>.slab  slab files
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

export function catalogDir(dataDir: string): string {
  return join(dataDir, "catalog");
}

export function indexDir(dataDir: string, index: string): string {
  return join(dataDir, "indexes", index);
}

export function logDir(dataDir: string, index: string): string {
  return join(indexDir(dataDir, index), "log");
}

export function namespacesDir(dataDir: string, index: string): string {
  return join(indexDir(dataDir, index), "namespaces");
}

/** Namespace names may be 512 arbitrary ASCII characters: the directory is named by a hash. */
export function namespaceDir(dataDir: string, index: string, namespace: string): string {
  const hash = createHash("sha256").update(namespace).digest("hex").slice(0, 32);
  return join(namespacesDir(dataDir, index), hash);
}

export function slabKey(index: string, slabId: string): string {
  return `indexes/${index}/slabs/${slabId}.slab`;
}

/**
 * A slab file, by its path inside an index directory (`slabs/<id>.slab`): written once and
 * never changed, so backups and checkpoints share it by hard link or by content hash.
 */
export function isSlabFile(relativePath: string): boolean {
  return relativePath.startsWith("slabs/") && relativePath.endsWith(".slab");
}

export function slabPrefix(index: string): string {
  return `indexes/${index}/slabs/`;
}

/** Actor keys. Index names never contain "/", so the first "/" separates the parts. */
export function namespaceKey(index: string, namespace: string): string {
  return `${index}/${namespace}`;
}

export function splitKey(key: string): [string, string] {
  const at = key.indexOf("/");
  return [key.slice(0, at), key.slice(at + 1)];
}

export const defaultNamespace = "__default__";

/** "" and "__default__" are the same namespace; it is reported as "__default__". */
export function canonicalNamespace(namespace: string): string {
  return namespace === "" ? defaultNamespace : namespace;
}
