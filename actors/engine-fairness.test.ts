/**
 * Fairness between tenants (issue 7): each namespace has its own mailbox, so a bulk load
 * queued on one namespace does not queue another tenant's reads or writes behind it. Shown by
 * order of events, not by time: while 200 upserts wait in the loader's mailbox (each one
 * waits for its own fsync), a small tenant's queries and writes all complete before the
 * loader has finished even a quarter of its backlog.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEngine } from "./mod.ts";
import { randomVector, seededRandom } from "./testing/reference.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

test("a small tenant is not queued behind a bulk load in another namespace", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-fairness-"));
  dirs.push(dir);
  const engine = await openEngine({ dir, log: () => {} });
  const random = seededRandom(5);
  const dim = 16;
  await engine.createIndex({ name: "shared", dimension: dim, metric: "cosine", vectorType: "dense" });
  await engine.upsert("shared", "small", [{ id: "a", values: randomVector(random, dim) }]);
  const backlog = 200;
  let loaded = 0;
  const bulk = Array.from({ length: backlog }, (_, batch) =>
    engine
      .upsert(
        "shared",
        "bulk",
        Array.from({ length: 100 }, (_, i) => ({ id: `b${batch}-${i}`, values: randomVector(random, dim) })),
      )
      .then(() => {
        loaded++;
      }),
  );
  const progress: number[] = [];
  for (let round = 0; round < 5; round++) {
    const result = await engine.query("shared", "small", {
      topK: 1,
      vector: randomVector(random, dim),
      includeValues: false,
      includeMetadata: false,
    });
    // Only the small tenant's own records: "a" and the writes of earlier rounds.
    const own = ["a", ...Array.from({ length: round }, (_, r) => `s${r}`)];
    expect(result.matches).toHaveLength(1);
    expect(own).toContain(result.matches[0]!.id);
    await engine.upsert("shared", "small", [{ id: `s${round}`, values: randomVector(random, dim) }]);
    progress.push(loaded);
  }
  // The small tenant's five queries and five writes were served while the loader's backlog
  // was still mostly waiting.
  console.log(
    `fairness: the loader had finished ${progress.join(", ")} of ${backlog} batches after each round`,
  );
  expect(progress[progress.length - 1]!).toBeLessThan(backlog / 4);
  await Promise.all(bulk);
  expect(loaded).toBe(backlog);
  expect((await engine.describeNamespace("shared", "small")).recordCount).toBe(6);
  expect((await engine.describeNamespace("shared", "bulk")).recordCount).toBe(backlog * 100);
  await engine.close();
});
