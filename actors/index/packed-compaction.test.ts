/**
 * Packed compaction's moves against activations (packed-compaction.ts): a namespace that
 * activates while the new file is built leaves the move and keeps its run, without waiting;
 * one that activates while the move commits waits for the commit. The packer is a stand-in
 * whose build and commit the test releases step by step.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlobStore } from "../../storage/blob/mod.ts";
import { CatalogStore } from "../../storage/namespaces/catalog-store.ts";
import { PackedCompaction } from "./packed-compaction.ts";
import type { Packer } from "./packer.ts";
import type { ReplaySliceInput } from "./replay-slice.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

test("an activation during the build withdraws its namespace; one during the commit waits for it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-packed-compaction-"));
  dirs.push(dir);
  const catalog = await CatalogStore.open(dir);
  // Two small packed files, two tenants each: worth merging into one.
  const files = { a: "f1", b: "f1", c: "f2", d: "f2" } as const;
  await catalog.commit({
    set: Object.entries(files).map(([namespace, slab], i) => ({
      namespace,
      explicit: false,
      flushedLsn: BigInt(i + 1),
      records: 2,
      location: { kind: "packed" as const, slab, runStart: (i % 2) * 2, runLength: 2 },
      manifestVersion: 0,
    })),
    drop: [],
  });
  const built = gate();
  const committing = gate();
  const committed = gate();
  let slice: Omit<ReplaySliceInput, "header"> | undefined;
  let leftOut: ReadonlySet<string> | undefined;
  const packer = {
    fileRows: new Map([
      ["f1", 4],
      ["f2", 4],
    ]),
    packSlice: async (
      input: Omit<ReplaySliceInput, "header">,
      options: { beforeCommit?: () => ReadonlySet<string> },
    ) => {
      slice = input;
      await built.opened;
      leftOut = options.beforeCommit?.();
      committing.open();
      await committed.opened;
      return input.names.filter((name) => !leftOut!.has(name));
    },
  } as unknown as Packer;
  const blobs = { localPath: async (key: string) => `/data/${key}` } as unknown as BlobStore;
  const compaction = new PackedCompaction(
    "idx",
    catalog,
    blobs,
    packer,
    () => false,
    () => false,
  );
  compaction.schedule();
  while (slice === undefined) await Bun.sleep(5);
  expect([...slice.names].sort()).toEqual(["a", "b", "c", "d"]);
  // The builder thread reads each run where the catalog says it is.
  expect(slice.baseRuns!.files).toEqual([
    "/data/indexes/idx/slabs/f1.slab",
    "/data/indexes/idx/slabs/f2.slab",
  ]);
  expect([...slice.baseRuns!.length]).toEqual([2, 2, 2, 2]);
  // During the build: "a" activates, leaves the move, and does not wait.
  expect(compaction.waitForMove("a")).toBeUndefined();
  built.open();
  await committing.opened;
  expect([...leftOut!]).toEqual(["a"]);
  // During the commit: "b" waits for it.
  let waited = false;
  const wait = compaction.waitForMove("b");
  expect(wait).toBeInstanceOf(Promise);
  void wait!.then(() => {
    waited = true;
  });
  await Bun.sleep(5);
  expect(waited).toBe(false);
  committed.open();
  await wait;
  expect(waited).toBe(true);
  expect(compaction.waitForMove("b")).toBeUndefined();
  await compaction.stop();
  await catalog.close();
});
