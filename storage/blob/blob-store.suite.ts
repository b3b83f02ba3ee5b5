/**
 * The shared BlobStore test suite. Every implementation's test file calls it with a factory
 * (local.test.ts; the NATS Object Store one will do the same), so all stores honour one
 * contract. Not a test file itself: it registers tests when called.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { NeedleError } from "../errors.ts";
import type { BlobStore } from "./blob-store.ts";

export interface BlobStoreFixture {
  store: BlobStore;
  /** Releases what the factory made (temporary directory, bucket, connection). */
  dispose(): Promise<void>;
}

const suiteSeed = 0x5eed_b10b;

function seededBytes(length: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

async function caught(promise: Promise<unknown>): Promise<NeedleError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(NeedleError);
  return error as NeedleError;
}

const invalidKeys = [
  "",
  "/absolute",
  "a//b",
  "a/",
  "a/../b",
  "..",
  ".",
  "./a",
  "a/.hidden",
  "a\\b",
  "a\u0000b",
  "x".repeat(1025),
];

export function blobStoreSuite(name: string, makeStore: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixtures: BlobStoreFixture[] = [];
    async function freshStore(): Promise<BlobStore> {
      const fixture = await makeStore();
      fixtures.push(fixture);
      return fixture.store;
    }
    afterEach(async () => {
      const done = fixtures;
      fixtures = [];
      await Promise.all(done.map((fixture) => fixture.dispose()));
    });

    test("put then get returns the same bytes (empty, small, 1 MiB)", async () => {
      const store = await freshStore();
      const blobs: [string, Uint8Array][] = [
        ["empty", new Uint8Array(0)],
        ["small/one", seededBytes(17, suiteSeed)],
        ["big/slab-0001.slab", seededBytes(1024 * 1024, suiteSeed + 1)],
      ];
      for (const [key, bytes] of blobs) await store.put(key, bytes);
      for (const [key, bytes] of blobs) {
        const read = await store.get(key);
        expect(read).toBeInstanceOf(Uint8Array);
        expect(read.byteLength).toBe(bytes.byteLength);
        expect(Buffer.from(read).equals(Buffer.from(bytes))).toBe(true);
      }
    });

    test("put overwrites, longer then shorter", async () => {
      const store = await freshStore();
      await store.put("k", seededBytes(1000, 1));
      await store.put("k", seededBytes(10, 2));
      expect(Array.from(await store.get("k"))).toEqual(Array.from(seededBytes(10, 2)));
    });

    test("stored bytes are copies: later changes to the input or the output do not leak in", async () => {
      const store = await freshStore();
      const input = seededBytes(64, 3);
      await store.put("copy", input);
      input.fill(0);
      const first = await store.get("copy");
      first.fill(1);
      expect(Array.from(await store.get("copy"))).toEqual(Array.from(seededBytes(64, 3)));
    });

    test("get and localPath of an absent key are NOT_FOUND naming the key", async () => {
      const store = await freshStore();
      for (const error of [
        await caught(store.get("no/such/blob")),
        await caught(store.localPath("no/such/blob")),
      ]) {
        expect(error.code).toBe("NOT_FOUND");
        expect(error.message).toContain("no/such/blob");
      }
      await store.put("no/such/other", new Uint8Array([1]));
      expect((await caught(store.get("no/such"))).code).toBe("NOT_FOUND"); // a "folder" is not a blob
    });

    test("exists and delete; deleting an absent key is not an error", async () => {
      const store = await freshStore();
      expect(await store.exists("d/x")).toBe(false);
      await store.put("d/x", new Uint8Array([7]));
      expect(await store.exists("d/x")).toBe(true);
      expect(await store.exists("d")).toBe(false);
      await store.delete("d/x");
      expect(await store.exists("d/x")).toBe(false);
      expect((await caught(store.get("d/x"))).code).toBe("NOT_FOUND");
      await store.delete("d/x");
      await store.delete("never/there");
      expect(await store.list("")).toEqual([]);
    });

    test("a key that was a folder can become a blob after its contents are deleted", async () => {
      const store = await freshStore();
      await store.put("ns/slab", new Uint8Array([1]));
      await store.delete("ns/slab");
      await store.put("ns", new Uint8Array([2]));
      expect(Array.from(await store.get("ns"))).toEqual([2]);
    });

    test("localPath names a readable file holding the blob", async () => {
      const store = await freshStore();
      const bytes = seededBytes(4096, 4);
      await store.put("mapped/slab", bytes);
      const path = await store.localPath("mapped/slab");
      const onDisk = new Uint8Array(await Bun.file(path).arrayBuffer());
      expect(Buffer.from(onDisk).equals(Buffer.from(bytes))).toBe(true);
    });

    test("list returns keys with the prefix, sorted", async () => {
      const store = await freshStore();
      const keys = ["b", "a/b1", "a/bc/d", "a/b/c", "a/a", "ab", "c/d/e/f"];
      await Promise.all(keys.map((key, index) => store.put(key, new Uint8Array([index]))));
      expect(await store.list("")).toEqual([...keys].sort());
      expect(await store.list("a/")).toEqual(["a/a", "a/b/c", "a/b1", "a/bc/d"]);
      expect(await store.list("a/b")).toEqual(["a/b/c", "a/b1", "a/bc/d"]);
      expect(await store.list("a/b/")).toEqual(["a/b/c"]);
      expect(await store.list("a")).toEqual(["a/a", "a/b/c", "a/b1", "a/bc/d", "ab"]);
      expect(await store.list("c/d/e/f")).toEqual(["c/d/e/f"]);
      expect(await store.list("zz")).toEqual([]);
      expect(await store.list("q/r/")).toEqual([]);
    });

    test("concurrent puts into one new folder all land", async () => {
      const store = await freshStore();
      const keys = Array.from({ length: 20 }, (_, i) => `fresh/folder/blob-${String(i).padStart(2, "0")}`);
      await Promise.all(keys.map((key, i) => store.put(key, seededBytes(100, i))));
      expect(await store.list("fresh/")).toEqual(keys);
      for (const [i, key] of keys.entries()) {
        expect(Array.from(await store.get(key))).toEqual(Array.from(seededBytes(100, i)));
      }
    });

    test("invalid keys are INVALID_ARGUMENT on every operation", async () => {
      const store = await freshStore();
      for (const key of invalidKeys) {
        const operations: Promise<unknown>[] = [
          store.put(key, new Uint8Array([1])),
          store.get(key),
          store.localPath(key),
          store.exists(key),
          store.delete(key),
        ];
        for (const operation of operations) {
          const error = await caught(operation);
          expect(error.code).toBe("INVALID_ARGUMENT");
          expect(error.field).toBe("key");
        }
      }
      for (const prefix of ["/a", "a//", "../", "a/.", "a\\"]) {
        const error = await caught(store.list(prefix));
        expect(error.code).toBe("INVALID_ARGUMENT");
        expect(error.field).toBe("prefix");
      }
      expect(await store.list("")).toEqual([]);
    });
  });
}
