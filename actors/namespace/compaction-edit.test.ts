/**
 * editManifest and mapLive over seeded manifests: output rows are deleted exactly where their
 * source rows are deleted in the manifest the commit edits (which may be newer than the one the
 * compaction snapshotted, and may have dropped a fully dead source), other slabs and fields are
 * untouched, and outputs take the newest source's place.
 */
import { beforeAll, expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { initBitmaps, RowBitmap } from "../../storage/bitmap.ts";
import { type CompactionOutput, editManifest, mapLive } from "./compaction-edit.ts";
import { deletedBytes } from "./deletions.ts";
import type { NamespaceManifest, SlabManifestEntry } from "./manifest.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`compaction-edit.test.ts seed=${seed} (NEEDLE_TEST_SEED to replay)`);

beforeAll(async () => {
  await initBitmaps();
});

function deadRows(entry: SlabManifestEntry): Set<number> {
  const bitmap = RowBitmap.deserialize(entry.deleted, "test");
  try {
    return new Set(bitmap.toUint32Array());
  } finally {
    bitmap.dispose();
  }
}

function entryWithDead(id: string, rowCount: number, dead: Set<number>, level = 0): SlabManifestEntry {
  const live = new Uint8Array((rowCount + 7) >> 3);
  for (let row = 0; row < rowCount; row++) if (!dead.has(row)) live[row >> 3]! |= 1 << (row & 7);
  return { id, level, rowCount, minLsn: 1n, maxLsn: 9n, deleted: deletedBytes(live, rowCount) };
}

test(`seeded manifests: deletions follow the committed manifest row for row (seed ${seed})`, () => {
  const random = seededRandom(seed);
  for (let trial = 0; trial < 200; trial++) {
    const slabCount = 1 + Math.floor(random() * 6);
    const dead = new Map<string, Set<number>>();
    const rowCounts = new Map<string, number>();
    const snapshot: SlabManifestEntry[] = [];
    for (let i = 0; i < slabCount; i++) {
      const id = `slab${i}`;
      const rowCount = 1 + Math.floor(random() * 300);
      const deadRowsOf = new Set<number>();
      for (let row = 0; row < rowCount; row++) if (random() < 0.2) deadRowsOf.add(row);
      dead.set(id, deadRowsOf);
      rowCounts.set(id, rowCount);
      snapshot.push(entryWithDead(id, rowCount, deadRowsOf));
    }
    const sources = snapshot.filter(() => random() < 0.6).map((entry) => entry.id);
    if (sources.length === 0) sources.push(snapshot[0]!.id);

    // The compaction copies the rows live at the snapshot, into one or two outputs.
    const origins: [number, number][] = [];
    sources.forEach((id, position) => {
      for (let row = 0; row < rowCounts.get(id)!; row++)
        if (!dead.get(id)!.has(row)) origins.push([position, row]);
    });
    const split = Math.floor(random() * (origins.length + 1));
    const outputs: CompactionOutput[] = [origins.slice(0, split), origins.slice(split)]
      .filter((part) => part.length > 0)
      .map((part, i) => ({
        id: `out${i}`,
        level: 1,
        minLsn: 1n,
        maxLsn: 9n,
        rows: { source: Uint32Array.from(part, ([s]) => s), row: Uint32Array.from(part, ([, r]) => r) },
      }));

    // Meanwhile a flush committed more deletions, and dropped a source that became fully dead.
    const later = new Map([...dead].map(([id, rows]) => [id, new Set(rows)]));
    for (const [id, rows] of later)
      for (let row = 0; row < rowCounts.get(id)!; row++) if (random() < 0.1) rows.add(row);
    const dropped = random() < 0.3 ? sources[Math.floor(random() * sources.length)] : undefined;
    const committed: NamespaceManifest = {
      namespace: "ns",
      explicit: false,
      flushedLsn: 42n,
      nextSlabSeq: 7,
      slabs: [
        entryWithDead("fresh", 5, new Set()),
        ...snapshot
          .filter((entry) => entry.id !== dropped)
          .map((entry) => entryWithDead(entry.id, entry.rowCount, later.get(entry.id)!)),
      ],
    };

    const edited = editManifest(committed, sources, outputs, "test");
    expect({ ...edited, slabs: [] }).toEqual({ ...committed, slabs: [] });
    const kept = committed.slabs.filter((entry) => !sources.includes(entry.id));
    expect(edited.slabs.filter((entry) => !entry.id.startsWith("out"))).toEqual(kept);
    const firstSource = committed.slabs.findIndex((entry) => sources.includes(entry.id));
    const firstOutput = edited.slabs.findIndex((entry) => entry.id.startsWith("out"));
    if (outputs.length > 0) expect(firstOutput).toBe(firstSource === -1 ? 0 : firstSource);
    for (const output of outputs) {
      const entry = edited.slabs.find((slab) => slab.id === output.id)!;
      expect(entry.rowCount).toBe(output.rows.source.length);
      const deleted = deadRows(entry);
      for (let out = 0; out < entry.rowCount; out++) {
        const source = sources[output.rows.source[out]!]!;
        const expected = source === dropped || later.get(source)!.has(output.rows.row[out]!);
        if (deleted.has(out) !== expected)
          throw new Error(`seed ${seed} trial ${trial}: output row ${out} deleted=${deleted.has(out)}`);
      }

      // The in-memory swap: the same mapping over live bitsets.
      const liveBySource = sources.map((id) => {
        if (id === dropped) return undefined;
        const bits = new Uint8Array((rowCounts.get(id)! + 7) >> 3);
        for (let row = 0; row < rowCounts.get(id)!; row++)
          if (!later.get(id)!.has(row)) bits[row >> 3]! |= 1 << (row & 7);
        return bits;
      });
      const { live, liveCount } = mapLive(output.rows, liveBySource);
      let count = 0;
      for (let out = 0; out < entry.rowCount; out++) {
        const isLive = ((live[out >> 3]! >> (out & 7)) & 1) === 1;
        expect(isLive).toBe(!deleted.has(out));
        if (isLive) count++;
      }
      expect(liveCount).toBe(count);
    }
  }
});
