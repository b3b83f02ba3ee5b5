/**
 * Durability under faults between and below the actors: a refused "dirty" report, a slab that
 * cannot be read while a write looks up its ids, an fsync that fails. In each case the client is
 * told the truth: an acknowledged write survives a crash, and a write answered with an error
 * never appears later (at replay after a restart).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NeedleError } from "../storage/errors.ts";
import { injectFaults } from "../storage/files.ts";
import type { VectorRecord } from "../storage/types.ts";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-faults-"));
  dirs.push(dir);
  return dir;
}
function records(prefix: string, count: number): VectorRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    values: Float32Array.of(1, i + 2),
  }));
}
async function ids(engine: Engine, index: string, namespace: string, wanted: string[]): Promise<string[]> {
  return (await engine.fetch(index, namespace, wanted)).records.map((record) => record.id);
}

/** Retries a write refused while an actor restarts after a fault (UNAVAILABLE with Retry-After). */
async function retrying<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof NeedleError) || error.code !== "UNAVAILABLE" || tries > 100) throw error;
      await Bun.sleep(50);
    }
  }
}

test("a dirty report the index refuses fails the write; the log is never trimmed past an acknowledged one", async () => {
  const dir = await freshDir();
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "testing/overload-child.ts"), dir], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of child.stdout) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("done\n")) break;
  }
  child.kill("SIGKILL");
  await child.exited;
  lines.push(...text.trim().split("\n"));
  expect(lines.at(-1)).toBe("done");
  const acked = lines.filter((line) => line.startsWith("ack ")).map((line) => line.split(" ")[1]!);
  const refused = lines.filter((line) => line.startsWith("refused ")).map((line) => line.split(" ")[1]!);
  expect(acked).toContain("v2");
  expect(refused).toEqual(["v1"]);
  expect(lines).toContain("refused v1 OVERLOADED");

  const engine = await openEngine({ dir, log: () => {} });
  expect(await ids(engine, "ovl", "victim", acked)).toEqual(acked);
  expect(await ids(engine, "ovl", "victim", refused)).toEqual([]);
  expect((await engine.describeIndexStats("ovl")).totalVectorCount).toBe(800 + acked.length);
  await engine.close();
});

test("a write whose lookups fail is refused with nothing logged: it does not come back after a restart", async () => {
  const dir = await freshDir();
  let engine = await openEngine({ dir, flushRowsMax: 5, log: () => {} });
  await engine.createIndex({ name: "look", dimension: 2, metric: "euclidean", vectorType: "dense" });
  await engine.upsert("look", "n", records("a", 10));
  await engine.close(); // every record is in slabs now
  engine = await openEngine({ dir, log: () => {} });
  const faults = injectFaults({
    operation: "mmap",
    path: join(dir, "indexes", "look", "slabs"),
    fault: "EIO",
    times: Number.POSITIVE_INFINITY,
  });
  try {
    // Each of these must look up its ids in the slabs, which cannot be read.
    const attempts = [
      () => engine.upsert("look", "n", [{ id: "new", values: Float32Array.of(9, 9) }]),
      () => engine.update("look", "n", { id: "a3", values: Float32Array.of(7, 7) }),
      () => engine.delete("look", "n", { ids: ["a4"] }),
    ];
    for (const attempt of attempts) {
      const error = (await retrying(attempt).catch((caught) => caught)) as NeedleError;
      expect(error).toBeInstanceOf(NeedleError);
      expect(error.code).toBe("STORAGE_FAILED");
    }
    expect(faults.failures).toBeGreaterThan(0);
  } finally {
    faults.remove();
  }
  await engine.close();
  engine = await openEngine({ dir, log: () => {} });
  expect(await ids(engine, "look", "n", ["new"])).toEqual([]);
  const [a3, a4] = (await engine.fetch("look", "n", ["a3", "a4"])).records;
  expect(Array.from(a3!.values!)).toEqual([1, 5]);
  expect(a4!.id).toBe("a4");
  await engine.close();
});

test("a write whose fsync fails is refused and erased; writes after it are kept", async () => {
  const dir = await freshDir();
  let engine = await openEngine({ dir, log: () => {} });
  await engine.createIndex({ name: "sync", dimension: 2, metric: "euclidean", vectorType: "dense" });
  await engine.upsert("sync", "n", records("before", 3));
  const faults = injectFaults({ operation: "sync", path: join(dir, "indexes", "sync", "log"), fault: "EIO" });
  try {
    const error = (await engine.upsert("sync", "n", records("failed", 3)).catch((e) => e)) as NeedleError;
    expect(error.code).toBe("STORAGE_FAILED");
    expect(faults.failures).toBe(1);
  } finally {
    faults.remove();
  }
  expect(await retrying(() => ids(engine, "sync", "n", ["failed0"]))).toEqual([]);
  await retrying(() => engine.upsert("sync", "n", records("after", 3)));
  await engine.close();
  engine = await openEngine({ dir, log: () => {} });
  expect(await ids(engine, "sync", "n", ["before0", "failed0", "after0"])).toEqual(["before0", "after0"]);
  expect((await engine.describeIndexStats("sync")).totalVectorCount).toBe(6);
  await engine.close();
});
