/**
 * What a replay slice needs of each namespace's flushed state (replay-slice.ts): its explicit
 * flag and flushed LSN from the catalog, and where its current packed run is, so the builder
 * thread reads the runs itself (each file opened once there; no record of them on the event
 * loop). Used by the bulk replay (index-actor.ts) and packed compaction alike.
 */
import type { CatalogTable } from "../../storage/namespaces/catalog-table.ts";
import type { BaseRuns } from "./replay-slice.ts";

export async function sliceRuns(
  names: readonly string[],
  table: CatalogTable,
  localPath: (slab: string) => Promise<string>,
): Promise<{ explicit: Uint8Array<ArrayBuffer>; flushedLsn: BigUint64Array<ArrayBuffer>; runs: BaseRuns }> {
  const explicit = new Uint8Array(names.length);
  const flushedLsn = new BigUint64Array(names.length);
  const runs: BaseRuns = {
    files: [],
    file: new Int32Array(names.length).fill(-1),
    start: new Uint32Array(names.length),
    length: new Uint32Array(names.length),
  };
  const fileIndex = new Map<string, number>();
  for (const [i, namespace] of names.entries()) {
    const entry = table.get(namespace);
    if (entry === undefined) continue;
    explicit[i] = entry.explicit ? 1 : 0;
    flushedLsn[i] = entry.flushedLsn;
    const location = entry.location;
    if (location.kind !== "packed" || location.runLength === 0) continue;
    let index = fileIndex.get(location.slab);
    if (index === undefined) {
      index = runs.files.length;
      runs.files.push(await localPath(location.slab));
      fileIndex.set(location.slab, index);
    }
    runs.file[i] = index;
    runs.start[i] = location.runStart;
    runs.length[i] = location.runLength;
  }
  return { explicit, flushedLsn, runs };
}
