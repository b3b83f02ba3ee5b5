/**
 * A namespace's catalog entry (storage/namespaces/DESIGN.md) from its committed manifest: what
 * the index's catalog holds so that stats and listings need not activate the namespace. The
 * namespace computes it after each commit; the index computes it the same way when it finds
 * the catalog behind a manifest after a crash (or on the first open of an older data
 * directory). Counts are of the committed state: rows live in the manifest's slabs.
 */
import type { CatalogEntry } from "../../storage/namespaces/catalog-table.ts";
import { estimatedSlabBytes, type NamespaceManifest, type SlabManifestEntry } from "./manifest.ts";

/** Five numbers per level, ascending by level: level, slabs, rows, live rows, bytes. */
export const levelStatsWidth = 5;

export function catalogEntryOf(
  manifest: NamespaceManifest,
  version: number,
  dimension: number,
  liveCountOf: (slab: SlabManifestEntry) => number,
): CatalogEntry {
  const levels = new Map<number, number[]>();
  let records = 0;
  for (const slab of manifest.slabs) {
    const live = liveCountOf(slab);
    records += live;
    const stats = levels.get(slab.level) ?? [slab.level, 0, 0, 0, 0];
    stats[1]! += 1;
    stats[2]! += slab.rowCount;
    stats[3]! += live;
    stats[4]! += slab.bytes ?? estimatedSlabBytes(slab.rowCount, dimension);
    levels.set(slab.level, stats);
  }
  const flat = [...levels.keys()].sort((a, b) => a - b).flatMap((level) => levels.get(level)!);
  return {
    namespace: manifest.namespace,
    explicit: manifest.explicit,
    flushedLsn: manifest.flushedLsn,
    records,
    location: { kind: "dedicated" },
    manifestVersion: version,
    ...(flat.length > 0 ? { levels: Float64Array.from(flat) } : {}),
  };
}
