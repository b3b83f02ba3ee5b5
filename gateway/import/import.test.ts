/**
 * Imports of every format into a real engine, checked against what an independent reader
 * finds in the same file (the records the test wrote; npyjs for .npy): every record, exact
 * float32 values and metadata, nothing else. Bad rows are reported with their position;
 * `abort` applies nothing of the bad row's batch; a resumed import gives every record once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseNpy } from "npyjs";
import type { Engine } from "../../actors/api.ts";
import { openEngine } from "../../actors/mod.ts";
import type { ImportRow } from "./rows.ts";
import { countRows, type ImportRequest, type ImportState, runImport } from "./runner.ts";
import { makeRecords, type SourceRecord, writeJsonl, writeNpy, writeParquet, writeVecs } from "./testing.ts";

const dimension = 8;
let dir: string;
let engine: Engine;
let indexCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-import-"));
  engine = await openEngine({ dir: join(dir, "data"), log: () => {} });
});
afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function newIndex(): Promise<string> {
  const name = `imp${indexCount++}`;
  await engine.createIndex({ name, dimension, metric: "euclidean" } as never);
  return name;
}

function target(index: string) {
  return {
    shape: { dimension, metric: "euclidean" as const, vectorType: "dense" as const },
    upsert: async (namespace: string, records: Parameters<Engine["upsert"]>[2]) => {
      await engine.upsert(index, namespace, records);
    },
  };
}

async function run(
  index: string,
  files: string[],
  extra: Partial<ImportRequest> = {},
  bad: ImportRow[] = [],
) {
  return runImport(
    target(index),
    { index, namespace: "ns", files, onError: "continue", batchRecords: 100, ...extra },
    { onBadRow: (row) => bad.push(row) },
  );
}

/** Every record of the namespace equals `expected` exactly (float32 values, metadata), and no other exists. */
async function expectExactly(index: string, expected: readonly SourceRecord[]): Promise<void> {
  const stats = await engine.describeNamespace(index, "ns");
  expect(stats.recordCount).toBe(expected.length);
  for (let from = 0; from < expected.length; from += 500) {
    const chunk = expected.slice(from, from + 500);
    const fetched = await engine.fetch(
      index,
      "ns",
      chunk.map((record) => record.id),
    );
    const byId = new Map(fetched.records.map((record) => [record.id, record]));
    for (const record of chunk) {
      const got = byId.get(record.id);
      expect(got?.id).toBe(record.id);
      expect(Array.from(got!.values!)).toEqual(Array.from(Float32Array.from(record.values)));
      if (record.metadata !== undefined) expect(got!.metadata as unknown).toEqual(record.metadata);
    }
  }
}

describe("each format gives exactly the records an independent reader finds", () => {
  const records = makeRecords(1234, dimension, 7);

  test("JSONL (Pinecone records)", async () => {
    const file = join(dir, "a.jsonl");
    await writeJsonl(file, records);
    const index = await newIndex();
    const summary = await run(index, [file]);
    expect(summary.outcome).toBe("completed");
    expect(summary.state.recordsImported).toBe(records.length);
    const independent = (await readFile(file, "utf8"))
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as SourceRecord);
    await expectExactly(index, independent);
  });

  test("Parquet (several row groups)", async () => {
    const file = join(dir, "a.parquet");
    await writeParquet(file, records, 300);
    expect(await countRows(file)).toBe(records.length);
    const index = await newIndex();
    expect((await run(index, [file])).state.recordsImported).toBe(records.length);
    await expectExactly(index, records);
  });

  test("fvecs and bvecs with ids from a sidecar file, and npy (npyjs reads the same file)", async () => {
    const fvecs = join(dir, "a.fvecs");
    await writeVecs(
      fvecs,
      records.map((record) => record.values),
      "fvecs",
    );
    const ids = records.map((record) => `doc-${record.id}`);
    let index = await newIndex();
    await run(index, [fvecs], { ids });
    await expectExactly(
      index,
      records.map((record, i) => ({ id: ids[i]!, values: record.values })),
    );

    const bytes = records.slice(0, 300).map((record) => record.values.map((v) => Math.floor((v + 1) * 127)));
    const bvecs = join(dir, "a.bvecs");
    await writeVecs(bvecs, bytes, "bvecs");
    index = await newIndex();
    await run(index, [bvecs]);
    await expectExactly(
      index,
      bytes.map((values, i) => ({ id: String(i), values })),
    );

    const npy = join(dir, "a.npy");
    await writeNpy(
      npy,
      records.map((record) => record.values),
    );
    const reference = parseNpy(new Uint8Array(await readFile(npy)).buffer);
    expect(reference.shape).toEqual([records.length, dimension]);
    const flat = reference.data as Float32Array;
    index = await newIndex();
    await run(index, [npy]);
    await expectExactly(
      index,
      records.map((_, i) => ({
        id: String(i),
        values: Array.from(flat.subarray(i * dimension, (i + 1) * dimension)),
      })),
    );
  });

  test("several files of different formats into one namespace", async () => {
    const a = join(dir, "multi-a.jsonl");
    const b = join(dir, "multi-b.parquet");
    await writeJsonl(a, records.slice(0, 500));
    await writeParquet(b, records.slice(500));
    const index = await newIndex();
    expect((await run(index, [a, b])).state.recordsImported).toBe(records.length);
    await expectExactly(index, records);
  });
});

