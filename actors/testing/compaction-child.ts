/**
 * Child process for the compaction crash test: applies compaction ops from `first` on, printing
 * `ack <n>` after each acknowledgement and every engine log line (compaction steps among them)
 * as `log <line>`, until it is killed. Usage: bun actors/testing/compaction-child.ts <dir> <first>
 */
import { parseFilter } from "../../storage/filter/mod.ts";
import { openEngine } from "../mod.ts";
import { compactionCrashSettings, compactionOp, compactionOpDim } from "./compaction-ops.ts";

const [dir, firstArg] = process.argv.slice(2);
const engine = await openEngine({
  dir: dir!,
  ...compactionCrashSettings,
  log: (line) => process.stdout.write(`log ${line}\n`),
});
if (!(await engine.listIndexes()).some((i) => i.name === "c")) {
  await engine.createIndex({
    name: "c",
    dimension: compactionOpDim,
    metric: "euclidean",
    vectorType: "dense",
  });
}
process.stdout.write("ready\n");
for (let n = Number(firstArg); ; n++) {
  const op = compactionOp(n);
  if (op.kind === "upsert") await engine.upsert("c", "ns", op.records);
  else if (op.kind === "delete") await engine.delete("c", "ns", { ids: op.ids });
  else
    await engine.update("c", "ns", {
      filter: parseFilter({ version: { $eq: op.fromVersion } }),
      setMetadata: { version: op.toVersion },
    });
  process.stdout.write(`ack ${n}\n`);
}
