/**
 * Compaction planning (DESIGN.md decision 1): which slabs of a namespace to merge next, into
 * which level. A pure function of the slab table, so it is tested exhaustively with seeds and
 * every caller (the compactor actor, a future distributed compactor, the stats) agrees.
 *
 * Rules, first match wins:
 *   a. A slab whose dead share is at least `deadShareMax` (and which has at least
 *      `deadRewriteRowsMin` rows) is rewritten alone at its level: its dead rows cost scan
 *      time and disk, and nothing else needs to wait for it. The deadest such slab goes first.
 *   b. Level 0 (flushed memtables, scanned exactly) merges whole into one level 1 slab when it
 *      holds `l0MergeTrigger` slabs, or when the namespace is idle and level 0 holds at least
 *      `indexRowsMin` live rows: a namespace that stopped taking writes gets its rows indexed
 *      instead of scanned.
 *   c. A level n >= 1 holding `levelFanout` slabs merges its `levelFanout` oldest into n + 1.
 * Outputs are split to stay under `slabBytesTarget` (Bun maps at most 4 GiB; a worker builds
 * each output in memory).
 */

/** What planning needs to know of one live slab. */
export interface PlanSlab {
  id: string;
  level: number;
  rowCount: number;
  liveCount: number;
  bytes: number;
}

export type PlanReason = "dead-rows" | "level-0-count" | "level-0-idle" | "level-fanout";

export interface CompactionPlan {
  reason: PlanReason;
  /** Source slab ids, oldest first. */
  sources: string[];
  outputLevel: number;
  /** How many output slabs the live rows are split into (0 when no source row is live). */
  outputCount: number;
  /** Live rows the outputs will hold. */
  liveRows: number;
}

export interface PlanSettings {
  deadShareMax: number;
  deadRewriteRowsMin: number;
  l0MergeTrigger: number;
  indexRowsMin: number;
  levelFanout: number;
  slabBytesTarget: number;
  levelMax: number;
}

export const planSettingsDefault: PlanSettings = {
  deadShareMax: 0.3,
  deadRewriteRowsMin: 1_000,
  l0MergeTrigger: 4,
  indexRowsMin: 10_000,
  levelFanout: 4,
  slabBytesTarget: 1024 ** 3,
  levelMax: 64,
};

/**
 * The next compaction for a namespace whose live slabs are `slabs` (newest first, as the
 * namespace holds them), or undefined when none is due.
 */
export function planCompaction(
  slabs: readonly PlanSlab[],
  idle: boolean,
  settings: PlanSettings = planSettingsDefault,
): CompactionPlan | undefined {
  const oldestFirst = [...slabs].reverse();
  const deadest = oldestFirst
    .filter(
      (slab) => slab.rowCount >= settings.deadRewriteRowsMin && deadShare(slab) >= settings.deadShareMax,
    )
    .sort((a, b) => deadShare(b) - deadShare(a))[0];
  if (deadest) return plan("dead-rows", [deadest], deadest.level, settings);

  const level0 = oldestFirst.filter((slab) => slab.level === 0);
  if (level0.length >= settings.l0MergeTrigger) {
    const merge = merging("level-0-count", level0, 1, settings);
    if (merge) return merge;
  }
  if (idle && level0.length > 0 && sum(level0, (slab) => slab.liveCount) >= settings.indexRowsMin) {
    const merge = merging("level-0-idle", level0, 1, settings);
    if (merge) return merge;
  }

  const levels = [...new Set(oldestFirst.map((slab) => slab.level))]
    .filter((level) => level >= 1)
    .sort((a, b) => a - b);
  for (const level of levels) {
    const atLevel = oldestFirst.filter((slab) => slab.level === level);
    if (atLevel.length < settings.levelFanout) continue;
    const outputLevel = Math.min(level + 1, settings.levelMax);
    const merge = merging("level-fanout", atLevel.slice(0, settings.levelFanout), outputLevel, settings);
    if (merge) return merge;
  }
  return undefined;
}

/**
 * A merge, only when it leaves fewer slabs than it reads (or moves a single slab up a level):
 * sources so big that their outputs split as many ways gain nothing, and planning them again
 * and again would never end.
 */
function merging(
  reason: PlanReason,
  sources: PlanSlab[],
  outputLevel: number,
  settings: PlanSettings,
): CompactionPlan | undefined {
  const merge = plan(reason, sources, outputLevel, settings);
  const movesUp = sources.length === 1 && sources[0]!.level < outputLevel;
  return merge.outputCount < sources.length || movesUp ? merge : undefined;
}

function plan(
  reason: PlanReason,
  sources: PlanSlab[],
  outputLevel: number,
  settings: PlanSettings,
): CompactionPlan {
  const liveRows = sum(sources, (slab) => slab.liveCount);
  // Live bytes estimated from each source's live share (dead rows are dropped).
  const liveBytes = sum(sources, (slab) =>
    slab.rowCount === 0 ? 0 : (slab.bytes * slab.liveCount) / slab.rowCount,
  );
  const outputCount = liveRows === 0 ? 0 : Math.max(1, Math.ceil(liveBytes / settings.slabBytesTarget));
  return { reason, sources: sources.map((slab) => slab.id), outputLevel, outputCount, liveRows };
}

function deadShare(slab: PlanSlab): number {
  return slab.rowCount === 0 ? 0 : 1 - slab.liveCount / slab.rowCount;
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}
