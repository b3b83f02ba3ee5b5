import { expect, test } from "bun:test";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blobStoreSuite } from "./blob-store.suite.ts";
import { LocalBlobStore } from "./mod.ts";

async function makeLocalStore() {
  const rootDir = await mkdtemp(join(tmpdir(), "needle-blob-"));
  return {
    store: new LocalBlobStore(rootDir),
    rootDir,
    dispose: () => rm(rootDir, { recursive: true, force: true }),
  };
}

blobStoreSuite("LocalBlobStore", makeLocalStore);

test("local: blobs are plain files under the root, puts leave no temporary files, list skips strays", async () => {
  const { store, rootDir, dispose } = await makeLocalStore();
  try {
    await store.put("a/b/c.slab", new Uint8Array([1, 2, 3]));
    expect(await store.localPath("a/b/c.slab")).toBe(join(rootDir, "a", "b", "c.slab"));
    expect(await readdir(join(rootDir, "a", "b"))).toEqual(["c.slab"]);
    // What a crash mid-put leaves: a hidden temporary file. It is no blob.
    await writeFile(join(rootDir, "a", "b", ".c.slab.abc123.tmp"), new Uint8Array([9]));
    expect(await store.list("")).toEqual(["a/b/c.slab"]);
  } finally {
    await dispose();
  }
});

test("local: a key cannot be a blob and a folder at once (FAILED_PRECONDITION)", async () => {
  const { store, dispose } = await makeLocalStore();
  try {
    await store.put("x/y", new Uint8Array([1]));
    const error = await store.put("x", new Uint8Array([2])).catch((caught: unknown) => caught);
    expect((error as { code?: string }).code).toBe("FAILED_PRECONDITION");
    await store.put("p", new Uint8Array([1]));
    const nested = await store.put("p/q", new Uint8Array([2])).catch((caught: unknown) => caught);
    expect((nested as { code?: string }).code).toBe("FAILED_PRECONDITION");
    expect(Array.from(await store.get("x/y"))).toEqual([1]);
    expect(Array.from(await store.get("p"))).toEqual([1]);
  } finally {
    await dispose();
  }
});
