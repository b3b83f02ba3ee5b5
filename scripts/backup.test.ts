/**
 * `needle backup` / `needle restore` as processes, on a data directory and against a running
 * server: the printed lines name the backup, the restore holds the same records.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openEngine } from "../actors/mod.ts";
import { startServer } from "../gateway/http/testing.ts";

const repoRoot = resolve(import.meta.dir, "..");
let dir: string;
let data: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "needle-backup-cli-"));
  data = join(dir, "data");
  const engine = await openEngine({ dir: data, log: () => {} });
  await engine.createIndex({ name: "src", dimension: 3, metric: "euclidean" } as never);
  await engine.upsert(
    "src",
    "ns",
    Array.from({ length: 250 }, (_, i) => ({ id: `v${i}`, values: new Float32Array([i, i / 2, 1]) })),
  );
  await engine.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function needle(args: string[]) {
  const proc = Bun.spawn([process.execPath, join(repoRoot, "scripts", "needle.ts"), ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return {
    lines:
      stdout.trim() === ""
        ? []
        : stdout
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line)),
    stderr,
    code,
  };
}

test("on a data directory: backup, list, restore with tags, delete", async () => {
  const made = await needle(["backup", "--data", data, "--index", "src", "--name", "cli"]);
  expect(made.code).toBe(0);
  expect(made.lines[0]).toMatchObject({
    sourceIndexName: "src",
    name: "cli",
    recordCount: 250,
    namespaceCount: 1,
  });
  const id = made.lines[0].backupId as string;
  const listed = await needle(["backup", "--data", data, "--list"]);
  expect(listed.lines.map((line) => line.backupId)).toEqual([id]);
  const restored = await needle([
    "restore",
    "--data",
    data,
    "--backup",
    id,
    "--index",
    "copy",
    "--tag",
    "origin=cli",
  ]);
  expect(restored.code).toBe(0);
  expect(restored.lines[0]).toMatchObject({ backupId: id, targetIndexName: "copy", status: "Completed" });

  const engine = await openEngine({ dir: data, log: () => {} });
  try {
    expect((await engine.describeIndex("copy")).tags).toEqual({ origin: "cli" });
    const source = await engine.fetch("src", "ns", ["v0", "v100", "v249"]);
    const copy = await engine.fetch("copy", "ns", ["v0", "v100", "v249"]);
    expect(copy.records).toEqual(source.records);
    expect((await engine.describeNamespace("copy", "ns")).recordCount).toBe(250);
  } finally {
    await engine.close();
  }
  expect((await needle(["backup", "--data", data, "--delete", id])).lines[0]).toEqual({ deleted: id });
  expect((await needle(["backup", "--data", data, "--list"])).lines).toEqual([]);
  const bad = await needle(["restore", "--data", data, "--backup", id]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("restore needs --backup ID and --index NEW");
});

test("against a running server with --url", async () => {
  const server = await startServer(data);
  try {
    const made = await needle(["backup", "--url", server.url, "--index", "src"]);
    expect(made.code).toBe(0);
    expect(made.lines[0]).toMatchObject({ source_index_name: "src", record_count: 250 });
    const restored = await needle([
      "restore",
      "--url",
      server.url,
      "--backup",
      made.lines[0].backup_id,
      "--index",
      "remote-copy",
    ]);
    expect(restored.lines[0].index_id).toBe("remote-copy");
    const stats = await fetch(`${server.url}/index/remote-copy/describe_index_stats`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    expect(((await stats.json()) as { totalVectorCount: number }).totalVectorCount).toBe(250);
  } finally {
    await server.stop();
  }
});
