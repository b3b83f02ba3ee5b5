/**
 * Packed slabs are read by many run views at once (one slab actor per namespace run,
 * storage/namespaces/run-view.ts): they share one mapping of the file, counted here, closed
 * when the last view lets go.
 */
import { SlabReader } from "../../storage/slab/mod.ts";

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

/** Open shared mappings (for tests and stats). */
export function sharedReaderCount(): number {
  return open.size;
}
