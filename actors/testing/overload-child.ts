/**
 * Child process for the lost-dirty-report test: the index refuses the "victim" namespace's
 * first dirty report (as a full mailbox would), then another namespace flushes and trims the
 * log over and over. Prints `ack <id> <lsn>` or `refused <id> <code>` per victim write, then
 * `done`, and waits to be killed.
 * Usage: bun actors/testing/overload-child.ts <dir>
 */
import { NeedleError } from "../../storage/errors.ts";
import { openEngine } from "../mod.ts";

const [dir] = process.argv.slice(2);
let refuseVictimReports = true;
const engine = await openEngine({
  dir: dir!,
  flushRowsMax: 20,
  flushIdleMs: 600_000,
  logSegmentBytesMax: 4096,
  log: () => {},
  deliveryFault: (target, verb, payload) => {
    const report = payload as { namespace?: string; oldestLsn?: bigint };
    if (
      refuseVictimReports &&
      target.kind === "index" &&
      verb === "unflushed" &&
      report.namespace === "victim"
    ) {
      return new NeedleError("OVERLOADED", "index mailbox is full (injected)", { retryAfterSeconds: 1 });
    }
    return undefined;
  },
});
await engine.createIndex({ name: "ovl", dimension: 4, metric: "euclidean", vectorType: "dense" });
const values = (i: number) => Float32Array.of(i, i + 1, i + 2, i + 3);
for (const id of ["v1", "v2"]) {
  try {
    const { lsn } = await engine.upsert("ovl", "victim", [{ id, values: values(1) }]);
    process.stdout.write(`ack ${id} ${lsn}\n`);
  } catch (error) {
    process.stdout.write(`refused ${id} ${error instanceof NeedleError ? error.code : String(error)}\n`);
  }
  refuseVictimReports = false;
}
for (let batch = 0; batch < 40; batch++) {
  const records = Array.from({ length: 20 }, (_, i) => ({ id: `o${batch}-${i}`, values: values(i) }));
  await engine.upsert("ovl", "other", records);
  await Bun.sleep(5);
}
process.stdout.write("done\n");
setInterval(() => {}, 1_000);
