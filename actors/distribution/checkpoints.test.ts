/**
 * Checkpoints: a directory saved at an LSN restores byte for byte (a file of many Object Store
 * chunks included), hidden temporaries and the local log left out; the record is found only
 * for its incarnation; a newer checkpoint replaces the older one's files; remove clears all.
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
    const newer = await checkpoints.save("docs", "inc1", 50n, source);
    // The older checkpoint's files are gone; the newer restores.
    const stale = join(root, "stale");
    await expect(checkpoints.restore(record, stale)).rejects.toMatchObject({ code: "CORRUPTION" });
    await checkpoints.restore(newer, join(root, "again"));
    expect(await readFile(join(root, "again", "manifest"), "utf8")).toBe("m2");

    await checkpoints.remove("docs");
    expect(await checkpoints.latest("docs", "inc1")).toBeUndefined();
    await expect(checkpoints.restore(newer, join(root, "gone"))).rejects.toMatchObject({
      code: "CORRUPTION",
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
