/**
 * Crash fuzz: random upserts, deletes, updates and deleteAlls over three namespaces, with
 * thresholds so small that flushes, log rolls and trims, idle passivation and slab eviction
 * happen all the time; the child is SIGKILLed at seeded moments and, after each kill, every
 * namespace must equal a model of the acknowledged operations (plus, at most, the one in
 * flight). Every other trial runs under injected storage faults (short writes, a full volume,
 * failing fsyncs and renames), whose refused writes the child retries. Replay a failure with
 * NEEDLE_TEST_SEED.
 */
import { expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEngine } from "./mod.ts";
import {
  describeModel,
  type FuzzModel,
  fuzzEngineOptions,
  fuzzIdCount,
  fuzzNamespaces,
  fuzzOps,
  modelAfter,
} from "./testing/fuzz-ops.ts";
import { seededRandom } from "./testing/reference.ts";

const baseSeed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
const seeds = [baseSeed, baseSeed + 1, baseSeed + 2];
const trialsPerSeed = 3;
const trialsMax = 12;

/**
 * Storage faults for a trial's child (storage/files.ts reads NEEDLE_FAULTS): short writes and
 * a full volume on the log, failing fsyncs and renames of slabs and manifests, each after a
 * seeded number of calls, a few times. Refused writes are retried by the child.
 */
function faultsFor(random: () => number): string {
  const after = () => 5 + Math.floor(random() * 40);
  return JSON.stringify([
    { operation: "write", path: "/log/", fault: "short-write", skip: after(), times: 2 },
    { operation: "write", path: "/log/", fault: "ENOSPC", skip: after(), times: 1 },
    { operation: "sync", path: "/slabs/", fault: "EIO", skip: after(), times: 2 },
    { operation: "rename", path: "/namespaces/", fault: "ENOSPC", skip: after(), times: 2 },
    { operation: "write", path: "/catalog/", fault: "ENOSPC", skip: after(), times: 1 },
  ]);
}

async function runUntilKilled(
  dir: string,
  seed: number,
  first: number,
  killAfterMs: number,
  faults: string | undefined,
  packedRowsMax: number,
): Promise<{ acked: number; refusals: number }> {
  const child = Bun.spawn(
    [
      process.execPath,
      join(import.meta.dir, "testing/fuzz-child.ts"),
      dir,
      `${seed}`,
      `${first}`,
      `${packedRowsMax}`,
    ],
    {
      stdout: "pipe",
      stderr: "inherit",
      env: faults === undefined ? process.env : { ...process.env, NEEDLE_FAULTS: faults },
    },
  );
  const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  let text = "";
  for await (const chunk of child.stdout) text += new TextDecoder().decode(chunk);
  await child.exited;
  clearTimeout(timer);
  let acked = first - 1;
  for (const match of text.matchAll(/^ack (\d+)$/gm)) acked = Math.max(acked, Number(match[1]));
  return { acked, refusals: [...text.matchAll(/^refused \d+ /gm)].length };
}

async function readState(dir: string, packedRowsMax: number): Promise<FuzzModel> {
  const engine = await openEngine(fuzzEngineOptions(dir, packedRowsMax));
  try {
    const state: FuzzModel = new Map();
    const ids = Array.from({ length: fuzzIdCount }, (_, k) => `x${k}`);
    // A child killed before its createIndex returned (a slow start on a loaded machine) left
    // no index: every namespace reads as empty, which matches only if nothing was acknowledged.
    const created = (await engine.listIndexes()).some((index) => index.name === "fuzz");
    for (const namespace of fuzzNamespaces) {
      const records = new Map<string, { value: number; updated?: number }>();
      if (created)
        for (const record of (await engine.fetch("fuzz", namespace, ids)).records) {
          const updated = record.metadata?.updated as number | undefined;
          records.set(
            record.id,
            updated === undefined ? { value: record.values![0]! } : { value: record.values![0]!, updated },
          );
        }
      state.set(namespace, records);
    }
    return state;
  } finally {
    await engine.close();
  }
}

/**
 * The same with small namespaces packed into shared slabs (storage/namespaces/DESIGN.md):
 * kills land in packed flushes, catalog commits and graduations; faults hit the catalog too.
 */
const trials = [
  ...seeds.map((seed) => ({ seed, packedRowsMax: 0 })),
  // Every namespace stays packed (25 ids at most), then: namespaces outgrow 8 rows and graduate.
  { seed: baseSeed + 10, packedRowsMax: 30 },
  { seed: baseSeed + 11, packedRowsMax: 8 },
];

for (const { seed, packedRowsMax } of trials) {
  test(
    `SIGKILL at random moments: state equals the acknowledged operations (seed=${seed}${packedRowsMax > 0 ? ", packed" : ""})`,
    async () => {
      console.log(`engine-crash-fuzz seed=${seed} (NEEDLE_TEST_SEED=${seed} replays the first)`);
      const random = seededRandom(seed);
      const ops = fuzzOps(seed, 100_000);
      const dir = await mkdtemp(join(tmpdir(), "needle-fuzz-"));
      try {
        let acked = -1;
        let refusals = 0;
        // A slow start (a fresh clone's first children compile every module) can leave the
        // planned trials with few acknowledgements: more trials then, up to trialsMax, so the
        // floor below is about coverage, not about how fast this machine is.
        for (let trial = 0; trial < trialsPerSeed || (acked <= 10 && trial < trialsMax); trial++) {
          // Every other trial runs under injected storage faults.
          const faults = trial % 2 === 1 ? faultsFor(random) : undefined;
          const run = await runUntilKilled(
            dir,
            seed,
            acked + 1,
            250 + Math.floor(random() * 700),
            faults,
            packedRowsMax,
          );
          acked = run.acked;
          refusals += run.refusals;
          const actual = describeModel(await readState(dir, packedRowsMax));
          if (actual === describeModel(modelAfter(ops, acked + 1))) acked++; // the op in flight landed
          expect(actual).toBe(describeModel(modelAfter(ops, acked)));
        }
        expect(acked).toBeGreaterThan(10);
        console.log(
          `engine-crash-fuzz seed=${seed}: ${acked + 1} operations acknowledged, ${refusals} refused under faults and retried`,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    { timeout: 60_000 },
  );
}
