/**
 * One bulk-replay slice on its own (replay-slice.ts): log bodies as the writer stores them and
 * a current run, in; the packed slab and each namespace's catalog facts, out. The expected
 * state of each namespace is written out by hand from the writes (not computed by the code
 * under test), and the slab is read back through RunView as a query would.
 */
import { beforeAll, expect, test } from "bun:test";
import { initBitmaps } from "../../storage/bitmap.ts";
import { RunView } from "../../storage/namespaces/run-view.ts";
import { packedSlabNamespace } from "../../storage/namespaces/packed-keys.ts";
import { SlabReader } from "../../storage/slab/mod.ts";
import type { VectorRecord, WriteOp } from "../../storage/types.ts";
import { encodeLogBody } from "../codec.ts";
import { encodeJob } from "../namespace/slab-builder.ts";
import { encodeBase, type ReplaySliceInput, replaySlice } from "./replay-slice.ts";

beforeAll(async () => {
  await initBitmaps();
});

const v = (...values: number[]) => Float32Array.from(values);

function sliceOf(
  names: string[],
  writes: { namespace: number; lsn: bigint; write: WriteOp }[],
  base: (VectorRecord[] | null)[],
  explicit: number[],
  packedRowsMax: number,
): ReplaySliceInput {
  const bodies = writes.map(({ namespace, write }) => encodeLogBody({ namespace: names[namespace]!, write }));
  const log = new Uint8Array(bodies.reduce((sum, body) => sum + body.byteLength, 0));
  const spans = new Uint32Array(writes.length * 3);
  let offset = 0;
  bodies.forEach((body, i) => {
    log.set(body, offset);
    spans.set([writes[i]!.namespace, offset, body.byteLength], i * 3);
    offset += body.byteLength;
  });
  return {
    header: {
      slabId: "slice-test",
      namespace: packedSlabNamespace,
      level: 0,
      dim: 2,
      metric: "cosine",
      minLsn: 1n,
      maxLsn: 1n,
      sourceSlabs: [],
    },
    packedRowsMax,
    names,
    explicit: Uint8Array.from(explicit),
    flushedLsn: BigUint64Array.from(names.map(() => 3n)),
    base: encodeBase(base),
    log,
    spans,
    lsns: BigUint64Array.from(writes.map(({ lsn }) => lsn)),
  };
}

test("a slice applies each namespace's writes over its run, packs the small ones, skips the grown ones", () => {
  const names = ["alpha", "beta", "gamma", "delta", "eps"];
  const input = sliceOf(
    names,
    [
      // alpha: run {a, b}; b updated (values + merged metadata), a deleted, c upserted.
      { namespace: 0, lsn: 4n, write: { op: "update", ids: ["b"], values: v(0, 9), setMetadata: { k: 2 } } },
      { namespace: 0, lsn: 6n, write: { op: "delete", ids: ["a"] } },
      { namespace: 0, lsn: 9n, write: { op: "upsert", records: [{ id: "c", values: v(3, 3) }] } },
      // beta: created, filled, then dropped: explicit no more, no rows.
      { namespace: 1, lsn: 5n, write: { op: "createNamespace" } },
      { namespace: 1, lsn: 7n, write: { op: "upsert", records: [{ id: "x", values: v(1, 1) }] } },
      { namespace: 1, lsn: 8n, write: { op: "deleteNamespace" } },
      // gamma: three rows, over the limit of two: left to its own activation.
      {
        namespace: 2,
        lsn: 10n,
        write: {
          op: "upsert",
          records: ["p", "q", "r"].map((id) => ({ id, values: v(1, 0) })),
        },
      },
      // delta: created empty: explicit, no rows.
      { namespace: 3, lsn: 11n, write: { op: "createNamespace" } },
      // eps: an update of an id it does not have changes nothing; deleteAll clears the run.
      { namespace: 4, lsn: 12n, write: { op: "update", ids: ["zz"], values: v(5, 5) } },
      { namespace: 4, lsn: 13n, write: { op: "deleteAll" } },
      {
        namespace: 4,
        lsn: 14n,
        write: { op: "upsert", records: [{ id: "e", values: v(0, 1), metadata: { m: "x" } }] },
      },
    ],
    [
      [
        { id: "a", values: v(1, 0), metadata: { k: 1 } },
        { id: "b", values: v(0, 1), metadata: { k: 1, keep: "yes" } },
      ],
      null,
      null,
      null,
      [{ id: "old", values: v(2, 2) }],
    ],
    [0, 0, 0, 0, 1],
    2,
  );
  const output = replaySlice(input, (job) => encodeJob(job));
  expect([...output.skipped]).toEqual([0, 0, 1, 0, 0]);
  expect([...output.explicit].filter((_, i) => output.skipped[i] === 0)).toEqual([0, 0, 1, 1]);
  expect([...output.flushedLsn]).toEqual([9n, 8n, 10n, 11n, 14n]);
  expect([...output.runLength]).toEqual([2, 0, 0, 0, 1]);
  const reader = SlabReader.fromBytes(output.file!, "slice-test.slab");
  expect(reader.info.rowCount).toBe(3);
  expect(reader.info.minLsn).toBe(4n);
  expect(reader.info.maxLsn).toBe(14n);
  expect(reader.metadataIndexBytes).toBeUndefined(); // packed slabs filter row by row
  const runOf = (namespace: string) => {
    const view = new RunView(reader, namespace, () => {});
    return Array.from({ length: view.info.rowCount }, (_, row) =>
      view.record(row, { values: true, metadata: true }),
    );
  };
  const alpha = runOf("alpha");
  expect(alpha.map((record) => [record.id, [...record.values!], record.metadata])).toEqual([
    ["b", [0, 9], { k: 2, keep: "yes" }],
    ["c", [3, 3], undefined],
  ]);
  expect(output.runStart[0]).toBe(0);
  expect(runOf("eps").map((record) => [record.id, record.metadata])).toEqual([["e", { m: "x" }]]);
  expect(output.runStart[4]).toBe(2);
});

test("a slice with nothing left to store builds no file", () => {
  const input = sliceOf(
    ["only"],
    [{ namespace: 0, lsn: 4n, write: { op: "deleteAll" } }],
    [[{ id: "a", values: v(1, 0) }]],
    [0],
    10,
  );
  const output = replaySlice(input, (job) => encodeJob(job));
  expect(output.file).toBeUndefined();
  expect([...output.runLength]).toEqual([0]);
  expect([...output.flushedLsn]).toEqual([4n]);
});
