/**
 * Crash test: a child process appends to a request log and prints every acknowledged LSN;
 * the parent kills it with SIGKILL at a seeded random moment, reopens the log (running
 * recovery) and checks that (1) every acknowledged LSN is present with its exact payload,
 * (2) LSNs are contiguous from 1, and (3) anything past the last acknowledgement is whole and
 * valid (records are checked byte for byte against payloadForLsn). Trials share one directory,
 * so later trials also recover logs that earlier kills left behind. The child also trims the
 * log now and then (keeping at least its last `trimKeepRecords` records), so kills hit trims;
 * the check then starts at the first LSN still kept, and that must not exceed what trimming
 * was allowed to remove.
 *
 * Replay a failure with NEEDLE_TEST_SEED=<printed seed>.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSegmentFileName } from "./format.ts";
import { RequestLog } from "./mod.ts";
import { payloadForLsn } from "./test-payload.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";

const trials = 15;
const segmentBytesMax = 32 * 1024;
const killDelayMaxMs = 150;
const trimKeepRecords = 300n;
const seed = Number(process.env.NEEDLE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`crash.test.ts seed=${seed} (replay with NEEDLE_TEST_SEED=${seed})`);

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Runs the child until it has acknowledged at least one append, then a random extra delay, then SIGKILL. */
async function runAndKill(dir: string, childSeed: number, delayMs: number): Promise<bigint[]> {
  const child = Bun.spawn(
    [
      process.execPath,
      join(import.meta.dir, "crash-child.ts"),
      dir,
      String(childSeed),
      String(segmentBytesMax),
      String(trimKeepRecords),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  let text = "";
  let firstAck: () => void = () => undefined;
  const firstAckSeen = new Promise<void>((resolve) => {
    firstAck = resolve;
  });
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes("\n")) firstAck();
    }
    firstAck();
  })();
  await firstAckSeen;
  await Bun.sleep(delayMs);
  child.kill("SIGKILL");
  await child.exited;
  await drained;
  const stderr = await new Response(child.stderr).text();
  expect(stderr).toBe("");
  expect(child.signalCode).toBe("SIGKILL");
  // Only whole lines count: a line cut by the kill was never fully reported.
  const lines = text.split("\n").slice(0, -1);
  return lines.map((line) => BigInt(line));
}

test(
  `SIGKILL at random moments loses no acknowledged append (${trials} trials)`,
  async () => {
    const random = seededRandom(seed);
    const dir = await mkdtemp(join(tmpdir(), "needle-log-crash-"));
    dirs.push(dir);
    let highestAcked = 0n;
    let recordsPastLastAck = 0;
    let truncatedTails = 0;
    let trimmedTrials = 0;
    for (let trial = 0; trial < trials; trial++) {
      const acked = await runAndKill(
        dir,
        Math.floor(random() * 2 ** 31),
        Math.floor(random() * killDelayMaxMs),
      );
      expect(acked.length).toBeGreaterThan(0);
      // Acks arrive in LSN order within the child, and continue from the previous trial's log.
      for (let i = 1; i < acked.length; i++) expect(acked[i]! > acked[i - 1]!).toBe(true);
      const trialHighest = acked.at(-1)!;
      expect(trialHighest > highestAcked).toBe(true);
      highestAcked = trialHighest;

      const log = await RequestLog.open({ dir, segmentBytesMax });
      if (log.stats().recoveredTruncatedBytes > 0) truncatedTails += 1;
      expect(log.lastLsn >= highestAcked).toBe(true);
      recordsPastLastAck += Number(log.lastLsn - highestAcked);
      const firstKept = (await readdir(dir))
        .map((name) => parseSegmentFileName(name))
        .filter((lsn): lsn is bigint => lsn !== undefined)
        .sort((a, b) => (a < b ? -1 : 1))[0]!;
      // Trims keep the last trimKeepRecords records durable when they ran (the parent may not have
      // seen every acknowledgement before the kill, so bound by what recovery found, not by acks).
      expect(firstKept <= log.lastLsn - trimKeepRecords + 1n || firstKept === 1n).toBe(true);
      let expected = firstKept;
      await log.replay(firstKept - 1n, (lsn, payload) => {
        expect(lsn).toBe(expected);
        expect(payload).toEqual(payloadForLsn(lsn));
        expected += 1n;
      });
      expect(expected - 1n).toBe(log.lastLsn);
      if (firstKept > 1n) trimmedTrials += 1;
      // Everything durable now counts as the floor for the next trial (it was recovered, so it stays).
      highestAcked = log.lastLsn;
      await log.close();
    }
    const segments = (await readdir(dir)).filter((name) => name.endsWith(".wal")).length;
    console.log(
      `crash test: ${trials} kills, ${highestAcked} records in ${segments} segments, ` +
        `${recordsPastLastAck} durable-but-unacknowledged records kept, ${truncatedTails} torn tails truncated, ${trimmedTrials} trials after trims`,
    );
    expect(segments).toBeGreaterThan(1);
  },
  { timeout: 60_000 },
);
