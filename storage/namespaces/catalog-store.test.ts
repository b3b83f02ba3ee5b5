/**
 * The durable catalog: reopen gives back exactly the committed deltas (through checkpoints
 * and journal trims); a SIGKILLed writer loses no acknowledged delta and shows only a prefix
 * of the sequence; a journal record whose checksum holds but whose body is not a delta is
 * CORRUPTION naming the journal (fuzzed).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { NeedleError } from "../errors.ts";
import { RequestLog } from "../log/mod.ts";
import { ManifestStore, manifestPackr } from "../manifest/mod.ts";
import {
  CatalogStore,
  checkpointEveryEntries,
  checkpointEveryRecords,
  decodeDelta,
} from "./catalog-store.ts";
import type { CatalogLocation } from "./catalog-table.ts";
import { contents, deltaFor, tableAfter } from "./catalog-testing.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-catalog-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

test(`reopen gives back every committed delta, across checkpoints and trims (seed ${seed})`, async () => {
  const dir = await freshDir();
  let store = await CatalogStore.open(dir);
  for (let i = 0; i < 300; i++) {
    await store.commit(deltaFor(seed, i));
    if (i === 99 || i === 199) await store.checkpoint();
    if (i % 75 === 74) {
      await store.close();
      store = await CatalogStore.open(dir);
      expect(contents(store.table)).toEqual(contents(tableAfter(seed, i + 1)));
    }
  }
  expect(store.journalRecords).toBe(100n);
  await store.close();
  store = await CatalogStore.open(dir);
  expect(contents(store.table)).toEqual(contents(tableAfter(seed, 300)));
  expect(store.table.recordCount).toBe(tableAfter(seed, 300).recordCount);
  await store.close();
});

test("the catalog checkpoints itself in the background every so many deltas, and reopens the same", async () => {
  const dir = await freshDir();
  let store = await CatalogStore.open(dir);
  // Concurrent commits, as the packer and many namespaces make them.
  for (let i = 0; i < 600; i += 6) {
    await Promise.all(Array.from({ length: 6 }, (_, j) => store.commit(deltaFor(seed + 7, i + j))));
  }
  await store.close();
  store = await CatalogStore.open(dir);
  expect(store.journalRecords).toBeLessThan(BigInt(checkpointEveryRecords));
  // Concurrent commits take LSNs in call order, so the state is the sequence's.
  expect(contents(store.table)).toEqual(contents(tableAfter(seed + 7, 600)));
  await store.close();
});

test("SIGKILL while committing: every acknowledged delta survives, and only a prefix exists", async () => {
  const random = seededRandom(seed + 1);
  const dir = await freshDir();
  let acknowledged = 0;
  for (let trial = 0; trial < 6; trial++) {
    const child = Bun.spawn(
      ["bun", join(import.meta.dir, "catalog-crash-child.ts"), dir, String(seed), String(acknowledged), "40"],
      { stdout: "pipe", stderr: "inherit" },
    );
    let printed = "";
    const reader = child.stdout.getReader();
    const wanted = 20 + Math.floor(random() * 80);
    while (printed.split("\n").length <= wanted) {
      const { value, done } = await reader.read();
      if (done) break;
      printed += new TextDecoder().decode(value);
    }
    child.kill("SIGKILL");
    await child.exited;
    // What the child printed before it died but this side had not read yet: acknowledgements
    // too (under load it ran several commits past the reads, and the check below failed).
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      printed += new TextDecoder().decode(value);
    }
    // Only whole lines: the last chunk may end in the middle of a number.
    const lines = printed
      .slice(0, printed.lastIndexOf("\n") + 1)
      .split("\n")
      .filter((line) => line !== "");
    const lastAcked = Number(lines[lines.length - 1]);
    const store = await CatalogStore.open(dir);
    const state = contents(store.table);
    await store.close();
    // Deltas 0..lastAcked are in; at most the one in flight after it may be too (durable, unacknowledged).
    const through = [lastAcked + 1, lastAcked + 2].find(
      (count) => JSON.stringify(contents(tableAfter(seed, count)), big) === JSON.stringify(state, big),
    );
    if (through === undefined) {
      // Say what the state is instead: another prefix (shorter: acknowledged deltas lost) or none.
      const text = JSON.stringify(state, big);
      let prefix: number | undefined;
      for (let count = 0; count <= lastAcked + 5 && prefix === undefined; count++) {
        if (JSON.stringify(contents(tableAfter(seed, count)), big) === text) prefix = count;
      }
      throw new Error(
        `trial ${trial} (seed ${seed}): acknowledged through delta ${lastAcked}, but the reopened catalog is ${prefix === undefined ? "no prefix of the sequence" : `the first ${prefix} deltas`}`,
      );
    }
    acknowledged = through;
  }
});

function big(_key: string, value: unknown) {
  return typeof value === "bigint" ? `${value}n` : value instanceof Uint8Array ? [...value] : value;
}

test("a journal record that is whole but not a delta is CORRUPTION naming the journal", async () => {
  const dir = await freshDir();
  const store = await CatalogStore.open(dir);
  await store.commit(deltaFor(seed, 0));
  await store.close();
  const journal = await RequestLog.open({ dir: join(dir, "journal") });
  await journal.append(manifestPackr.pack({ set: [{ namespace: 7 }], drop: [] }));
  await journal.close();
  let caught: unknown;
  try {
    await CatalogStore.open(dir);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(NeedleError);
  expect((caught as NeedleError).code).toBe("CORRUPTION");
  expect((caught as NeedleError).message).toContain("journal");
  expect(await readdir(join(dir, "journal"))).not.toHaveLength(0);
});

test("decodeDelta: random bytes and random msgpack values are deltas or CORRUPTION, never anything else", () => {
  const random = seededRandom(seed + 2);
  const randomValue = (depth: number): unknown => {
    const kind = Math.floor(random() * 9);
    if (depth > 3 || kind === 0) return Math.floor(random() * 1000) - 500;
    if (kind === 1) return "ns";
    if (kind === 2) return BigInt(Math.floor(random() * 100));
    if (kind === 3) return null;
    if (kind === 4) return random() < 0.5;
    if (kind === 5) return new Uint8Array(3);
    if (kind === 6) return Array.from({ length: Math.floor(random() * 3) }, () => randomValue(depth + 1));
    const keys = [
      "set",
      "drop",
      "namespace",
      "explicit",
      "flushedLsn",
      "records",
      "location",
      "kind",
      "slab",
      "runStart",
      "runLength",
      "deleted",
    ];
    const object: Record<string, unknown> = {};
    for (let i = 0; i < 4; i++) object[keys[Math.floor(random() * keys.length)]!] = randomValue(depth + 1);
    if (kind === 8) object.kind = random() < 0.5 ? "packed" : "dedicated";
    return object;
  };
  for (let trial = 0; trial < 5_000; trial++) {
    const payload =
      trial % 2 === 0
        ? manifestPackr.pack(trial % 10 === 0 ? { set: [randomValue(1)], drop: [] } : randomValue(0))
        : Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
    try {
      decodeDelta(payload, "journal", BigInt(trial));
    } catch (error) {
      expect(error).toBeInstanceOf(NeedleError);
      expect((error as NeedleError).code).toBe("CORRUPTION");
    }
  }
  for (let i = 0; i < 50; i++)
    expect(() => decodeDelta(manifestPackr.pack(deltaFor(seed, i)), "j", 1n)).not.toThrow();
});

test("one large delta (a recovery packing many tenants) is folded into a checkpoint at once", async () => {
  const dir = await freshDir();
  let store = await CatalogStore.open(dir);
  const set = Array.from({ length: checkpointEveryEntries + 10 }, (_, n) => ({
    namespace: `bulk-${n}`,
    explicit: false,
    flushedLsn: BigInt(n + 1),
    records: 1,
    location: { kind: "packed" as const, slab: "p1", runStart: n, runLength: 1 },
    manifestVersion: 0,
  }));
  await store.commit({ set, drop: [] });
  await store.close(); // waits for the background checkpoint
  store = await CatalogStore.open(dir);
  expect(store.journalRecords).toBe(0n);
  expect(store.table.size).toBe(set.length);
  expect(store.table.get("bulk-77")!.location).toEqual({
    kind: "packed",
    slab: "p1",
    runStart: 77,
    runLength: 1,
  });
  await store.close();
});

test("a checkpoint written before columnar names (one string per namespace) still loads", async () => {
  const dir = await freshDir();
  // As the earlier format wrote it: names as strings, the rest as columns.
  await new ManifestStore(dir, "checkpoint").commit({
    throughLsn: 0n,
    cleanThroughLsn: 5n,
    names: ["alpha", "beta"],
    explicit: Uint8Array.of(1, 0),
    flushedLsn: BigUint64Array.of(4n, 5n),
    records: Float64Array.of(0, 2),
    slab: Int32Array.of(-1, 0),
    slabs: ["pack-1"],
    runStart: Uint32Array.of(0, 3),
    runLength: Uint32Array.of(0, 2),
    manifestVersion: Uint32Array.of(7, 0),
    levelsAt: new Uint32Array(0),
    levels: [],
    deletedAt: new Uint32Array(0),
    deleted: [],
  });
  const store = await CatalogStore.open(dir);
  expect(store.table.cleanThroughLsn).toBe(5n);
  expect(store.table.get("alpha")).toEqual({
    namespace: "alpha",
    explicit: true,
    flushedLsn: 4n,
    records: 0,
    location: { kind: "dedicated" },
    manifestVersion: 7,
  });
  const betaRun: CatalogLocation = { kind: "packed", slab: "pack-1", runStart: 3, runLength: 2 };
  expect(store.table.get("beta")?.location).toEqual(betaRun);
  // The next checkpoint is columnar, and reads back the same.
  await store.checkpoint();
  await store.close();
  const reopened = await CatalogStore.open(dir);
  expect(reopened.table.list({ limit: 10 })).toEqual(["alpha", "beta"]);
  expect(reopened.table.get("beta")?.location).toEqual(betaRun);
  await reopened.close();
});
