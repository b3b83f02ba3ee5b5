/**
 * Random write workloads for the crash fuzz test, and a model of their effect. The child and
 * the parent derive the same operation sequence from the seed.
 */
import { seededRandom } from "./reference.ts";

export const fuzzNamespaces = ["a", "b", "c"] as const;
export const fuzzIdCount = 25;

export type FuzzOp =
  | { kind: "upsert"; namespace: string; ids: string[]; value: number }
  | { kind: "delete"; namespace: string; ids: string[] }
  | { kind: "update"; namespace: string; id: string; value: number }
  | { kind: "deleteAll"; namespace: string }
  | { kind: "deleteNamespace"; namespace: string };

export function fuzzOps(seed: number, count: number): FuzzOp[] {
  const random = seededRandom(seed);
  const id = () => `x${Math.floor(random() * fuzzIdCount)}`;
  return Array.from({ length: count }, (_, n): FuzzOp => {
    const namespace = fuzzNamespaces[Math.floor(random() * fuzzNamespaces.length)]!;
    const pick = random();
    if (pick < 0.55) return { kind: "upsert", namespace, ids: [id(), id(), id()], value: n };
    if (pick < 0.75) return { kind: "delete", namespace, ids: [id(), id()] };
    if (pick < 0.96) return { kind: "update", namespace, id: id(), value: n };
    if (pick < 0.98) return { kind: "deleteNamespace", namespace };
    return { kind: "deleteAll", namespace };
  });
}

/** namespace -> id -> {value, updated?}: what the engine must hold after a prefix of the ops. */
export type FuzzModel = Map<string, Map<string, { value: number; updated?: number }>>;

export function modelAfter(ops: FuzzOp[], through: number): FuzzModel {
  const model: FuzzModel = new Map(fuzzNamespaces.map((ns) => [ns, new Map()]));
  for (let n = 0; n <= through; n++) {
    const op = ops[n]!;
    const records = model.get(op.namespace)!;
    if (op.kind === "upsert") for (const id of op.ids) records.set(id, { value: op.value });
    if (op.kind === "delete") for (const id of op.ids) records.delete(id);
    if (op.kind === "update" && records.has(op.id))
      records.set(op.id, { ...records.get(op.id)!, updated: op.value });
    if (op.kind === "deleteAll" || op.kind === "deleteNamespace") records.clear();
  }
  return model;
}

export function describeModel(model: FuzzModel): string {
  return JSON.stringify(fuzzNamespaces.map((ns) => [...(model.get(ns) ?? new Map()).entries()].sort()));
}

/**
 * Tiny thresholds so flushes, log rolls, trims, idle passivation, slab eviction and every kind
 * of compaction (merges, splits, dead-row rewrites) all happen.
 */
/** `packedRowsMax` > 0 packs the small namespaces (and graduates those that outgrow it). */
export function fuzzEngineOptions(dir: string, packedRowsMax = 0) {
  return {
    dir,
    packedRowsMax,
    flushRowsMax: 6,
    flushIdleMs: 40,
    logSegmentBytesMax: 400,
    slabMemoryBudgetBytes: 1,
    compaction: { l0MergeTrigger: 3, levelFanout: 2, deadRewriteRowsMin: 4, slabBytesTarget: 2_000 },
    log: () => {},
  };
}
