/**
 * Checkpoints: a directory saved at an LSN restores byte for byte (a file of many Object Store
 * chunks included), hidden temporaries and the local log left out; the record is found only
 * for its incarnation; a newer checkpoint uploads only the files that changed and deletes the
 * older one's that it does not share; a cached restore downloads only what changed; remove
 * clears all.
 */
import { expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { natsServerForFile } from "../../storage/testing/nats-server.ts";
import { Checkpoints } from "./checkpoints.ts";

const nats = natsServerForFile({ jetstream: true });

test("save then restore gives the same files; incarnations, replacement and removal", async () => {
  const root = await mkdtemp(join(tmpdir(), "needle-checkpoints-"));
  try {
    const source = join(root, "source");
    await mkdir(join(source, "slabs"), { recursive: true });
    await mkdir(join(source, "log"), { recursive: true });
    const random = seededRandom(5);
    const big = Uint8Array.from({ length: 700_000 }, () => Math.floor(random() * 256)); // ~6 chunks
    await writeFile(join(source, "slabs", "00001.slab"), big);
    await writeFile(join(source, "manifest"), "m1");
    await writeFile(join(source, "empty"), "");
    await writeFile(join(source, ".temporary"), "skip me");
    await writeFile(join(source, "log", "000001.log"), "skip me too");
    const checkpoints = await Checkpoints.open(nats().connection, { cacheDir: join(root, "cache") });

    const record = await checkpoints.save("docs", "inc1", 42n, source);
    expect(record.files.map((file) => file.path)).toEqual(["empty", "manifest", "slabs/00001.slab"]);
    expect(await checkpoints.latest("docs", "other")).toBeUndefined();
    const latest = (await checkpoints.latest("docs", "inc1"))!;
    expect(latest.lsn).toBe("42");

    const target = join(root, "target");
    await checkpoints.restore(latest, target);
    expect(Bun.hash(await readFile(join(target, "slabs", "00001.slab")))).toBe(Bun.hash(big));
    expect(await readFile(join(target, "manifest"), "utf8")).toBe("m1");
    expect(await readFile(join(target, "empty"), "utf8")).toBe("");

    await writeFile(join(source, "manifest"), "m2");
    const traffic = { ...checkpoints.traffic };
    const newer = await checkpoints.save("docs", "inc1", 50n, source);
    // Content-addressed: only the changed file was uploaded; the slab and the empty file reused.
    expect(checkpoints.traffic.uploaded - traffic.uploaded).toBe(1);
    expect(checkpoints.traffic.reused - traffic.reused).toBe(2);
    const slabKey = (r: typeof record) => r.files.find((file) => file.path === "slabs/00001.slab")!.key;
    expect(slabKey(newer)).toBe(slabKey(record));
    // The older checkpoint's changed file is gone from the store; the newer restores.
    const stored = (await checkpoints.storedFiles()).map((file) => file.key).sort();
    expect(stored).toEqual([...new Set(newer.files.map((file) => file.key))].sort());
    await expect(checkpoints.restore(record, join(root, "stale"))).rejects.toMatchObject({
      code: "CORRUPTION",
    });
    await checkpoints.restore(newer, join(root, "again"));
    expect(await readFile(join(root, "again", "manifest"), "utf8")).toBe("m2");

    // With a cache key, a second restore downloads only what changed since the first.
    await checkpoints.restore(newer, join(root, "cached-1"), "replica/docs");
    await writeFile(join(source, "manifest"), "m3");
    const third = await checkpoints.save("docs", "inc1", 60n, source);
    const before = { ...checkpoints.traffic };
    await checkpoints.restore(third, join(root, "cached-2"), "replica/docs");
    expect(checkpoints.traffic.downloaded - before.downloaded).toBe(1);
    expect(checkpoints.traffic.fromCache - before.fromCache).toBe(2);
    expect(Bun.hash(await readFile(join(root, "cached-2", "slabs", "00001.slab")))).toBe(Bun.hash(big));
    expect(await readFile(join(root, "cached-2", "manifest"), "utf8")).toBe("m3");

    await checkpoints.remove("docs");
    expect(await checkpoints.latest("docs", "inc1")).toBeUndefined();
    expect(await checkpoints.storedFiles()).toEqual([]);
    await expect(checkpoints.restore(third, join(root, "gone"))).rejects.toMatchObject({
      code: "CORRUPTION",
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a save that another save overtook is refused and deletes none of the newer record's files", async () => {
  const root = await mkdtemp(join(tmpdir(), "needle-checkpoints-race-"));
  try {
    const stale = join(root, "stale");
    const fresh = join(root, "fresh");
    for (const [dir, text] of [
      [stale, "old owner"],
      [fresh, "new owner"],
    ] as const) {
      await mkdir(join(dir, "slabs"), { recursive: true });
      await writeFile(join(dir, "manifest"), text);
      await writeFile(join(dir, "slabs", "00002.slab"), `${text} slab`);
    }
    const a = await Checkpoints.open(nats().connection, { cacheDir: join(root, "a") });
    const b = await Checkpoints.open(nats().connection, { cacheDir: join(root, "b") });
    await a.save("race", "inc", 10n, stale); // the record both start from
    let newer: Awaited<ReturnType<Checkpoints["save"]>> | undefined;
    // The old owner's upload outlasts its lease: meanwhile the new owner records LSN 20.
    const overtaken = a.save("race", "inc", 15n, stale, async () => {
      await writeFile(join(stale, "manifest"), "old owner, later");
      newer = await b.save("race", "inc", 20n, fresh);
    });
    await expect(overtaken).rejects.toMatchObject({ code: "FAILED_PRECONDITION" });
    const latest = (await b.latest("race", "inc"))!;
    expect(latest.lsn).toBe("20");
    expect(latest).toEqual(newer!);
    // Every file of the newer record is still there: it restores.
    await b.restore(latest, join(root, "restored"));
    expect(await readFile(join(root, "restored", "manifest"), "utf8")).toBe("new owner");
    expect(await readFile(join(root, "restored", "slabs", "00002.slab"), "utf8")).toBe("new owner slab");
    await b.remove("race");
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
