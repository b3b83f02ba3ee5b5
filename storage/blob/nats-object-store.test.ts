/**
 * The Object Store blob store against the shared contract (blob-store.suite.ts), on a
 * JetStream `nats-server` this file starts (free port, temporary store), one fresh bucket
 * per fixture; plus what only it has: an overwritten blob's local copy is a new file.
 */
import { expect, test } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { natsServerForFile } from "../testing/nats-server.ts";
import { blobStoreSuite } from "./blob-store.suite.ts";
import { NatsObjectBlobStore } from "./nats-object-store.ts";

const nats = natsServerForFile({ jetstream: true });
let buckets = 0;

async function makeStore() {
  const bucket = `blobs-${++buckets}`;
  const objects = await nats().connection.jetstream().views.os(bucket);
  const cacheDir = await mkdtemp(join(tmpdir(), "needle-os-cache-"));
  return {
    store: new NatsObjectBlobStore(objects, cacheDir),
    dispose: async () => {
      await objects.destroy();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

blobStoreSuite("NatsObjectBlobStore", makeStore);

test("object store: an overwritten blob gets a fresh local copy; the old one stays readable", async () => {
  const { store, dispose } = await makeStore();
  try {
    await store.put("s/one.slab", Uint8Array.of(1, 2, 3));
    const first = await store.localPath("s/one.slab");
    expect(await store.localPath("s/one.slab")).toBe(first); // cached
    await store.put("s/one.slab", Uint8Array.of(9));
    const second = await store.localPath("s/one.slab");
    expect(second).not.toBe(first);
    expect([...(await readFile(second))]).toEqual([9]);
    expect([...(await readFile(first))]).toEqual([1, 2, 3]);
  } finally {
    await dispose();
  }
});

test("object store: files stream in and out whole (several chunks), and a missing key is NOT_FOUND", async () => {
  const { store, dispose } = await makeStore();
  const dir = await mkdtemp(join(tmpdir(), "needle-os-files-"));
  try {
    // 300 KB of varied bytes: more than two of the Object Store's 128 KiB chunks.
    const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
    await Bun.write(join(dir, "in.slab"), bytes);
    await store.putFile("jobs/1/source-0", join(dir, "in.slab"));
    expect(await store.get("jobs/1/source-0")).toEqual(bytes);
    await store.getFile("jobs/1/source-0", join(dir, "out", "copy.slab"));
    expect(new Uint8Array(await readFile(join(dir, "out", "copy.slab")))).toEqual(bytes);
    await expect(store.getFile("jobs/1/absent", join(dir, "absent"))).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  } finally {
    await dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
