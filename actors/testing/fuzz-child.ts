/**
 * Child of the crash fuzz test: runs the seed's operations from `first` on, printing
 * `ack <n>` after each acknowledgement, until it is killed.
 * Usage: bun actors/testing/fuzz-child.ts <dir> <seed> <first>
 */
import { openEngine } from "../mod.ts";
import { fuzzEngineOptions, fuzzOps } from "./fuzz-ops.ts";

const [dir, seedText, firstText] = process.argv.slice(2);
const engine = await openEngine(fuzzEngineOptions(dir!));
if ((await engine.listIndexes()).length === 0) {
  await engine.createIndex({ name: "fuzz", dimension: 2, metric: "euclidean", vectorType: "dense" });
}
const ops = fuzzOps(Number(seedText), 100_000);
for (let n = Number(firstText); n < ops.length; n++) {
  const op = ops[n]!;
  if (op.kind === "upsert") {
    await engine.upsert(
      "fuzz",
      op.namespace,
      op.ids.map((id) => ({ id, values: Float32Array.from([op.value, 0]) })),
    );
  } else if (op.kind === "delete") {
    await engine.delete("fuzz", op.namespace, { ids: op.ids });
  } else if (op.kind === "update") {
    await engine.update("fuzz", op.namespace, { id: op.id, setMetadata: { updated: op.value } });
  } else {
    await engine.delete("fuzz", op.namespace, { deleteAll: true });
  }
  process.stdout.write(`ack ${n}\n`);
  // Pauses let idle passivation (and its flush) interleave with writes.
  if (n % 7 === 0) await Bun.sleep(n % 3 === 0 ? 45 : 2);
}
