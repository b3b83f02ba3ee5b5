import { afterEach, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NeedleError } from "../errors.ts";
import { temporaryPathFor } from "../fsync.ts";
import { encodeManifestFile, manifestFileName } from "./format.ts";
import { ManifestStore } from "./mod.ts";

interface TestBody {
  lsn: bigint;
  slabs: { id: string; level: number; deleted: Uint8Array }[];
  centroid: Float32Array;
  note: string;
}

/** The first slab id of a loaded manifest (fails the test if there is no manifest). */
function firstSlabId(loaded: { body: TestBody } | undefined): string | undefined {
  expect(loaded).toBeDefined();
  return loaded?.body.slabs[0]?.id;
}

function bodyFor(version: number): TestBody {
  return {
    lsn: 2n ** 40n + BigInt(version),
    slabs: [{ id: `slab-${version}`, level: version % 3, deleted: new Uint8Array([version, 0, 255]) }],
    centroid: new Float32Array([version, 0.5, -1.25]),
    note: "é∑",
  };
}

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-manifest-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function loadError(store: ManifestStore<TestBody>): Promise<NeedleError> {
  const error = await store.load().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(NeedleError);
  return error as NeedleError;
}

test("load of an empty or absent directory is undefined; the first commit creates it", async () => {
  const dir = await freshDir();
  expect(await new ManifestStore<TestBody>(dir, "manifest").load()).toBeUndefined();
  const nested = new ManifestStore<TestBody>(join(dir, "absent", "deeper"), "manifest");
  expect(await nested.load()).toBeUndefined();
  expect(await nested.commit(bodyFor(1))).toBe(1);
  expect((await nested.load())?.version).toBe(1);
});

test("commit then load round-trips bigint, Uint8Array and Float32Array bodies", async () => {
  const dir = await freshDir();
  const store = new ManifestStore<TestBody>(dir, "manifest");
  expect(await store.commit(bodyFor(1))).toBe(1);
  const loaded = await new ManifestStore<TestBody>(dir, "manifest").load();
  expect(loaded?.version).toBe(1);
  const body = loaded!.body;
  expect(typeof body.lsn).toBe("bigint");
  expect(body.lsn).toBe(2n ** 40n + 1n);
  expect(body.slabs[0]!.deleted).toBeInstanceOf(Uint8Array);
  expect(Array.from(body.slabs[0]!.deleted)).toEqual([1, 0, 255]);
  expect(body.centroid).toBeInstanceOf(Float32Array);
  expect(Array.from(body.centroid)).toEqual([1, 0.5, -1.25]);
  expect(body.note).toBe("é∑");
});

test("versions grow by one, the previous version is kept and older ones deleted", async () => {
  const dir = await freshDir();
  const store = new ManifestStore<TestBody>(dir, "manifest");
  for (let version = 1; version <= 5; version++) expect(await store.commit(bodyFor(version))).toBe(version);
  expect((await readdir(dir)).sort()).toEqual([
    manifestFileName("manifest", 4),
    manifestFileName("manifest", 5),
  ]);
  const loaded = await store.load();
  expect(loaded?.version).toBe(5);
  expect(firstSlabId(loaded)).toBe("slab-5");
});

test("concurrent commits are serialised into distinct versions", async () => {
  const dir = await freshDir();
  const store = new ManifestStore<TestBody>(dir, "manifest");
  const versions = await Promise.all([1, 2, 3, 4].map((version) => store.commit(bodyFor(version))));
  expect(versions).toEqual([1, 2, 3, 4]);
  expect(firstSlabId(await store.load())).toBe("slab-4");
});

test("stores with different names share a directory without seeing each other", async () => {
  const dir = await freshDir();
  const first = new ManifestStore<TestBody>(dir, "manifest");
  const second = new ManifestStore<TestBody>(dir, "manifest-b");
  await first.commit(bodyFor(1));
  await first.commit(bodyFor(2));
  expect(await second.load()).toBeUndefined();
  expect(await second.commit(bodyFor(7))).toBe(1);
  expect((await first.load())?.version).toBe(2);
});

test("a crash between the temporary write and the rename leaves the previous version", async () => {
  const dir = await freshDir();
  const store = new ManifestStore<TestBody>(dir, "manifest");
  await store.commit(bodyFor(1));
  await store.commit(bodyFor(2));
  // What an interrupted commit of version 3 leaves behind: a complete temporary file, and a torn one.
  const target = join(dir, manifestFileName("manifest", 3));
  const complete = temporaryPathFor(target);
  const torn = temporaryPathFor(target);
  await writeFile(complete, encodeManifestFile(3, bodyFor(3)));
  await writeFile(torn, encodeManifestFile(3, bodyFor(3)).subarray(0, 20));
  const loaded = await new ManifestStore<TestBody>(dir, "manifest").load();
  expect(loaded?.version).toBe(2);
  expect(firstSlabId(loaded)).toBe("slab-2");
  // The next commit takes version 3 and removes the leftovers.
  expect(await store.commit(bodyFor(30))).toBe(3);
  expect(firstSlabId(await store.load())).toBe("slab-30");
  expect((await readdir(dir)).sort()).toEqual([
    manifestFileName("manifest", 2),
    manifestFileName("manifest", 3),
  ]);
});

test("an interrupted first commit leaves no manifest at all", async () => {
  const dir = await freshDir();
  const target = join(dir, manifestFileName("manifest", 1));
  await writeFile(temporaryPathFor(target), encodeManifestFile(1, bodyFor(1)));
  const store = new ManifestStore<TestBody>(dir, "manifest");
  expect(await store.load()).toBeUndefined();
  expect(await store.commit(bodyFor(2))).toBe(1);
  expect(firstSlabId(await store.load())).toBe("slab-2");
  expect(await readdir(dir)).toEqual([manifestFileName("manifest", 1)]);
});

test("a damaged newest committed file is CORRUPTION naming it, even with a valid older one", async () => {
  const dir = await freshDir();
  const store = new ManifestStore<TestBody>(dir, "manifest");
  await store.commit(bodyFor(1));
  await store.commit(bodyFor(2));
  const newest = join(dir, manifestFileName("manifest", 2));
  const original = new Uint8Array(await readFile(newest));

  for (const position of [0, 9, 13, 17, 25, 40, original.byteLength - 1]) {
    const damaged = original.slice();
    damaged[position]! ^= 0x10;
    await writeFile(newest, damaged);
    const error = await loadError(store);
    expect(error.code).toBe("CORRUPTION");
    expect(error.file).toBe(newest);
    expect(error.message).toContain(newest);
  }

  await writeFile(newest, original);
  await truncate(newest, original.byteLength - 1);
  expect((await loadError(store)).file).toBe(newest);

  // A valid file under the wrong version's name (e.g. a mistaken copy) is caught too.
  await writeFile(newest, encodeManifestFile(1, bodyFor(1)));
  const misnamed = await loadError(store);
  expect(misnamed.code).toBe("CORRUPTION");
  expect(misnamed.message).toContain("file name says 2");
});

test("rejects names that could escape the directory or collide with temporary files", () => {
  for (const bad of ["", ".manifest", "a/b", "a.b", "x".repeat(65)]) {
    expect(() => new ManifestStore<TestBody>("/unused", bad)).toThrow(NeedleError);
  }
});
