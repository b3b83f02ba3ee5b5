/**
 * Crash test for compaction (storage/compaction/DESIGN.md, step 2c): a child process writes
 * while its compactions run, and is killed with SIGKILL as a chosen compaction step begins
 * (build, put, commit, swap, retire, or just after one finished). After each kill the data
 * directory is reopened and checked: every acknowledged op is there with its newest version,
 * the op in flight is all or nothing, nothing else exists, and once the index is active no slab
 * file is an orphan and none the manifests name is missing.
 */
import { expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEngine } from "./mod.ts";
import { forEachLine } from "./testing/child-lines.ts";
import { compactionCrashSettings, compactionIds, compactionModel } from "./testing/compaction-ops.ts";
import { seededRandom } from "./testing/reference.ts";
import { slabFilesAndReferences } from "./testing/slab-files.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
const steps = ["build", "put", "commit", "swap", "retire", "done"] as const;
const trials = 12;
/** If the chosen step never comes (the child is slower than expected), kill after this. */
const fallbackKillMs = 4_000;

async function runChild(
  dir: string,
  first: number,
  step: string,
  occurrence: number,
): Promise<{ acked: number; killedAtStep: boolean }> {
  const child = Bun.spawn(
    [process.execPath, join(import.meta.dir, "testing/compaction-child.ts"), dir, `${first}`],
    {
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  let acked = first - 1;
  let seen = 0;
  let killedAtStep = false;
  const fallback = setTimeout(() => child.kill("SIGKILL"), fallbackKillMs);
  await forEachLine(child.stdout, (line) => {
    const ack = /^ack (\d+)$/.exec(line);
    if (ack) acked = Number(ack[1]);
    const stepBegins = line.startsWith("log ") && line.includes(`"step":"${step}"`);
    if (!killedAtStep && stepBegins && ++seen === occurrence) {
      child.kill("SIGKILL");
      killedAtStep = true;
    }
  });
  clearTimeout(fallback);
  await child.exited;
  return { acked, killedAtStep };
}

test(
  `SIGKILL at every compaction step loses no acknowledged write and leaves no orphan (seed=${seed})`,
  async () => {
    console.log(`engine-compaction-crash seed=${seed} (NEEDLE_TEST_SEED=${seed} replays)`);
    const random = seededRandom(seed);
    const dir = await mkdtemp(join(tmpdir(), "needle-compaction-crash-"));
    let complete = 0; // ops 0..complete-1 are known to be applied
    const killedAt = new Set<string>();
    try {
      for (let trial = 0; trial < trials; trial++) {
        const step = steps[trial % steps.length]!;
        const occurrence = 1 + Math.floor(random() * 3);
        const { acked, killedAtStep } = await runChild(dir, complete, step, occurrence);
        if (killedAtStep) killedAt.add(step);
        // Paused: a compaction started by this check would put files no manifest names yet.
        const engine = await openEngine({
          dir,
          ...compactionCrashSettings,
          compaction: { ...compactionCrashSettings.compaction, paused: true },
          log: () => {},
        });
        try {
          const inFlight = acked + 1;
          const ids = compactionIds(inFlight);
          const fetched = await engine.fetch("c", "ns", ids);
          const got = new Map(
            fetched.records.map((r) => [r.id, (r.metadata as { version: number }).version]),
          );
          const without = compactionModel(acked);
          const withIt = compactionModel(inFlight);
          const same = (model: Map<string, number>) =>
            model.size === got.size && [...model].every(([id, version]) => got.get(id) === version);
          const applied = same(withIt) && !same(without);
          if (!same(without) && !same(withIt)) {
            const missing = [...without].filter(([id, v]) => got.get(id) !== v).slice(0, 5);
            throw new Error(
              `trial ${trial} (kill at ${step} #${occurrence}): the records match neither ops 0..${acked} nor 0..${inFlight}; first differences: ${JSON.stringify(missing)}`,
            );
          }
          complete = applied ? inFlight + 1 : acked + 1;
          const stats = await engine.describeIndexStats("c");
          expect(stats.totalVectorCount).toBe(compactionModel(complete - 1).size);
          const { files, referenced } = await slabFilesAndReferences(dir, "c");
          expect(files).toEqual(referenced);
        } finally {
          await engine.close();
        }
      }
      // The kills must have landed inside compactions, not only between them.
      expect(killedAt.size).toBeGreaterThanOrEqual(4);
      expect(complete).toBeGreaterThan(10);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
  { timeout: 120_000 },
);

test("an update and a delete only the log holds survive a compaction and a crash", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-compaction-update-"));
  try {
    const child = Bun.spawn(
      [process.execPath, join(import.meta.dir, "testing/compaction-update-child.ts"), dir],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    const output = await new Response(child.stdout).text();
    expect(await child.exited).not.toBe(0); // killed, not closed
    const report = JSON.parse(output.trim()) as {
      completed: number;
      levels: { level: number; slabs: number }[];
    };
    // The four level-0 slabs were merged into one level-1 slab before the crash.
    expect(report.completed).toBe(1);
    expect(report.levels.find((level) => level.level === 1)?.slabs).toBe(1);
    const engine = await openEngine({ dir, packedRowsMax: 0, compaction: { paused: true }, log: () => {} });
    try {
      const fetched = await engine.fetch("u", "ns", ["s0-7", "s1-3", "s2-5"]);
      const byId = new Map(fetched.records.map((r) => [r.id, r.metadata]));
      expect(byId.get("s0-7")).toEqual({ slab: 0, i: 7, updated: true });
      expect(byId.has("s1-3")).toBe(false);
      expect(byId.get("s2-5")).toEqual({ slab: 2, i: 5 });
      expect((await engine.describeIndexStats("u")).totalVectorCount).toBe(399);
    } finally {
      await engine.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
