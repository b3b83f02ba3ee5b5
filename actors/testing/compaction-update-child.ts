/**
 * Child for the compaction crash test's deterministic case: four flushed slabs, then an update
 * and a delete that only the log holds (no flush after them), then a compaction of the four
 * slabs, then SIGKILL to itself. The parent reopens and checks that both writes survived: their
 * replay must find the rows they replaced, so the compaction must have kept those rows.
 * Usage: bun actors/testing/compaction-update-child.ts <dir>
 */
import { openEngine } from "../mod.ts";

const [dir] = process.argv.slice(2);
const engine = await openEngine({
  dir: dir!,
  flushRowsMax: 100,
  flushIdleMs: 60_000,
  packedRowsMax: 0,
  compaction: { paused: true },
  log: () => {},
});
await engine.createIndex({ name: "u", dimension: 4, metric: "euclidean", vectorType: "dense" });
for (let slab = 0; slab < 4; slab++) {
  // 100 rows: exactly one flush each.
  const records = Array.from({ length: 100 }, (_, i) => ({
    id: `s${slab}-${i}`,
    values: Float32Array.from([slab, i, 0, 1]),
    metadata: { slab, i },
  }));
  await engine.upsert("u", "ns", records);
}
// Flushes run in the background: wait for the fourth slab (its commit reports to the compactor).
while ((await engine.describeIndexStats("u")).compaction?.levels[0]?.slabs !== 4) await Bun.sleep(5);
await engine.update("u", "ns", { id: "s0-7", setMetadata: { updated: true } });
await engine.delete("u", "ns", { ids: ["s1-3"] });
await engine.resumeCompaction();
const status = await engine.compactionSettled();
const stats = await engine.describeIndexStats("u");
process.stdout.write(
  `${JSON.stringify({ completed: status.completed, levels: stats.compaction?.levels })}\n`,
);
process.kill(process.pid, "SIGKILL");
