/**
 * planCompaction: each rule on a hand-made table, then a seeded property test that applies
 * plans until none is due, over random slab tables: sources exist and are distinct, live rows
 * are conserved, outputs stay under the size target, planning ends, and the end state has no
 * rule left to fire.
 */
import { describe, expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { type CompactionPlan, type PlanSlab, planCompaction, planSettingsDefault } from "./plan.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`plan.test.ts seed=${seed} (NEEDLE_TEST_SEED to replay)`);

const rowBytes = 1_100;

function slab(id: string, level: number, rowCount: number, liveCount = rowCount): PlanSlab {
  return { id, level, rowCount, liveCount, bytes: rowCount * rowBytes };
}

describe("rules", () => {
  test("nothing is due for a few fresh slabs", () => {
    expect(
      planCompaction([slab("c", 0, 500), slab("b", 0, 500), slab("a", 1, 50_000)], false),
    ).toBeUndefined();
  });

  test("a slab with 30 % dead rows is rewritten alone at its level, the deadest first", () => {
    const plan = planCompaction(
      [slab("b", 1, 10_000, 6_000), slab("a", 2, 10_000, 2_000), slab("c", 0, 100, 1)],
      false,
    );
    expect(plan).toEqual({
      reason: "dead-rows",
      sources: ["a"],
      outputLevel: 2,
      outputCount: 1,
      liveRows: 2_000,
    });
  });

  test("a fully dead slab is rewritten into nothing", () => {
    expect(planCompaction([slab("a", 1, 5_000, 0)], false)).toMatchObject({ sources: ["a"], outputCount: 0 });
  });

  test("four level 0 slabs merge into level 1, oldest first", () => {
    const slabs = ["d", "c", "b", "a"].map((id) => slab(id, 0, 1_000));
    expect(planCompaction(slabs, false)).toEqual({
      reason: "level-0-count",
      sources: ["a", "b", "c", "d"],
      outputLevel: 1,
      outputCount: 1,
      liveRows: 4_000,
    });
  });

  test("an idle namespace indexes its level 0 rows once they are worth it", () => {
    const slabs = [slab("b", 0, 6_000), slab("a", 0, 5_000)];
    expect(planCompaction(slabs, false)).toBeUndefined();
    expect(planCompaction(slabs, true)).toMatchObject({
      reason: "level-0-idle",
      sources: ["a", "b"],
      outputLevel: 1,
    });
    expect(planCompaction([slab("a", 0, 9_999)], true)).toBeUndefined();
    expect(planCompaction([slab("a", 0, 10_000)], true)).toMatchObject({ sources: ["a"], outputLevel: 1 });
  });

  test("a full level merges its four oldest one level up; lower levels first", () => {
    const slabs = [
      ...["f", "e", "d", "c", "b"].map((id) => slab(id, 2, 100_000)),
      ...["j", "i", "h", "g"].map((id) => slab(id, 1, 40_000)),
    ];
    expect(planCompaction(slabs, false)).toMatchObject({
      reason: "level-fanout",
      sources: ["g", "h", "i", "j"],
      outputLevel: 2,
    });
    expect(planCompaction(slabs.slice(0, 5), false)).toMatchObject({
      sources: ["b", "c", "d", "e"],
      outputLevel: 3,
    });
  });

  test("outputs are split under the size target; a merge that would not reduce the slab count is not planned", () => {
    const target = planSettingsDefault.slabBytesTarget;
    const rows = Math.floor((0.6 * target) / rowBytes);
    const plan = planCompaction(
      ["d", "c", "b", "a"].map((id) => slab(id, 1, rows)),
      false,
    );
    expect(plan).toMatchObject({ outputCount: 3, outputLevel: 2 });
    const huge = Math.floor((1.5 * target) / rowBytes);
    expect(
      planCompaction(
        ["d", "c", "b", "a"].map((id) => slab(id, 1, huge)),
        false,
      ),
    ).toBeUndefined();
  });
});

test(`seeded tables: plans run to a fixed point conserving rows (seed ${seed})`, () => {
  const random = seededRandom(seed);
  const settings = planSettingsDefault;
  for (let table = 0; table < 300; table++) {
    let nextId = 0;
    let slabs: PlanSlab[] = Array.from({ length: Math.floor(random() * 30) }, () => {
      const level = Math.floor(random() * 4);
      // Level 0 slabs are flushed memtables (at most 64 MiB by default); higher ones any size.
      const rows = 1 + Math.floor(random() ** 3 * (level === 0 ? 60_000 : 2_000_000));
      const live = random() < 0.3 ? Math.floor(random() * rows) : rows;
      return slab(`s${nextId++}`, level, rows, live);
    });
    const liveTotal = slabs.reduce((total, s) => total + s.liveCount, 0);
    const idle = random() < 0.5;
    let steps = 0;
    for (let plan = planCompaction(slabs, idle); plan; plan = planCompaction(slabs, idle)) {
      slabs = apply(slabs, plan, () => `s${nextId++}`);
      if (++steps > 1_000) throw new Error(`seed ${seed} table ${table}: planning does not end`);
    }
    expect(slabs.reduce((total, s) => total + s.liveCount, 0)).toBe(liveTotal);
    for (const s of slabs) {
      if (s.rowCount >= settings.deadRewriteRowsMin)
        expect(s.liveCount / s.rowCount).toBeGreaterThan(1 - settings.deadShareMax);
    }
    const level0 = slabs.filter((s) => s.level === 0);
    if (idle)
      expect(
        level0.reduce((total, s) => total + s.liveCount, 0) < settings.indexRowsMin || level0.length === 0,
      ).toBe(true);
  }
});

/** The slab table after `plan` ran: sources out, outputs (newest) in. */
function apply(slabs: PlanSlab[], plan: CompactionPlan, newId: () => string): PlanSlab[] {
  const sources = new Set(plan.sources);
  expect(sources.size).toBe(plan.sources.length);
  const taken = slabs.filter((s) => sources.has(s.id));
  expect(taken.length).toBe(sources.size);
  expect(taken.reduce((total, s) => total + s.liveCount, 0)).toBe(plan.liveRows);
  const outputs: PlanSlab[] = [];
  for (let i = 0; i < plan.outputCount; i++) {
    const rows =
      Math.floor(plan.liveRows / plan.outputCount) + (i < plan.liveRows % plan.outputCount ? 1 : 0);
    expect(rows * rowBytes).toBeLessThanOrEqual(planSettingsDefault.slabBytesTarget + rowBytes);
    if (rows > 0) outputs.push(slab(newId(), plan.outputLevel, rows));
  }
  return [...outputs, ...slabs.filter((s) => !sources.has(s.id))];
}
