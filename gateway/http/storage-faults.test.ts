/**
 * Faults of the machine, through the HTTP app over the real engine: a full or failing volume
 * injected at every step that touches storage (append write, append fsync, segment roll, slab
 * put, manifest commit, directory fsync, log trim), the free-space watermark, and the memory
 * budget. For each: no acknowledged write is lost, no refused batch appears, reads are served
 * throughout, writes resume after the fault clears, and clients see 507/503 with Retry-After,
 * a request id, and no server path.
 *
 * Flush steps without I/O (freeze, build on the worker, swap) have nothing a machine fault can
 * fail; a failure there is a bug and stays fail-stop (actors/DESIGN.md).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine, EngineOptions } from "../../actors/api.ts";
import { openEngine } from "../../actors/mod.ts";
import { type FaultRule, injectFaults, observeFileOperations } from "../../storage/files.ts";
import { createApp, type RequestLogEntry, requestIdHeader } from "./app.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const headers = { "content-type": "application/json", "Api-Key": "k" };

interface Harness {
  dir: string;
  engine: Engine;
  app: ReturnType<typeof createApp>;
  logs: RequestLogEntry[];
}

async function harness(options: Partial<EngineOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "needle-storage-faults-"));
  dirs.push(dir);
  const engine = await openEngine({
    dir,
    flushRowsMax: 20,
    flushIdleMs: 600_000,
    logSegmentBytesMax: 1024,
    log: () => {},
    ...options,
  });
  const logs: RequestLogEntry[] = [];
  const app = createApp(engine, {
    apiKeys: ["k"],
    publicUrl: "http://127.0.0.1:5999",
    log: (entry) => logs.push(entry),
  });
  const created = await app.request("/indexes", {
    method: "POST",
    headers,
    body: JSON.stringify({ name: "f", dimension: 4, metric: "euclidean" }),
  });
  expect(created.status).toBe(201);
  return { dir, engine, app, logs };
}

function batch(prefix: string, count = 10) {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    values: [i, 1, 2, 3],
    metadata: { batch: prefix },
  }));
}

async function upsert(h: Harness, prefix: string): Promise<Response> {
  return h.app.request("/index/f/vectors/upsert", {
    method: "POST",
    headers,
    body: JSON.stringify({ vectors: batch(prefix), namespace: "n" }),
  });
}

/** Every id in `ids` is fetched (reads are served) — and nothing else of those batches. */
async function fetchIds(h: Harness, ids: string[]): Promise<string[]> {
  const query = ids.map((id) => `ids=${encodeURIComponent(id)}`).join("&");
  const response = await h.app.request(`/index/f/vectors/fetch?${query}&namespace=n`, { headers });
  expect(response.status).toBe(200);
  return Object.keys(((await response.json()) as { vectors: Record<string, unknown> }).vectors).sort();
}

