/**
 * `needle cluster`: three NATS nodes, two owners, an executor, a compactor and two gateways
 * come up with one line each;
 * an index created, written and queried through one gateway answers through the other and
 * through the NATS API the gateways serve;
 * SIGTERM stops every process it started and exits 0. Without nats-server on the PATH it
 * refuses to start, saying how to install it.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { connect } from "nats";
import { forEachLine } from "../actors/testing/child-lines.ts";
import { NeedleNatsClient } from "../gateway/nats/client.ts";

const repoRoot = resolve(import.meta.dir, "..");
const headers = { "Content-Type": "application/json", "Api-Key": "k" };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("needle cluster starts every process, serves through both gateways, and SIGTERM stops them all", async () => {
  const dir = mkdtempSync(join(tmpdir(), "needle-cluster-cmd-"));
  const launcher = Bun.spawn(
    [
      process.execPath,
      "run",
      join(repoRoot, "scripts/needle.ts"),
      "cluster",
      "--dir",
      dir,
      "--api-key",
      "k",
      "--executors",
      "1",
    ],
    { stdout: "pipe", stderr: "inherit", cwd: repoRoot },
  );
  const lines: string[] = [];
  let ready: () => void;
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const reading = forEachLine(launcher.stdout, (line) => {
    lines.push(line);
    if (line === "ready") ready();
  });
  try {
    await Promise.race([
      isReady,
      Bun.sleep(90_000).then(() => Promise.reject(new Error(`not ready: ${lines.join("\n")}`))),
    ]);
    const nats = lines.filter((line) => /^nats n\d pid \d+ url nats:\/\/127\.0\.0\.1:\d+$/.test(line));
    const executors = lines.filter((line) => /^executor owner-\d pid \d+$/.test(line));
    const standalone = lines.filter((line) => /^executor executor-\d pid \d+$/.test(line));
    const compactors = lines.filter((line) => /^compactor compactor-\d pid \d+$/.test(line));
    const gateways = lines.filter((line) => /^gateway http:\/\/127\.0\.0\.1:\d+ pid \d+$/.test(line));
    expect([nats.length, executors.length, standalone.length, compactors.length, gateways.length]).toEqual([
      3, 2, 1, 1, 2,
    ]);
    const [one, two] = gateways.map((line) => line.split(" ")[1]!);
    const created = await fetch(`${one}/indexes`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        name: "docs",
        dimension: 2,
        metric: "cosine",
        spec: { serverless: { cloud: "aws", region: "us-east-1" } },
      }),
    });
    expect(created.status).toBe(201);
    const unauthorised = await fetch(`${two}/indexes`, { headers: { "Api-Key": "wrong" } });
    expect(unauthorised.status).toBe(401);
    const upserted = await fetch(`${one}/index/docs/vectors/upsert`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        vectors: [
          { id: "a", values: [1, 0] },
          { id: "b", values: [0, 1] },
        ],
      }),
    });
    expect(upserted.status).toBe(200);
    const query = await fetch(`${two}/index/docs/query`, {
      method: "POST",
      headers,
      body: JSON.stringify({ vector: [0.1, 1], topK: 1 }),
    });
    expect(((await query.json()) as { matches: { id: string }[] }).matches[0]?.id).toBe("b");
    // The gateways serve the NATS API too: the same index through `needle.api.v1`.
    const natsUrl = nats[0]!.split(" url ")[1]!;
    const connection = await connect({ servers: natsUrl });
    const overNats = await new NeedleNatsClient(connection)
      .index("docs")
      .query({ vector: [1, 0.1], topK: 1 });
    expect(overNats.matches[0]?.id).toBe("a");
    const infos = [];
    for await (const info of await connection.services.client().info("needle")) infos.push(info);
    expect(infos).toHaveLength(2); // one per gateway
    await connection.close();

    const pids = lines.flatMap((line) => /pid (\d+)/.exec(line)?.slice(1) ?? []).map(Number);
    expect(pids).toHaveLength(9);
    launcher.kill("SIGTERM");
    expect(await launcher.exited).toBe(0);
    await reading;
    expect(lines.at(-1)).toBe("stopped");
    expect(pids.filter(alive)).toEqual([]);
  } finally {
    launcher.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test("needle cluster without nats-server on the PATH refuses, saying how to install it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "needle-cluster-nonats-"));
  try {
    const run = Bun.spawn(
      [process.execPath, "run", join(repoRoot, "scripts/needle.ts"), "cluster", "--dir", dir],
      {
        stdout: "pipe",
        stderr: "pipe",
        cwd: repoRoot,
        env: { ...process.env, PATH: dirname(process.execPath) },
      },
    );
    expect(await run.exited).toBe(2);
    expect(await new Response(run.stderr).text()).toContain("apt-get install nats-server");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
