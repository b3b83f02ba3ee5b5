/**
 * A real full disk: the server's data directory on a 12 MB tmpfs, written until writes are
 * refused; reads go on; the file system grows; writes resume; a restart finds every
 * acknowledged record. Mounting needs root (CAP_SYS_ADMIN): elsewhere this test is skipped and
 * says so; the fault-injection suite (storage-faults.test.ts) covers the same paths anywhere.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requestIdHeader } from "./app.ts";
import { type RunningServer, startServer } from "./testing.ts";

const dimension = 64;
const batchRecords = 100;
const headers = { "content-type": "application/json", "Api-Key": "k" };

function run(command: string[]): boolean {
  return spawnSync(command[0]!, command.slice(1), { stdio: "ignore" }).status === 0;
}

/** A fresh 12 MB tmpfs, or undefined (with the reason logged) where mounting is not allowed. */
function mountSmallTmpfs(): string | undefined {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    console.log("full-disk.test.ts: skipped: mounting a tmpfs needs root on Linux");
    return undefined;
  }
  const mountPoint = mkdtempSync(join(tmpdir(), "needle-full-disk-"));
  if (!run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", mountPoint])) {
    console.log("full-disk.test.ts: skipped: mount -t tmpfs was refused here");
    rmSync(mountPoint, { recursive: true, force: true });
    return undefined;
  }
  return mountPoint;
}

const mountPoint = mountSmallTmpfs();

function batch(number: number) {
  return Array.from({ length: batchRecords }, (_, i) => ({
    id: `b${number}-${i}`,
    values: Array.from({ length: dimension }, (_, d) => Math.fround(Math.sin(number * 31 + i * 7 + d))),
  }));
}

test.skipIf(mountPoint === undefined)(
  "write a 12 MB tmpfs until full: 507 with Retry-After and no path, reads go on; grown, writes resume; nothing acknowledged is lost",
  async () => {
    const dataDir = join(mountPoint!, "data");
    mkdirSync(dataDir);
    const serverArgs = ["--min-free-bytes", "1mb", "--flush-rows-max", "500"];
    let server: RunningServer | undefined = await startServer(dataDir, serverArgs);
    try {
      const created = await fetch(`${server.url}/indexes`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name: "full", dimension, metric: "cosine" }),
      });
      expect(created.status).toBe(201);
      const base = `${server.url}/index/full`;
      const upsert = (number: number) =>
        fetch(`${base}/vectors/upsert`, {
          method: "POST",
          headers,
          body: JSON.stringify({ vectors: batch(number) }),
        });

      const acked: number[] = [];
      let refusal: Response | undefined;
      for (let number = 0; number < 2_000 && refusal === undefined; number++) {
        const response = await upsert(number);
        if (response.status === 200) acked.push(number);
        else refusal = response;
      }
      expect(refusal).toBeDefined();
      expect(acked.length).toBeGreaterThan(10);
      expect(refusal!.status).toBe(507);
      expect(Number(refusal!.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
      expect(refusal!.headers.get(requestIdHeader)).toBeTruthy();
      const text = await refusal!.text();
      expect(text).not.toContain(mountPoint!);
      expect(text).toContain("index full");

      // Full: reads are served.
      const query = await fetch(`${base}/query`, {
        method: "POST",
        headers,
        body: JSON.stringify({ vector: batch(0)[0]!.values, topK: 3 }),
      });
      expect(query.status).toBe(200);
      expect(((await query.json()) as { matches: { id: string }[] }).matches[0]!.id).toBe("b0-0");
      const stats = await fetch(`${base}/describe_index_stats`, { method: "POST", headers, body: "{}" });
      expect(((await stats.json()) as { totalVectorCount: number }).totalVectorCount).toBe(
        acked.length * batchRecords,
      );

      // The file system grows: writes resume by themselves within a few retries.
      expect(run(["mount", "-o", "remount,size=64m", mountPoint!])).toBe(true);
      let resumed = false;
      const next = 10_000;
      for (let attempt = 0; attempt < 300 && !resumed; attempt++) {
        const response = await upsert(next);
        resumed = response.status === 200;
        if (!resumed) await Bun.sleep(100);
      }
      expect(resumed).toBe(true);
      acked.push(next);

      // A restart finds every acknowledged record.
      expect(await server.stop()).toBe(0);
      server = await startServer(dataDir, serverArgs);
      const reopened = await fetch(`${server.url}/index/full/describe_index_stats`, {
        method: "POST",
        headers,
        body: "{}",
      });
      expect(((await reopened.json()) as { totalVectorCount: number }).totalVectorCount).toBe(
        acked.length * batchRecords,
      );
      const sample = acked.flatMap((number) => [`b${number}-0`, `b${number}-${batchRecords - 1}`]);
      for (let start = 0; start < sample.length; start += 500) {
        const ids = sample.slice(start, start + 500);
        const query = ids.map((id) => `ids=${id}`).join("&");
        const fetched = await fetch(`${server.url}/index/full/vectors/fetch?${query}`, { headers });
        const vectors = ((await fetched.json()) as { vectors: Record<string, unknown> }).vectors;
        expect(Object.keys(vectors).sort()).toEqual([...ids].sort());
      }
    } finally {
      await server?.stop();
      run(["umount", mountPoint!]);
      rmSync(mountPoint!, { recursive: true, force: true });
    }
  },
  120_000,
);
