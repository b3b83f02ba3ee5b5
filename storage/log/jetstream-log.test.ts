/**
 * The JetStream request log against the shared Log contract (log.suite.ts), on a JetStream
 * `nats-server` this file starts (free port, temporary store), a fresh stream per fixture;
 * plus what only it has: an append retried with the same message id is stored once.
 */
import { expect, test } from "bun:test";
import { natsServerForFile } from "../testing/nats-server.ts";
import { JetStreamLog } from "./jetstream-log.ts";
import { logSuite } from "./log.suite.ts";

const nats = natsServerForFile({ jetstream: true });
let streams = 0;

async function makeFixture() {
  const n = ++streams;
  const options = { connection: nats().connection, stream: `LOG_${n}`, subject: `test.log.${n}` };
  return {
    open: () => JetStreamLog.open(options),
    dispose: async () => {
      await (await nats().connection.jetstreamManager()).streams.delete(options.stream).catch(() => false);
    },
  };
}

logSuite("JetStreamLog", makeFixture);

test("jetstream: an append retried with the same message id is stored once, answering the first LSN", async () => {
  const fixture = await makeFixture();
  try {
    const log = await fixture.open();
    const payload = new TextEncoder().encode("batch 7 of ns-a");
    const first = await log.append(payload, { messageId: "ns-a:1:7" });
    await log.append(new TextEncoder().encode("other"), { messageId: "ns-b:1:1" });
    const retried = await log.append(payload, { messageId: "ns-a:1:7" });
    expect(retried).toBe(first);
    const records: bigint[] = [];
    await log.replay(0n, (lsn) => {
      records.push(lsn);
    });
    expect(records).toEqual([1n, 2n]);
  } finally {
    await fixture.dispose();
  }
});

test("jetstream: a record over the server's max_payload is PAYLOAD_TOO_LARGE naming the limit, and nothing is stored", async () => {
  const fixture = await makeFixture();
  try {
    const log = await fixture.open();
    const serverMax = nats().connection.info!.max_payload;
    const error = await log.append(new Uint8Array(serverMax)).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", field: "records", received: serverMax });
    expect((error as { limit: number }).limit).toBeLessThan(serverMax);
    expect(await log.append(new Uint8Array(1_000))).toBe(1n);
  } finally {
    await fixture.dispose();
  }
});
