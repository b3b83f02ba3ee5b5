/**
 * What the engine does with its files: one process per data directory (lock), index
 * directories made durable before the catalog names them, a delete and a re-create of one name
 * that cannot cross, and the start-up clean-up of slab files that deletes nothing it is not sure of.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NeedleError } from "../storage/errors.ts";
import { injectFaults, observeFileOperations } from "../storage/files.ts";
import type { VectorRecord } from "../storage/types.ts";
import { openEngine } from "./mod.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "needle-files-"));
  dirs.push(dir);
  return dir;
}
function records(prefix: string, count: number): VectorRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    values: Float32Array.of(1, i + 1),
  }));
}

async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.trim();
}

test("a second open of a data directory fails clearly, in another process or this one, until the first is gone", async () => {
  const dir = await freshDir();
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "testing/hold-open-child.ts"), dir], {
    stdout: "pipe",
    stderr: "inherit",
  });
  try {
    expect(await readLine(child.stdout)).toBe("open");
    const refused = (await openEngine({ dir, log: () => {} }).catch((error) => error)) as NeedleError;
    expect(refused).toBeInstanceOf(NeedleError);
    expect(refused.code).toBe("FAILED_PRECONDITION");
    expect(refused.message).toContain("in use by another Needle");
    expect(refused.message).toContain(`pid ${child.pid}`);
  } finally {
    child.kill("SIGKILL");
    await child.exited;
  }
  // The kernel dropped the dead process's lock: this process may open now, and only once.
  const engine = await openEngine({ dir, log: () => {} });
  const second = (await openEngine({ dir, log: () => {} }).catch((error) => error)) as NeedleError;
  expect(second.code).toBe("FAILED_PRECONDITION");
  const other = Bun.spawn([process.execPath, join(import.meta.dir, "testing/hold-open-child.ts"), dir], {
    stdout: "pipe",
    stderr: "inherit",
  });
  expect(await readLine(other.stdout)).toBe("refused FAILED_PRECONDITION");
  await other.exited;
  await engine.close();
  const again = await openEngine({ dir, log: () => {} });
  await again.close();
});

test("an index directory is fsynced into indexes/ before the catalog names it", async () => {
  const dir = await freshDir();
  const engine = await openEngine({ dir, log: () => {} });
  const seen: string[] = [];
  const stop = observeFileOperations((operation, path) => seen.push(`${operation} ${path}`));
  try {
    await engine.createIndex({ name: "durable", dimension: 2, metric: "cosine", vectorType: "dense" });
  } finally {
    stop();
  }
  const made = seen.indexOf(`mkdir ${join(dir, "indexes", "durable")}`);
  const parentSynced = seen.findIndex((entry, at) => at > made && entry === `sync ${join(dir, "indexes")}`);
  const catalogRenamed = seen.findIndex((entry) => entry.startsWith(`rename ${join(dir, "catalog")}`));
  expect(made).toBeGreaterThanOrEqual(0);
  expect(parentSynced).toBeGreaterThan(made);
  expect(catalogRenamed).toBeGreaterThan(parentSynced);
  await engine.close();
});

test("delete racing a create of the same name: the new index keeps every acknowledged write", async () => {
  const dir = await freshDir();
  const engine = await openEngine({ dir, log: () => {} });
  for (let round = 0; round < 5; round++) {
    await engine.createIndex({ name: "phoenix", dimension: 2, metric: "euclidean", vectorType: "dense" });
    await engine.upsert("phoenix", "n", records(`old${round}-`, 30));
    // Started in the same tick: the create must not run inside the delete.
    const deleted = engine.deleteIndex("phoenix");
    const created = engine.createIndex({
      name: "phoenix",
      dimension: 2,
      metric: "euclidean",
      vectorType: "dense",
    });
    await created;
    const lsns: bigint[] = [];
    for (let batch = 0; batch < 3; batch++) {
      lsns.push((await engine.upsert("phoenix", "n", records(`new${round}-${batch}-`, 10))).lsn);
    }
    await deleted;
    expect((await engine.describeIndexStats("phoenix")).totalVectorCount).toBe(30);
    expect((await engine.fetch("phoenix", "n", [`old${round}-0`])).records).toEqual([]);
    if (round < 4) await engine.deleteIndex("phoenix");
  }
  await engine.close();
  const reopened = await openEngine({ dir, log: () => {} });
  expect((await reopened.describeIndexStats("phoenix")).totalVectorCount).toBe(30);
  expect((await reopened.fetch("phoenix", "n", ["new4-2-9", "new4-0-0"])).records).toHaveLength(2);
  await reopened.close();
});

test("slab clean-up at start deletes nothing when the namespace listing fails, and never an operator's file", async () => {
  const dir = await freshDir();
  // A namespace's own slab files (packing off): the clean-up that reads manifests.
  let engine = await openEngine({ dir, flushRowsMax: 10, packedRowsMax: 0, log: () => {} });
  await engine.createIndex({ name: "keep", dimension: 2, metric: "cosine", vectorType: "dense" });
  for (const prefix of ["a", "b", "c"]) {
    await engine.upsert("keep", "n", records(prefix, 10));
    await Bun.sleep(20); // let the background flush finish, so each batch is a slab
  }
  await engine.close();
  const slabsDir = join(dir, "indexes", "keep", "slabs");
  const slabs = (await readdir(slabsDir)).sort();
  expect(slabs.length).toBeGreaterThan(1);
  await writeFile(join(slabsDir, `${slabs[0]}.bak`), "an operator's copy");
  await writeFile(join(slabsDir, "notes.slab"), "not one of ours either");

  // The listing of namespaces fails (too many open files): nothing may be deleted.
  const faults = injectFaults({
    operation: "readdir",
    path: join(dir, "indexes", "keep", "namespaces"),
    fault: "EMFILE",
    times: Number.POSITIVE_INFINITY,
  });
  engine = await openEngine({ dir, log: () => {} });
  try {
    const refused = (await engine.describeIndexStats("keep").catch((error) => error)) as NeedleError;
    expect(refused).toBeInstanceOf(NeedleError);
    expect(faults.failures).toBeGreaterThan(0);
  } finally {
    faults.remove();
  }
  expect((await readdir(slabsDir)).sort()).toEqual([...slabs, `${slabs[0]}.bak`, "notes.slab"].sort());
  await engine.close();

  // With a sound listing, the index serves every record and the operator's files stay.
  engine = await openEngine({ dir, log: () => {} });
  expect((await engine.describeIndexStats("keep")).totalVectorCount).toBe(30);
  await engine.close();
  const after = await readdir(slabsDir);
  expect(after).toContain(`${slabs[0]}.bak`);
  expect(after).toContain("notes.slab");
});

test("a request log that lost its newest segments is CORRUPTION, not a silent rewind of LSNs", async () => {
  const dir = await freshDir();
  let engine = await openEngine({ dir, log: () => {} });
  await engine.createIndex({ name: "rewind", dimension: 2, metric: "cosine", vectorType: "dense" });
  for (const prefix of ["a", "b", "c"]) await engine.upsert("rewind", "n", records(prefix, 5));
  await engine.close(); // flushes: the namespace manifest says "flushed through LSN 3"
  await rm(join(dir, "indexes", "rewind", "log"), { recursive: true });
  engine = await openEngine({ dir, log: () => {} });
  const refused = (await engine.describeIndexStats("rewind").catch((error) => error)) as NeedleError;
  expect(refused).toBeInstanceOf(NeedleError);
  expect(refused.code).toBe("CORRUPTION");
  expect(refused.message).toContain("flushed through LSN 3 but the request log ends at LSN 0");
  // Nothing was written in the meantime that could hide the loss.
  const write = (await engine.upsert("rewind", "n", records("d", 1)).catch((error) => error)) as NeedleError;
  expect(write).toBeInstanceOf(NeedleError);
  await engine.close();
});
