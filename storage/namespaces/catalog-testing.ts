/** Seeded catalog deltas shared by the catalog store's tests and its crash child. */
import { seededRandom } from "../../ffi/seeded-random.ts";
import type { CatalogDelta } from "./catalog-store.ts";
import { type CatalogEntry, CatalogTable } from "./catalog-table.ts";

/** Delta number i of a seeded sequence: a few entries set (packed or dedicated), some dropped. */
export function deltaFor(seed: number, i: number): CatalogDelta {
  const random = seededRandom(seed * 1_000_003 + i);
  const set: CatalogEntry[] = [];
  const count = 1 + Math.floor(random() * 20);
  for (let e = 0; e < count; e++) {
    const namespace = `ns-${Math.floor(random() * 500)}`;
    set.push({
      namespace,
      explicit: random() < 0.1,
      flushedLsn: BigInt(i * 100 + e),
      records: Math.floor(random() * 4),
      location:
        random() < 0.8
          ? {
              kind: "packed",
              slab: `packed-${i}`,
              runStart: e * 3,
              runLength: 3,
              ...(random() < 0.2 ? { deleted: new Uint8Array([Math.floor(random() * 8)]) } : {}),
            }
          : { kind: "dedicated" },
      manifestVersion: i + 1,
      ...(random() < 0.3 ? { levels: Float64Array.from([0, 1, 3, 2, 900]) } : {}),
    });
  }
  const drop = random() < 0.3 ? [`ns-${Math.floor(random() * 500)}`] : [];
  return { set, drop: drop.filter((name) => !set.some((entry) => entry.namespace === name)) };
}

/** The table after deltas 0..count-1. */
export function tableAfter(seed: number, count: number): CatalogTable {
  const table = new CatalogTable();
  for (let i = 0; i < count; i++) {
    const delta = deltaFor(seed, i);
    for (const entry of delta.set) table.set(entry);
    for (const name of delta.drop) table.delete(name);
  }
  return table;
}

/** Every entry, sorted by name: what two tables are compared by. */
export function contents(table: CatalogTable): CatalogEntry[] {
  return [...table.entries()].sort((a, b) =>
    a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0,
  );
}
