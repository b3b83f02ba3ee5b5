import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { initBitmaps } from "../../storage/bitmap.ts";
import { NeedleError } from "../../storage/errors.ts";
import { encodeMetadataIndex } from "../../storage/filter/mod.ts";
import { Memtable } from "../../storage/memtable/mod.ts";
import { encodeSlab, SlabReader } from "../../storage/slab/mod.ts";
import { jobFromMemtable, recordsOfJob } from "./slab-build-job.ts";
import { buildCompaction, buildSlab, encodeCompaction } from "./slab-builder.ts";

let dir: string;
beforeAll(async () => {
  await initBitmaps();
  dir = mkdtempSync(join(tmpdir(), "needle-slab-builder-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function header(dim: number) {
  return {
    slabId: "t-00000001",
    namespace: "ns",
    level: 0,
    dim,
    metric: "cosine" as const,
    minLsn: 1n,
    maxLsn: 9n,
    sourceSlabs: [],
    createdAt: 1_700_000_000_000,
  };
}

test("the worker builds the same bytes as an inline encode, from the live rows only", async () => {
  const random = seededRandom(5);
  const memtable = new Memtable(7);
  for (let i = 0; i < 300; i++) {
    memtable.append(
      {
        id: `r${i}`,
        values: Float32Array.from({ length: 7 }, () => random() - 0.5),
        metadata: { i, parity: i % 2 === 0 ? "even" : "odd" },
        ...(i % 3 === 0 ? { sparseValues: { indices: Uint32Array.of(i), values: Float32Array.of(1) } } : {}),
      },
      BigInt(i + 1),
    );
  }
  for (let i = 0; i < 300; i += 7) memtable.kill(`r${i}`);
  memtable.freeze();
  const rows = memtable.liveRows();
  const expected = (() => {
    const job = jobFromMemtable(memtable, rows, header(7));
    return encodeSlab({
      ...job.header,
      records: recordsOfJob(job),
      metadataIndex: encodeMetadataIndex(job.metadata),
    });
  })();
  const built = await buildSlab(jobFromMemtable(memtable, rows, header(7)));
  expect(Buffer.from(built).equals(Buffer.from(expected))).toBe(true);
  const reader = SlabReader.fromBytes(built, "built");
  expect(reader.info.rowCount).toBe(rows.length);
  expect(reader.rowOf("r7")).toBe(-1);
  expect(reader.metadata(reader.rowOf("r8"))).toEqual({ i: 8, parity: "even" });
});

test("a job the encoder refuses comes back as a NeedleError, and the builder keeps working", async () => {
  const memtable = new Memtable(2);
  memtable.append({ id: "a", values: Float32Array.of(1, 2) }, 1n);
  memtable.append({ id: "b", values: Float32Array.of(3, 4) }, 2n);
  memtable.freeze();
  const bad = jobFromMemtable(memtable, [0, 1], { ...header(2), level: -1 });
  const error = await buildSlab(bad).catch((e) => e);
  expect(error).toBeInstanceOf(NeedleError);
  expect((error as NeedleError).code).toBe("INVALID_ARGUMENT");
  const good = await buildSlab(jobFromMemtable(memtable, [0, 1], header(2)));
  expect(SlabReader.fromBytes(good, "good").info.rowCount).toBe(2);
});

test("a compaction built by the worker from the source files equals one encoded inline, IVF partitions and all", async () => {
  const random = seededRandom(11);
  const sources = [0, 1].map((s) => {
    const memtable = new Memtable(5);
    for (let i = 0; i < 150; i++) {
      memtable.append(
        { id: `s${s}-${i}`, values: Float32Array.from({ length: 5 }, () => random() - 0.5), metadata: { i } },
        BigInt(i + 1),
      );
    }
    memtable.freeze();
    const job = jobFromMemtable(memtable, memtable.liveRows(), { ...header(5), slabId: `source-${s}` });
    const path = join(dir, `source-${s}.slab`);
    writeFileSync(
      path,
      encodeSlab({
        ...job.header,
        records: recordsOfJob(job),
        metadataIndex: encodeMetadataIndex(job.metadata),
      }),
    );
    const live = new Uint8Array(19);
    for (let row = 0; row < 150; row++) if (random() < 0.6) live[row >> 3]! |= 1 << (row & 7);
    return { path, live };
  });
  const headers = ["out-1", "out-2"].map((slabId) => ({
    ...header(5),
    slabId,
    level: 1,
    sourceSlabs: ["source-0", "source-1"],
  }));
  // About 90 rows per output: both get IVF partitions, which reorder their rows.
  const options = { indexRowsMin: 50 };
  const inline = encodeCompaction(sources, headers, options);
  const built = await buildCompaction(sources, headers, options);
  const sourceReaders = sources.map((source) => SlabReader.openFile(source.path));
  expect(built.length).toBe(2);
  built.forEach((output, i) => {
    expect(Buffer.from(output.bytes).equals(Buffer.from(inline[i]!.bytes))).toBe(true);
    expect(output.rows.source).toEqual(inline[i]!.rows.source);
    expect(output.rows.row).toEqual(inline[i]!.rows.row);
    const reader = SlabReader.fromBytes(output.bytes, `out-${i}`);
    expect(reader.info.rowCount).toBe(output.rows.row.length);
    expect(reader.info.level).toBe(1);
    expect(reader.info.vectorIndex).toBe("ivf");
    // The row map follows the reordering: every output row is the source row it names.
    for (let row = 0; row < reader.info.rowCount; row++) {
      const origin = sourceReaders[output.rows.source[row]!]!;
      const from = output.rows.row[row]!;
      expect(reader.id(row)).toBe(origin.id(from));
      expect(reader.record(row, { values: true, metadata: true })).toEqual(
        origin.record(from, { values: true, metadata: true }),
      );
    }
    // Partition order: each partition's rows are a contiguous range covering the slab.
    const offsets = reader.vectorIndex!.offsets;
    expect(offsets[offsets.length - 1]).toBe(reader.info.rowCount);
  });
  for (const reader of sourceReaders) reader.close();
});
