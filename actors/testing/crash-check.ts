/**
 * The crash tests' verdict on a reopened engine after a child ingesting crash batches was
 * killed: every acknowledged batch complete and exact, the batch in flight all or nothing,
 * nothing beyond it, and the index's count agreeing. Answers how many batches are now known
 * to be fully present (the next child starts there).
 */
import { expect } from "bun:test";
import { join } from "node:path";
import type { Engine } from "../api.ts";
import { forEachLine } from "./child-lines.ts";
import { crashBatch, crashBatchRecords } from "./crash-data.ts";

export async function expectCrashOutcome(engine: Engine, lastAcked: number): Promise<number> {
  const inFlight = lastAcked + 1;
  const ids = (batch: number) => crashBatch(batch).map((r) => r.id);
  for (let batch = 0; batch <= lastAcked; batch += 1) {
    const fetched = await engine.fetch("crash", "ns", ids(batch));
    expect(fetched.records.length).toBe(crashBatchRecords);
    const expected = crashBatch(batch)[7]!;
    const got = fetched.records.find((r) => r.id === expected.id)!;
    expect(Array.from(got.values!)).toEqual(Array.from(expected.values!));
    expect(got.metadata).toEqual(expected.metadata!);
  }
  const partial = await engine.fetch("crash", "ns", ids(inFlight));
  expect([0, crashBatchRecords]).toContain(partial.records.length);
  const beyond = await engine.fetch("crash", "ns", ids(inFlight + 1));
  expect(beyond.records.length).toBe(0);
  const complete = lastAcked + 1 + (partial.records.length > 0 ? 1 : 0);
  const stats = await engine.describeIndexStats("crash");
  expect(stats.totalVectorCount).toBe(complete * crashBatchRecords);
  return complete;
}

/**
 * Runs crash-child.ts on `dir` from `firstBatch` with `env` added, kills it with SIGKILL
 * `killAfterMs` after it is ready, and answers the last batch it acknowledged.
 */
export async function runCrashChild(
  dir: string,
  firstBatch: number,
  killAfterMs: number,
  env: Record<string, string>,
): Promise<number> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "crash-child.ts"), dir, `${firstBatch}`], {
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, ...env },
  });
  let lastAcked = firstBatch - 1;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  await forEachLine(child.stdout, (line) => {
    if (line === "ready") killTimer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    const match = /^ack (\d+) /.exec(line);
    if (match) lastAcked = Number(match[1]);
  });
  clearTimeout(killTimer);
  await child.exited;
  return lastAcked;
}
