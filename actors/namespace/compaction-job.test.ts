/**
 * compactionJobs over real slab files: every row live in the snapshot is copied exactly once,
 * into the output its position falls in, equal to the source record (values, sparse values,
 * metadata), with a row map that points back at it; dead rows are left out; the jobs encode
 * into valid slabs that read back the same records.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { initBitmaps } from "../../storage/bitmap.ts";
import { encodeMetadataIndex } from "../../storage/filter/mod.ts";
import { encodeSlab, SlabReader } from "../../storage/slab/mod.ts";
import { randomRecords } from "../../storage/slab/testing.ts";
import { compactionJobs } from "./compaction-job.ts";
import { recordsOfJob, type SlabBuildJob } from "./slab-build-job.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`compaction-job.test.ts seed=${seed} (NEEDLE_TEST_SEED to replay)`);

let dir: string;
beforeAll(async () => {
  await initBitmaps();
  dir = mkdtempSync(join(tmpdir(), "needle-compaction-job-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dim = 6;

function header(slabId: string): SlabBuildJob["header"] {
  return {
    slabId,
    namespace: "ns",
    level: 1,
    dim,
    metric: "dotproduct",
    minLsn: 1n,
    maxLsn: 30n,
    sourceSlabs: [],
  };
}

test(`live rows of the sources, once each, equal to their source records (seed ${seed})`, () => {
  const random = seededRandom(seed);
  const sources = [0, 1, 2].map((i) => {
    const records = randomRecords(random, {
      rows: 1 + Math.floor(random() * 120),
      dim,
      sparse: "some",
      metadata: "some",
    });
    // Ids unique across sources, as the namespace keeps them (an id is live in one place).
    for (const record of records) record.id = `${i}-${record.id}`;
    const path = join(dir, `source-${i}.slab`);
    writeFileSync(
      path,
      encodeSlab({
        ...header(`source-${i}`),
        level: 0,
        records,
        metadataIndex: encodeMetadataIndex(records.map((record) => record.metadata)),
      }),
    );
    const rowCount = records.length;
    const live = new Uint8Array((rowCount + 7) >> 3);
    for (let row = 0; row < rowCount; row++) if (random() < 0.7) live[row >> 3]! |= 1 << (row & 7);
    return { path, live, rowCount };
  });
  const jobs = compactionJobs(sources, [header("out-a"), header("out-b")]);
  const readers = sources.map((source) => SlabReader.openFile(source.path));
  try {
    const expected = new Set<string>();
    sources.forEach((source, s) => {
      for (let row = 0; row < source.rowCount; row++)
        if ((source.live[row >> 3]! >> (row & 7)) & 1) expected.add(`${s}:${row}`);
    });
    const seen = new Set<string>();
    for (const { job, rows } of jobs) {
      const records = recordsOfJob(job);
      expect(rows.source.length).toBe(records.length);
      records.forEach((record, i) => {
        const key = `${rows.source[i]}:${rows.row[i]}`;
        expect(seen.has(key)).toBe(false);
        seen.add(key);
        const original = readers[rows.source[i]!]!.record(rows.row[i]!, { values: true, metadata: true });
        expect(record.id).toBe(original.id);
        expect(Array.from(record.values!)).toEqual(Array.from(original.values!));
        expect(
          record.sparseValues && {
            indices: [...record.sparseValues.indices],
            values: [...record.sparseValues.values],
          },
        ).toEqual(
          original.sparseValues && {
            indices: [...original.sparseValues.indices],
            values: [...original.sparseValues.values],
          },
        );
        expect(record.metadata).toEqual(original.metadata);
      });
      // The job encodes into a slab that reads back its records.
      const bytes = encodeSlab({ ...job.header, records, metadataIndex: encodeMetadataIndex(job.metadata) });
      const output = SlabReader.fromBytes(bytes, job.header.slabId);
      expect(output.info.rowCount).toBe(records.length);
      expect(output.id(records.length - 1)).toBe(records[records.length - 1]!.id);
    }
    expect([...seen].sort()).toEqual([...expected].sort());
    if (expected.size >= 2) {
      expect(jobs.length).toBe(2);
      expect(Math.abs(jobs[0]!.rows.row.length - jobs[1]!.rows.row.length)).toBeLessThanOrEqual(1);
    }
  } finally {
    for (const reader of readers) reader.close();
  }
});

test("no live row, no output", () => {
  const records = randomRecords(seededRandom(seed), { rows: 5, dim, sparse: "none", metadata: "none" });
  const path = join(dir, "dead.slab");
  writeFileSync(
    path,
    encodeSlab({
      ...header("dead"),
      records,
      metadataIndex: encodeMetadataIndex(records.map(() => undefined)),
    }),
  );
  expect(compactionJobs([{ path, live: new Uint8Array(1) }], [header("out")])).toEqual([]);
});
