/**
 * `needle import` as a process: bad rows on stderr with their position and a summary, abort's
 * exit status, and a SIGKILL in the middle of an import followed by `--resume` giving every
 * record exactly once (checked record by record against the file).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openEngine } from "../actors/mod.ts";
import { makeRecords, writeJsonl, writeVecs } from "../gateway/import/testing.ts";

const repoRoot = resolve(import.meta.dir, "..");
const dimension = 16;
let dir: string;
let data: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-import-cli-"));
  data = join(dir, "data");
  const engine = await openEngine({ dir: data, log: () => {} });
  for (const name of ["a", "b", "c"])
    await engine.createIndex({ name, dimension, metric: "euclidean" } as never);
  await engine.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function needleImport(args: string[]) {
  return Bun.spawn(
    [process.execPath, join(repoRoot, "scripts", "needle.ts"), "import", "--data", data, ...args],
    {
      stdout: "pipe",
      stderr: "pipe",
    },
  );
}

async function finished(proc: ReturnType<typeof needleImport>) {
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

async function recordsOf(index: string, ids: string[]) {
  const engine = await openEngine({ dir: data, log: () => {} });
  try {
    const count = (await engine.describeNamespace(index, "ns")).recordCount;
    const found = new Map<string, number[]>();
    for (let from = 0; from < ids.length; from += 1000) {
      const fetched = await engine.fetch(index, "ns", ids.slice(from, from + 1000));
      for (const record of fetched.records) found.set(record.id, Array.from(record.values!));
    }
    return { count, found };
  } finally {
    await engine.close();
  }
}

test("bad rows are reported with file and line, skipped, and summed up; abort exits 1", async () => {
  const records = makeRecords(300, dimension, 2);
  const file = join(dir, "bad.jsonl");
  const lines = records.map((record) => JSON.stringify(record));
  lines[41] = "[1, 2";
  await writeFile(file, lines.join("\n"));
  const result = await finished(needleImport(["--index", "a", "--namespace", "ns", file]));
  expect(result.code).toBe(0);
  expect(result.stderr).toContain(`bad row ${file}:line 42: not JSON`);
  expect(result.stdout).toMatch(
    /^imported 299 records into a\/"ns" in [\d.]+ s \(\d+ records\/s\); 1 bad rows skipped\n$/,
  );

  const aborted = await finished(
    needleImport(["--index", "b", "--namespace", "ns", "--on-error", "abort", "--batch", "20", file]),
  );
  expect(aborted.code).toBe(1);
  expect(aborted.stderr).toContain(`stopped at bad row ${file}:line 42`);
  expect(aborted.stdout).toContain("aborted after 40 records");
  const { count } = await recordsOf(
    "b",
    records.map((record) => record.id),
  );
  expect(count).toBe(40);
});

test("usage errors name the flag and exit 2", async () => {
  const result = await finished(needleImport(["--index", "a", "--on-error", "sometimes", "x.jsonl"]));
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('--on-error must be continue or abort (received "sometimes")');
  const unknown = await finished(needleImport(["--index", "a", join(dir, "x.csv")]));
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain("unknown format");
});

test("SIGKILL in the middle of an import, then --resume: every record exactly once", async () => {
  const count = 40_000;
  const records = makeRecords(count, dimension, 9);
  const file = join(dir, "big.fvecs");
  await writeVecs(
    file,
    records.map((record) => record.values),
    "fvecs",
  );
  const idsFile = join(dir, "big.ids");
  await writeFile(idsFile, `${records.map((record) => record.id).join("\n")}\n`);
  const args = ["--index", "c", "--namespace", "ns", "--ids", idsFile, "--batch", "50", file];
  const imports = join(data, "imports");
  const before = (await readdir(imports).catch(() => [] as string[])).filter((name) =>
    name.endsWith(".json"),
  );
  const first = needleImport(args);
  // Kill once the progress record shows some batches applied, well before the end.
  let rowsDone = 0;
  for (let waited = 0; rowsDone < 2_000; waited += 5) {
    expect(waited).toBeLessThan(60_000);
    await Bun.sleep(5);
    const names = await readdir(imports).catch(() => [] as string[]);
    const state = names.find((name) => name.endsWith(".json") && !before.includes(name));
    if (state === undefined) continue;
    try {
      rowsDone = JSON.parse(await readFile(join(imports, state), "utf8")).files[0].rowsDone;
    } catch {
      // written by rename: a read never sees half a file, but the name may move under us
    }
  }
  first.kill("SIGKILL");
  await first.exited;
  expect(rowsDone).toBeLessThan(count);

  const resumed = await finished(needleImport(["--resume", ...args]));
  expect(resumed.code).toBe(0);
  expect(resumed.stderr).not.toContain("starting over");
  expect(resumed.stdout).toContain(`imported ${count} records into c/"ns"`);
  // The progress record is gone once the import completed (the aborted import's stays: it can resume).
  expect((await readdir(imports)).filter((name) => name.endsWith(".json"))).toEqual(before);

  const { count: stored, found } = await recordsOf(
    "c",
    records.map((record) => record.id),
  );
  expect(stored).toBe(count);
  for (const record of records)
    expect(found.get(record.id)).toEqual(Array.from(Float32Array.from(record.values)));
}, 120_000);

test("JSONL import of a larger file completes and prints its rate", async () => {
  const records = makeRecords(5_000, dimension, 4);
  const file = join(dir, "rate.jsonl");
  await writeJsonl(file, records);
  const result = await finished(needleImport(["--index", "a", "--namespace", "other", file]));
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/imported 5000 records into a\/"other" in [\d.]+ s \((\d+) records\/s\)/);
});
