/**
 * Packed slabs are read by many run views at once (one slab actor per namespace run,
 * storage/namespaces/run-view.ts): they share one mapping of the file, counted here, closed
 * when the last view lets go.
 */
import type { BlobStore } from "../../storage/blob/mod.ts";
import { RunView } from "../../storage/namespaces/run-view.ts";
import { SlabReader } from "../../storage/slab/mod.ts";
import type { VectorRecord } from "../../storage/types.ts";
import { slabKey } from "../layout.ts";

const open = new Map<string, { reader: SlabReader; references: number }>();

export function acquireReader(path: string): SlabReader {
  let shared = open.get(path);
  if (shared === undefined) {
    shared = { reader: SlabReader.openFile(path), references: 0 };
    open.set(path, shared);
  }
  shared.references++;
  return shared.reader;
}

export function releaseReader(path: string): void {
  const shared = open.get(path);
  if (shared === undefined) return;
  shared.references--;
  if (shared.references === 0) {
    open.delete(path);
    shared.reader.close();
  }
}

/** A namespace's run of the packed file at `path`, over the shared mapping (released on close). */
export function openRunView(path: string, namespace: string): RunView {
  const reader = acquireReader(path);
  try {
    return new RunView(reader, namespace, () => releaseReader(path));
  } catch (error) {
    releaseReader(path);
    throw error;
  }
}

/**
 * Records of a namespace's run of a packed slab (the given rows, or all of them: a run holds
 * live rows only), read from the file itself rather than through the run's slab actor.
 */
export async function readRunRecords(
  blobs: BlobStore,
  index: string,
  slabId: string,
  namespace: string,
  rows?: number[],
): Promise<VectorRecord[]> {
  const view = openRunView(await blobs.localPath(slabKey(index, slabId)), namespace);
  try {
    const wanted = rows ?? Array.from({ length: view.info.rowCount }, (_, row) => row);
    return wanted.map((row) => view.record(row, { values: true, metadata: true }));
  } finally {
    view.close();
  }
}

/** Open shared mappings (for tests and stats). */
export function sharedReaderCount(): number {
  return open.size;
}
