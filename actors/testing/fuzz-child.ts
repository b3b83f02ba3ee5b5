/**
 * Child of the crash fuzz test: runs the seed's operations from `first` on, printing
 * `ack <n>` after each acknowledgement, until it is killed. With storage faults injected
 * (NEEDLE_FAULTS, read by storage/files.ts) an operation may be refused with a retryable
 * error: it prints `refused <n> <code>` and retries it (a refused write never took effect).
 * Usage: bun actors/testing/fuzz-child.ts <dir> <seed> <first> [packedRowsMax]
 */
import { NeedleError } from "../../storage/errors.ts";
import { openEngine } from "../mod.ts";
import { fuzzEngineOptions, fuzzOps } from "./fuzz-ops.ts";

const [dir, seedText, firstText, packedText] = process.argv.slice(2);
const engine = await openEngine(fuzzEngineOptions(dir!, Number(packedText ?? 0)));
if ((await engine.listIndexes()).length === 0) {
  await engine.createIndex({ name: "fuzz", dimension: 2, metric: "euclidean", vectorType: "dense" });
}
const ops = fuzzOps(Number(seedText), 100_000);
async function apply(op: (typeof ops)[number]): Promise<void> {
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
  } else if (op.kind === "deleteNamespace") {
    // Deleting a namespace that holds nothing is NOT_FOUND (Pinecone's answer); empty either way.
    await engine.deleteNamespace("fuzz", op.namespace).catch((error: unknown) => {
      if (!(error instanceof NeedleError) || error.code !== "NOT_FOUND") throw error;
    });
  } else {
    await engine.delete("fuzz", op.namespace, { deleteAll: true });
  }
}

for (let n = Number(firstText); n < ops.length; n++) {
  for (;;) {
    try {
      await apply(ops[n]!);
      break;
    } catch (error) {
      if (!(error instanceof NeedleError) || !error.retryable) throw error;
      process.stdout.write(`refused ${n} ${error.code}\n`);
      await Bun.sleep(20);
    }
  }
  process.stdout.write(`ack ${n}\n`);
  // Pauses let idle passivation (and its flush) interleave with writes.
  if (n % 7 === 0) await Bun.sleep(n % 3 === 0 ? 45 : 2);
}