describe("a malformed row in each format is reported with its position and skipped", () => {
  const records = makeRecords(50, dimension, 11);

  test("JSONL: not JSON, a wrong dimension, a missing id", async () => {
    const file = join(dir, "bad.jsonl");
    const lines = records.map((record) => JSON.stringify(record));
    lines[4] = "{not json";
    lines[9] = JSON.stringify({ ...records[9], values: [1, 2, 3] });
    lines[20] = JSON.stringify({ values: records[20]!.values });
    await writeFile(file, lines.join("\n"));
    const bad: ImportRow[] = [];
    const index = await newIndex();
    const summary = await run(index, [file], {}, bad);
    expect(bad.map((row) => row.position)).toEqual([`${file}:line 5`, `${file}:line 10`, `${file}:line 21`]);
    expect(bad[0]!.error).toContain("not JSON");
    expect(bad[1]!.error).toContain("3 dimensions, the index has 8");
    expect(bad[2]!.error).toContain("id");
    expect(summary.state.rowsBad).toBe(3);
    await expectExactly(
      index,
      records.filter((_, i) => ![4, 9, 20].includes(i)),
    );
  });

  test("Parquet: a row with too few values and one with no values, by row group and row", async () => {
    const file = join(dir, "bad.parquet");
    const rows: { id: string; values: number[] | null; metadata?: unknown }[] = records.map((record) => ({
      ...record,
    }));
    rows[13] = { id: rows[13]!.id, values: [1, 2] };
    rows[31] = { id: rows[31]!.id, values: null };
    await writeParquet(file, rows, 10);
    const bad: ImportRow[] = [];
    const index = await newIndex();
    await run(index, [file], {}, bad);
    expect(bad.map((row) => row.position)).toEqual([
      `${file}: row group 1, row 3`,
      `${file}: row group 3, row 1`,
    ]);
    expect(bad[0]!.error).toContain("2 dimensions");
    expect(bad[1]!.error).toContain("values or sparseValues");
    await expectExactly(
      index,
      records.filter((_, i) => i !== 13 && i !== 31),
    );
  });

  test("fvecs: a vector of another dimension, then a truncated tail", async () => {
    const file = join(dir, "bad.fvecs");
    const vectors = records.map((record) => record.values);
    vectors[6] = [1, 2, 3, 4];
    await writeVecs(file, vectors, "fvecs");
    const whole = await readFile(file);
    await writeFile(file, whole.subarray(0, whole.length - 5)); // the last vector loses 5 bytes
    const bad: ImportRow[] = [];
    const index = await newIndex();
    await run(index, [file], {}, bad);
    const recordBytes = 4 + dimension * 4;
    expect(bad.map((row) => row.position)).toEqual([
      `${file}: vector 6 (byte ${6 * recordBytes})`,
      `${file}: vector 49 (byte ${6 * recordBytes + (4 + 16) + 42 * recordBytes})`,
    ]);
    expect(bad[0]!.error).toContain("4 dimensions");
    expect(bad[1]!.error).toContain("truncated");
    await expectExactly(
      index,
      records
        .slice(0, 49)
        .flatMap((record, i) => (i === 6 ? [] : [{ id: String(i), values: record.values }])),
    );
  });

  test("npy: a NaN in a row, and a file that is not .npy at all", async () => {
    const file = join(dir, "bad.npy");
    const vectors = records.map((record) => [...record.values]);
    vectors[17]![3] = Number.NaN;
    await writeNpy(file, vectors);
    const bad: ImportRow[] = [];
    const index = await newIndex();
    await run(index, [file], {}, bad);
    expect(bad.map((row) => row.position)).toEqual([expect.stringContaining(`${file}: row 17 (byte `)]);
    expect(bad[0]!.error).toContain("record.values[3]");
    const notNpy = join(dir, "not.npy");
    await writeFile(notNpy, "hello");
    await expect(run(await newIndex(), [notNpy])).rejects.toThrow(`${notNpy}: not a readable .npy file`);
  });
});

test("abort stops at the first bad row and applies nothing of its batch", async () => {
  const records = makeRecords(400, dimension, 3);
  const file = join(dir, "abort.jsonl");
  const lines = records.map((record) => JSON.stringify(record));
  lines[250] = JSON.stringify({ ...records[250], values: [1] });
  await writeFile(file, lines.join("\n"));
  const index = await newIndex();
  const summary = await run(index, [file], { onError: "abort", batchRecords: 100 });
  expect(summary.outcome).toBe("aborted");
  expect(summary.abortedAt?.position).toBe(`${file}:line 251`);
  // Batches 0-99 and 100-199 were applied; the batch 200-299 holding the bad row was not.
  expect(summary.state.recordsImported).toBe(200);
  expect(summary.state.files[0]!.rowsDone).toBe(200);
  await expectExactly(index, records.slice(0, 200));
});

test("a cancelled import resumes from its saved state: every record once", async () => {
  const records = makeRecords(1000, dimension, 5);
  const file = join(dir, "resume.parquet");
  await writeParquet(file, records, 128);
  const index = await newIndex();
  const request: ImportRequest = {
    index,
    namespace: "ns",
    files: [file],
    onError: "continue",
    batchRecords: 100,
  };
  let saved: ImportState | undefined;
  let batches = 0;
  const first = await runImport(target(index), request, {
    save: async (state) => {
      saved = structuredClone(state);
    },
    cancelled: () => ++batches >= 3,
  });
  expect(first.outcome).toBe("cancelled");
  expect(saved!.files[0]!.rowsDone).toBe(300);
  expect((await engine.describeNamespace(index, "ns")).recordCount).toBe(300);
  const second = await runImport(target(index), { ...request, resume: saved });
  expect(second.outcome).toBe("completed");
  expect(second.state.recordsImported).toBe(records.length);
  await expectExactly(index, records);
  // A changed file refuses to resume rather than skip rows that are now different.
  await writeParquet(file, records.slice(0, 999), 128);
  await expect(runImport(target(index), { ...request, resume: saved })).rejects.toThrow("does not match");
});
