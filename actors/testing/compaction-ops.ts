/**
 * Deterministic writes for the compaction crash test: op n upserts 20 new records and
 * overwrites 10 of op n-2's (so slabs collect dead rows); every third op deletes 8 ids of an
 * older op instead, and some others update (by filter) every record still at version n-3: an
 * update replayed after a crash must find the row it replaces, which only a compaction that
 * builds from the committed manifest keeps. The child and the parent derive the same ops.
 */
import type { VectorRecord } from "../../storage/types.ts";

export const compactionOpDim = 8;

export type CompactionOp =
  | { kind: "upsert"; records: VectorRecord[] }
  | { kind: "delete"; ids: string[] }
  | { kind: "update"; fromVersion: number; toVersion: number };

function record(id: string, version: number): VectorRecord {
  return {
    id,
    values: Float32Array.from({ length: compactionOpDim }, (_, d) => Math.sin(version * 7.1 + d) + d / 10),
    metadata: { version },
  };
}

export function compactionOp(n: number): CompactionOp {
  if (n % 3 === 2) return { kind: "delete", ids: Array.from({ length: 8 }, (_, i) => `r${n - 5}-${i * 2}`) };
  if (n % 4 === 3) return { kind: "update", fromVersion: n - 3, toVersion: n };
  const records = Array.from({ length: 20 }, (_, i) => record(`r${n}-${i}`, n));
  if (n >= 2) for (let i = 0; i < 10; i++) records.push(record(`r${n - 2}-${i}`, n));
  return { kind: "upsert", records };
}

/** id -> version after ops 0..through (inclusive). */
export function compactionModel(through: number): Map<string, number> {
  const model = new Map<string, number>();
  for (let n = 0; n <= through; n++) {
    const op = compactionOp(n);
    if (op.kind === "delete") for (const id of op.ids) model.delete(id);
    else if (op.kind === "update") {
      for (const [id, version] of model) if (version === op.fromVersion) model.set(id, op.toVersion);
    } else for (const r of op.records) model.set(r.id, (r.metadata as { version: number }).version);
  }
  return model;
}

/** Every id any op up to `through` names. */
export function compactionIds(through: number): string[] {
  const ids = new Set<string>();
  for (let n = 0; n <= through; n++) {
    const op = compactionOp(n);
    if (op.kind === "delete") for (const id of op.ids) ids.add(id);
    if (op.kind === "upsert") for (const r of op.records) ids.add(r.id);
  }
  return [...ids];
}

/** Small thresholds so every few ops flush, merge, split and rewrite. */
export const compactionCrashSettings = {
  // Compaction is about a namespace's own slabs: packing small namespaces is off here.
  packedRowsMax: 0,
  flushRowsMax: 60,
  flushIdleMs: 50,
  compaction: { l0MergeTrigger: 2, levelFanout: 2, deadRewriteRowsMin: 20, slabBytesTarget: 16_384 },
};
