/**
 * The import readers against damaged files: valid files of each format with random bytes
 * flipped, inserted or cut off. A reader may report bad rows or refuse the whole file with
 * INVALID_ARGUMENT naming it; it must never throw anything else, hang, or yield a row that is
 * neither a record nor an error.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { NeedleError } from "../../storage/errors.ts";
import { readJsonl } from "./jsonl.ts";
import { readNpy } from "./npy.ts";
import { readParquet } from "./parquet.ts";
import type { ImportRow } from "./rows.ts";
import { makeRecords, writeJsonl, writeNpy, writeParquet, writeVecs } from "./testing.ts";
import { readVecs } from "./vecs.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Math.floor(Math.random() * 1e6));
console.log(`import fuzz seed ${seed} (NEEDLE_TEST_SEED to replay)`);
const shape = { dimension: 6, metric: "euclidean" as const, vectorType: "dense" as const };
let dir: string;
const originals = new Map<string, Uint8Array>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-import-fuzz-"));
  const records = makeRecords(40, 6, 3);
  await writeJsonl(join(dir, "ok.jsonl"), records);
  await writeParquet(join(dir, "ok.parquet"), records, 16);
  await writeVecs(
    join(dir, "ok.fvecs"),
    records.map((r) => r.values),
    "fvecs",
  );
  await writeVecs(
    join(dir, "ok.bvecs"),
    records.map((r) => r.values.map((v) => Math.floor((v + 1) * 100))),
    "bvecs",
  );
  await writeNpy(
    join(dir, "ok.npy"),
    records.map((r) => r.values),
  );
  for (const name of ["ok.jsonl", "ok.parquet", "ok.fvecs", "ok.bvecs", "ok.npy"])
    originals.set(name, new Uint8Array(await readFile(join(dir, name))));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function mutate(bytes: Uint8Array, random: () => number): Uint8Array {
  const out = [...bytes];
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * out.length);
    const kind = random();
    if (kind < 0.5) out[at] = Math.floor(random() * 256);
    else if (kind < 0.7) out.splice(at, 0, Math.floor(random() * 256));
    else if (kind < 0.85) out.splice(at, 1 + Math.floor(random() * 8));
    else out.length = at; // cut off
  }
  return new Uint8Array(out);
}

function rowsOf(name: string, file: string): AsyncIterable<ImportRow> {
  if (name.endsWith(".jsonl")) return readJsonl(file, { skip: 0 }, shape);
  if (name.endsWith(".parquet")) return readParquet(file, { skip: 0 }, shape);
  if (name.endsWith(".npy")) return readNpy(file, { skip: 0 }, shape);
  return readVecs(file, { skip: 0 }, shape, name.endsWith(".fvecs") ? "fvecs" : "bvecs");
}

test("damaged files of every format: bad rows or INVALID_ARGUMENT naming the file, nothing else", async () => {
  const random = seededRandom(seed);
  const outcomes = { rows: 0, bad: 0, refused: 0 };
  for (let round = 0; round < 60; round++) {
    for (const [name, bytes] of originals) {
      const file = join(dir, `fuzz-${round}-${name}`);
      await writeFile(file, mutate(bytes, random));
      try {
        for await (const row of rowsOf(name, file)) {
          expect(row.record !== undefined || row.error !== undefined).toBe(true);
          expect(row.position).toContain(file);
          if (row.error !== undefined) outcomes.bad++;
          else outcomes.rows++;
        }
      } catch (error) {
        if (!(error instanceof NeedleError) || error.code !== "INVALID_ARGUMENT")
          throw new Error(`seed ${seed}, round ${round}, ${name}: ${String(error)}`);
        expect(error.message).toContain(file);
        outcomes.refused++;
      }
      await rm(file);
    }
  }
  // The mutations found all three outcomes (else the test would check little).
  expect(outcomes.rows).toBeGreaterThan(0);
  expect(outcomes.bad).toBeGreaterThan(0);
  expect(outcomes.refused).toBeGreaterThan(0);
}, 60_000);

test("regression: a Parquet page whose RLE run claims billions of levels is stopped by the memory watchdog", async () => {
  // Seed 113568, round 59 of the test above: a mutation inside the `values` page that made
  // hyparquet grow one array past 10 GB before the watchdog existed.
  const random = seededRandom(113568);
  let damaged: Uint8Array | undefined;
  for (let round = 0; round <= 59 && damaged === undefined; round++)
    for (const [name, bytes] of originals) {
      const mutated = mutate(bytes, random);
      if (round === 59 && name === "ok.parquet") damaged = mutated;
    }
  const file = join(dir, "runaway.parquet");
  await writeFile(file, damaged!);
  const before = process.memoryUsage.rss();
  let refused: unknown;
  try {
    for await (const _ of readParquet(file, { skip: 0 }, shape)) {
      // rows before the damaged group may come
    }
  } catch (error) {
    refused = error;
  }
  expect(refused).toBeInstanceOf(NeedleError);
  expect((refused as NeedleError).message).toContain("MiB of memory to decode");
  expect(process.memoryUsage.rss() - before).toBeLessThan(3 * 2 ** 30);
}, 60_000);