async function queryCount(h: Harness): Promise<number> {
  const response = await h.app.request("/index/f/query", {
    method: "POST",
    headers,
    body: JSON.stringify({ vector: [0, 1, 2, 3], topK: 1000, namespace: "n" }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { matches: unknown[] }).matches.length;
}

/** A refusal as a client must see it: 507 or 503, Retry-After, a request id, no path. */
async function expectStorageRefusal(response: Response, h: Harness): Promise<void> {
  expect([503, 507]).toContain(response.status);
  expect(Number(response.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
  const requestId = response.headers.get(requestIdHeader);
  expect(requestId).toBeTruthy();
  const text = await response.text();
  expect(text).not.toContain(h.dir);
  expect(text).not.toContain(".wal");
  expect(text).not.toContain(".slab");
  expect(text).not.toMatch(/E(NOSPC|IO|DQUOT)/);
  const body = JSON.parse(text) as { message: string };
  expect(body.message).toContain("index f");
  // The server's log has the whole story under the same request id.
  const entry = h.logs.find((logged) => logged.requestId === requestId);
  expect(entry?.status).toBe(response.status);
  if (response.status >= 500) expect(entry?.error?.message).toBeTruthy();
}

const idsOf = (prefixes: string[]) =>
  prefixes.flatMap((prefix) => batch(prefix).map((record) => record.id)).sort();

interface FaultPoint {
  name: string;
  rule: (dir: string) => FaultRule;
  /** Whether clients must see refusals while it lasts (flush and trim faults only hold writes up). */
  refusesWrites: boolean;
  /** The engine's packedRowsMax for this point (default: the engine's). */
  packedRowsMax?: number;
}

const faultPoints: FaultPoint[] = [
  {
    name: "append write: volume full",
    refusesWrites: true,
    rule: (dir) => ({ operation: "write", path: join(dir, "indexes/f/log/"), fault: "ENOSPC" }),
  },
  {
    name: "append write: short write",
    refusesWrites: true,
    rule: (dir) => ({ operation: "write", path: join(dir, "indexes/f/log/"), fault: "short-write" }),
  },
  {
    name: "append fsync: device error",
    refusesWrites: true,
    rule: (dir) => ({ operation: "sync", path: join(dir, "indexes/f/log/"), fault: "EIO" }),
  },
  {
    name: "segment roll: volume full",
    refusesWrites: true,
    rule: (dir) => ({ operation: "open", path: join(dir, "indexes/f/log/"), fault: "ENOSPC" }),
  },
  {
    name: "flush put: slab write, volume full",
    refusesWrites: true,
    rule: (dir) => ({ operation: "write", path: join(dir, "indexes/f/slabs/"), fault: "ENOSPC" }),
  },
  {
    name: "flush put: slab fsync, device error",
    refusesWrites: true,
    rule: (dir) => ({ operation: "sync", path: join(dir, "indexes/f/slabs/"), fault: "EIO" }),
  },
  {
    name: "flush put: slab rename, volume full",
    refusesWrites: true,
    rule: (dir) => ({ operation: "rename", path: join(dir, "indexes/f/slabs/"), fault: "ENOSPC" }),
  },
  {
    name: "manifest commit: write, quota",
    refusesWrites: true,
    // Manifests are a dedicated namespace's: small namespaces are packed unless packing is off.
    packedRowsMax: 0,
    rule: (dir) => ({ operation: "write", path: join(dir, "indexes/f/namespaces/"), fault: "EDQUOT" }),
  },
  {
    name: "manifest commit: rename, device error",
    refusesWrites: true,
    packedRowsMax: 0,
    rule: (dir) => ({ operation: "rename", path: join(dir, "indexes/f/namespaces/"), fault: "EIO" }),
  },
  {
    name: "catalog commit: journal write, volume full",
    refusesWrites: true,
    rule: (dir) => ({ operation: "write", path: join(dir, "indexes/f/catalog/"), fault: "ENOSPC" }),
  },
  {
    name: "log trim: unlink, device error",
    refusesWrites: false,
    rule: (dir) => ({ operation: "unlink", path: join(dir, "indexes/f/log/"), fault: "EIO" }),
  },
];

describe("storage faults at every step: nothing acknowledged lost, reads served, writes resume", () => {
  for (const point of faultPoints) {
    test(point.name, async () => {
      const h = await harness(
        point.packedRowsMax === undefined ? {} : { packedRowsMax: point.packedRowsMax },
      );
      const acked: string[] = [];
      const refused: string[] = [];
      for (const prefix of ["base0", "base1", "base2"]) {
        expect((await upsert(h, prefix)).status).toBe(200);
        acked.push(prefix);
      }
      const faults = injectFaults({ ...point.rule(h.dir), times: Number.POSITIVE_INFINITY });
      try {
        for (let round = 0; round < 8; round++) {
          const prefix = `during${round}`;
          const response = await upsert(h, prefix);
          if (response.status === 200) acked.push(prefix);
          else {
            await expectStorageRefusal(response, h);
            refused.push(prefix);
          }
          // Reads go on, and see every acknowledged write.
          expect(await fetchIds(h, idsOf(acked))).toEqual(idsOf(acked));
          expect(await queryCount(h)).toBe(acked.length * 10);
          await Bun.sleep(5);
        }
        expect(faults.failures).toBeGreaterThan(0);
        if (point.refusesWrites) expect(refused.length).toBeGreaterThan(0);
      } finally {
        faults.remove();
      }
      // Writes resume by themselves once the fault clears (after the retry backoffs).
      let resumed = false;
      for (let attempt = 0; attempt < 200 && !resumed; attempt++) {
        const response = await upsert(h, "after");
        resumed = response.status === 200;
        if (!resumed) await Bun.sleep(25);
      }
      expect(resumed).toBe(true);
      acked.push("after");
      await h.engine.close();

      const reopened = await openEngine({ dir: h.dir, log: () => {} });
      const present = (await reopened.fetch("f", "n", idsOf([...acked, ...refused]))).records
        .map((r) => r.id)
        .sort();
      expect(present).toEqual(idsOf(acked));
      expect((await reopened.describeIndexStats("f")).totalVectorCount).toBe(acked.length * 10);
      await reopened.close();
    });
  }
});

test("below the free-space watermark writes get 507 naming index and namespace; deletes and reads go on; writes resume", async () => {
  let freeBytes = 10 * 2 ** 30;
  const h = await harness({
    freeSpace: { minFreeBytes: 2 ** 30, sample: async () => ({ freeBytes, totalBytes: 100 * 2 ** 30 }) },
  });
  expect((await upsert(h, "a")).status).toBe(200);
  freeBytes = 512 * 2 ** 20;
  await Bun.sleep(300); // the guard looks at the volume again at most every 250 ms
  const refused = await upsert(h, "b");
  expect(refused.status).toBe(507);
  await expectStorageRefusal(refused.clone() as Response, h);
  const message = ((await refused.json()) as { message: string }).message;
  expect(message).toContain("index f, namespace n");
  expect(message).toContain("512.0 MiB free");
  const deleted = await h.app.request("/index/f/vectors/delete", {
    method: "POST",
    headers,
    body: JSON.stringify({ ids: ["a-0"], namespace: "n" }),
  });
  expect(deleted.status).toBe(200);
  expect(await queryCount(h)).toBe(9);
  freeBytes = 5 * 2 ** 30;
  await Bun.sleep(300);
  expect((await upsert(h, "c")).status).toBe(200);
  expect(await queryCount(h)).toBe(19);
  await h.engine.close();
});

test("over the memory budget idle namespaces are released first, then writes get 503; they resume below it", async () => {
  let rss = 100;
  // Packing off: passivation shows as the namespace reading its manifest again.
  const h = await harness({ memoryMaxBytes: 1_000, sampleRssBytes: () => rss, packedRowsMax: 0 });
  expect((await upsert(h, "a")).status).toBe(200);
  expect(await queryCount(h)).toBe(10);
  // Over the shrink mark: the idle namespace is passivated (it reads its manifest again later).
  rss = 900;
  let manifestReads = 0;
  const stop = observeFileOperations((operation, path) => {
    if (operation === "read" && path.includes("/namespaces/")) manifestReads++;
  });
  try {
    // The governor samples once a second: wait (bounded) for a round to release the namespace.
    for (let waited = 0; manifestReads === 0 && waited < 50; waited++) {
      await Bun.sleep(200);
      expect(await queryCount(h)).toBe(10);
    }
  } finally {
    stop();
  }
  expect(manifestReads).toBeGreaterThan(0);
  // Over the budget: writes are refused, reads go on.
  rss = 2_000;
  const refused = await upsert(h, "b");
  expect(refused.status).toBe(503);
  expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
  expect(((await refused.json()) as { message: string }).message).toContain("memory budget");
  expect(await queryCount(h)).toBe(10);
  rss = 100;
  expect((await upsert(h, "c")).status).toBe(200);
  expect(await queryCount(h)).toBe(20);
  await h.engine.close();
});
