/**
 * Crash-test child (run by crash.test.ts, never imported): appends to the log in `argv[2]`
 * forever, in seeded bursts of concurrent appends so group commit batches them, and prints
 * each LSN on its own line only after its append resolved (i.e. after fsync). The parent
 * kills it with SIGKILL at a random moment and checks every printed LSN survived.
 *
 * Now and then it also trims the log through (last durable LSN - trimKeepRecords), so kills
 * land during trims too.
 *
 * Usage: bun storage/log/crash-child.ts <dir> <seed> <segmentBytesMax> <trimKeepRecords>
 */
import { RequestLog } from "./mod.ts";
import { payloadForLsn } from "./test-payload.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";

const [dir, seedText, segmentBytesMaxText, trimKeepRecordsText] = process.argv.slice(2);
if (
  dir === undefined ||
  seedText === undefined ||
  segmentBytesMaxText === undefined ||
  trimKeepRecordsText === undefined
) {
  throw new Error("usage: crash-child.ts <dir> <seed> <segmentBytesMax> <trimKeepRecords>");
}
const trimKeepRecords = BigInt(trimKeepRecordsText);
const trimProbability = 0.05;
const nextRandom = seededRandom(Number(seedText));

const log = await RequestLog.open({ dir, segmentBytesMax: Number(segmentBytesMaxText) });
let nextLsn = log.lastLsn + 1n;
for (;;) {
  const burst = 1 + Math.floor(nextRandom() * 12);
  const appends: Promise<void>[] = [];
  for (let i = 0; i < burst; i++) {
    const expected = nextLsn;
    nextLsn += 1n;
    appends.push(
      log.append(payloadForLsn(expected)).then((lsn) => {
        if (lsn !== expected) throw new Error(`got LSN ${lsn}, expected ${expected}`);
        process.stdout.write(`${lsn}\n`);
      }),
    );
  }
  await Promise.all(appends);
  if (nextRandom() < trimProbability && log.lastLsn > trimKeepRecords) {
    await log.trimThrough(log.lastLsn - trimKeepRecords);
  }
}
