/**
 * Regression tests for engine lifecycle and race bugs found in review: updates racing a flush,
 * delete-then-recreate of an index, concurrent creates, and records that do not fit the index.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NeedleError } from "../storage/errors.ts";
import { parseFilter } from "../storage/filter/mod.ts";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function engineIn(options: Record<string, unknown> = {}): Promise<{ engine: Engine; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "needle-life-"));
  dirs.push(dir);
  return { engine: await openEngine({ dir, log: () => {}, ...options }), dir };
}
function record(id: string, group: string) {
  return { id, values: Float32Array.from([1, 2]), metadata: { group } };
}
async function allIds(engine: Engine, index: string, namespace: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await engine.list(index, namespace, { limit: 100, paginationToken: token });
    ids.push(...page.ids);
    token = page.next;
  } while (token);
  return ids;
}

test("updates by filter racing background flushes never leave an id live twice", async () => {
  // Tiny memtables and a slab budget of one byte: every batch flushes, every slab read may
  // reactivate an evicted slab actor, so updates often await while a flush swaps.
  const { engine, dir } = await engineIn({ flushRowsMax: 5, flushIdleMs: 600_000, slabMemoryBudgetBytes: 1 });
  await engine.createIndex({ name: "race", dimension: 2, metric: "cosine", vectorType: "dense" });
  // Two older pools in two slabs, so an update reads records from several slab actors.
  for (const pool of ["p", "q"]) {
    await engine.upsert(
      "race",
      "n",
      Array.from({ length: 40 }, (_, i) => record(`${pool}${i}`, `${pool}${i}`)),
    );
    await Bun.sleep(50);
  }
  let expected = 80;
  for (let round = 0; round < 40; round++) {
    await engine.upsert(
      "race",
      "n",
      [0, 1, 2, 3, 4].map((i) => record(`m${round}-${i}`, `m${round}`)),
    );
    expected += 5;
    // Let the background flush get going so the update's slab reads overlap its swap.
    await Bun.sleep((round % 4) * 0.7);
    const filter = parseFilter({ group: { $in: [`p${round}`, `q${round}`, `m${round}`] } });
    const result = await engine.update("race", "n", { filter, setMetadata: { round } });
    expect(result.matchedRecords).toBe(7);
    await Bun.sleep(20); // let the flush finish before the next round starts another
  }
  const ids = await allIds(engine, "race", "n");
  expect(ids.length).toBe(expected);
  expect(new Set(ids).size).toBe(expected);
  expect((await engine.describeIndexStats("race")).totalVectorCount).toBe(expected);
  // Deleting an updated id removes it for good (no older version resurfaces), also after reopen.
  await engine.delete("race", "n", { ids: ["p3", "m7-2"] });
  expect((await engine.fetch("race", "n", ["p3", "m7-2"])).records).toEqual([]);
  await engine.close();
  const reopened = await openEngine({ dir, log: () => {} });
  expect((await reopened.fetch("race", "n", ["p3", "m7-2"])).records).toEqual([]);
  expect((await reopened.fetch("race", "n", ["p4"])).records[0]?.metadata).toEqual({ group: "p4", round: 4 });
  expect((await reopened.describeIndexStats("race")).totalVectorCount).toBe(expected - 2);
  await reopened.close();
});

test("delete an index and create it again with the same name: a clean, working index", async () => {
  const { engine, dir } = await engineIn({ flushRowsMax: 3 });
  await engine.createIndex({ name: "again", dimension: 2, metric: "euclidean", vectorType: "dense" });
  await engine.upsert(
    "again",
    "n",
    ["a", "b", "c", "d"].map((id) => record(id, "old")),
  );
  await engine.deleteIndex("again");
  await expect(engine.describeIndex("again")).rejects.toThrow("not found");
  await engine.createIndex({ name: "again", dimension: 3, metric: "cosine", vectorType: "dense" });
  expect((await engine.fetch("again", "n", ["a"])).records).toEqual([]);
  await engine.upsert("again", "n", [{ id: "z", values: Float32Array.from([1, 0, 0]) }]);
  expect((await engine.describeIndexStats("again")).totalVectorCount).toBe(1);
  await engine.close();
  const reopened = await openEngine({ dir, log: () => {} });
  expect((await reopened.describeIndex("again")).dimension).toBe(3);
  expect((await reopened.describeIndexStats("again")).totalVectorCount).toBe(1);
  await reopened.close();
});

test("two concurrent creates of one name: exactly one succeeds", async () => {
  const { engine } = await engineIn();
  const results = await Promise.allSettled([
    engine.createIndex({ name: "twin", dimension: 2, metric: "cosine", vectorType: "dense" }),
    engine.createIndex({ name: "twin", dimension: 3, metric: "cosine", vectorType: "dense" }),
  ]);
  expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  expect((refused.reason as NeedleError).code).toBe("ALREADY_EXISTS");
  expect((await engine.describeIndex("twin")).dimension).toBe(2);
  await engine.close();
});

test("records that do not fit the index are refused before logging; the namespace keeps serving", async () => {
  const { engine, dir } = await engineIn();
  await engine.createIndex({ name: "fit", dimension: 2, metric: "cosine", vectorType: "dense" });
  await engine.upsert("fit", "n", [record("ok", "g")]);
  const sparse = { indices: Uint32Array.from([1]), values: Float32Array.from([1]) };
  const attempts: [string, () => Promise<unknown>][] = [
    ["records[0].sparseValues", () => engine.upsert("fit", "n", [{ id: "s", sparseValues: sparse }])],
    ["records[0].values", () => engine.upsert("fit", "n", [{ id: "bare" }])],
    [
      "records[0].sparseValues",
      () => engine.upsert("fit", "n", [{ ...record("h", "g"), sparseValues: sparse }]),
    ],
    ["records[0].values", () => engine.upsert("fit", "n", [{ id: "zero", values: new Float32Array(2) }])],
    [
      "records[1].values",
      () => engine.upsert("fit", "n", [record("x", "g"), { id: "y", values: new Float32Array(3) }]),
    ],
    ["update.values", () => engine.update("fit", "n", { id: "ok", values: new Float32Array(5) })],
  ];
  for (const [field, attempt] of attempts) {
    const error = (await attempt().catch((e) => e)) as NeedleError;
    expect(error).toBeInstanceOf(NeedleError);
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.field).toBe(field);
  }
  // Cosine queries need a direction: all zeros has none; a vanishingly small vector has one.
  const zeros = { topK: 3, vector: new Float32Array(2), includeValues: false, includeMetadata: false };
  const error = (await engine.query("fit", "n", zeros).catch((e) => e)) as NeedleError;
  expect(error.code).toBe("INVALID_ARGUMENT");
  expect(error.field).toBe("vector");
  const tiny = { ...zeros, vector: Float32Array.of(1e-40, 2e-40) };
  const found = await engine.query("fit", "n", tiny);
  expect(found.matches.map((match) => [match.id, match.score])).toEqual([["ok", 1]]);
  // Nothing half-applied: the batch with one bad record stored nothing.
  expect((await engine.fetch("fit", "n", ["x", "y", "s", "h", "zero", "bare"])).records).toEqual([]);
  expect((await engine.describeNamespace("fit", "n")).recordCount).toBe(1);
  await engine.upsert("fit", "n", [record("after", "g")]);
  await engine.close();
  const reopened = await openEngine({ dir, log: () => {} });
  expect((await reopened.describeNamespace("fit", "n")).recordCount).toBe(2);
  await reopened.close();
});

test("close() passivates more open slabs than a mailbox holds without OVERLOADED", async () => {
  // Each open slab reports "closed" to the executor as it passivates; all at once overflowed
  // the executor's mailbox and close() failed.
  // One slab per namespace is the point: packing small namespaces is off.
  const { engine, dir } = await engineIn({ flushRowsMax: 1, mailboxDepthMax: 8, packedRowsMax: 0 });
  await engine.createIndex({ name: "many", dimension: 2, metric: "cosine", vectorType: "dense" });
  const query = { topK: 1, vector: Float32Array.of(1, 1), includeValues: false, includeMetadata: false };
  for (let n = 0; n < 40; n++) await engine.upsert("many", `ns${n}`, [record(`r${n}`, "g")]);
  await Bun.sleep(100); // background flushes finish: one slab per namespace
  for (let n = 0; n < 40; n++) expect((await engine.query("many", `ns${n}`, query)).matches).toHaveLength(1);
  await engine.close();
  const reopened = await openEngine({ dir, log: () => {} });
  expect((await reopened.describeIndexStats("many")).totalVectorCount).toBe(40);
  await reopened.close();
});
