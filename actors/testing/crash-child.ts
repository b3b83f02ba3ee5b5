/**
 * Child process for the engine crash test: ingests numbered batches into one namespace and
 * prints `ack <batch> <lsn>` after each acknowledgement, until it is killed. A batch refused
 * with a retryable error (storage faults injected through NEEDLE_FAULTS) is retried.
 * With NEEDLE_TEST_NATS set (a NATS URL with JetStream), the request log is a JetStream stream.
 * Usage: bun actors/testing/crash-child.ts <dir> <firstBatch>
 */
import { NeedleError } from "../../storage/errors.ts";
import { jetStreamLogs } from "../../storage/log/jetstream-logs.ts";
import { openEngine } from "../mod.ts";
import { crashBatch } from "./crash-data.ts";

const [dir, firstArg] = process.argv.slice(2);
const natsUrl = process.env.NEEDLE_TEST_NATS;
const logs =
  natsUrl === undefined
    ? undefined
    : jetStreamLogs(await (await import("nats")).connect({ servers: natsUrl }), { replicas: 1 });
const engine = await openEngine({ dir: dir!, flushRowsMax: 250, flushIdleMs: 200, logs, log: () => {} });
const indexes = await engine.listIndexes();
if (!indexes.some((i) => i.name === "crash")) {
  await engine.createIndex({ name: "crash", dimension: 8, metric: "euclidean", vectorType: "dense" });
}
process.stdout.write("ready\n");
for (let batch = Number(firstArg); ; batch++) {
  for (;;) {
    try {
      const result = await engine.upsert("crash", "ns", crashBatch(batch));
      process.stdout.write(`ack ${batch} ${result.lsn}\n`);
      break;
    } catch (error) {
      if (!(error instanceof NeedleError) || !error.retryable) throw error;
      process.stdout.write(`refused ${batch} ${error.code}\n`);
      await Bun.sleep(20);
    }
  }
}
