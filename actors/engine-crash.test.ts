/**
 * Crash test: a child process ingests batches; it is killed with SIGKILL at seeded random
 * moments (flushes and log trims happen in the middle of it); after each kill the data
 * directory is reopened and checked: every acknowledged batch is complete, the batch in flight
 * is all or nothing, nothing else exists, and the count matches. Every other trial runs under
 * injected storage faults (short writes on the log, failing slab renames); the child retries
 * the batches they refuse.
 */
import { expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEngine } from "./mod.ts";
import { seededRandom } from "./testing/reference.ts";
import { expectCrashOutcome, runCrashChild } from "./testing/crash-check.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
const trials = 8;

/** Storage faults for a trial's child (NEEDLE_FAULTS): the log's writes and the flushes' renames. */
function faultsFor(random: () => number): string {
  return JSON.stringify([
    {
      operation: "write",
      path: "/log/",
      fault: "short-write",
      skip: 3 + Math.floor(random() * 20),
      times: 2,
    },
    { operation: "rename", path: "/slabs/", fault: "ENOSPC", skip: Math.floor(random() * 3), times: 2 },
  ]);
}

test(
  `SIGKILL during ingest loses no acknowledged batch (seed=${seed})`,
  async () => {
    console.log(`engine-crash seed=${seed} (NEEDLE_TEST_SEED=${seed} replays)`);
    const random = seededRandom(seed);
    const dir = await mkdtemp(join(tmpdir(), "needle-crash-"));
    try {
      let complete = 0; // batches 0..complete-1 are known to be fully present
      for (let trial = 0; trial < trials; trial++) {
        const killAfterMs = 50 + Math.floor(random() * 600);
        // Every other trial runs under injected storage faults (refused batches are retried).
        const faults = trial % 2 === 1 ? faultsFor(random) : undefined;
        const lastAcked = await runCrashChild(
          dir,
          complete,
          killAfterMs,
          faults === undefined ? {} : { NEEDLE_FAULTS: faults },
        );
        const engine = await openEngine({ dir, log: () => {} });
        try {
          complete = await expectCrashOutcome(engine, lastAcked);
        } finally {
          await engine.close();
        }
      }
      expect(complete).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
  { timeout: 120_000 },
);
