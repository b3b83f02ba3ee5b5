/**
 * kvKeys lists a bucket's keys from its stream's subjects: every key put, deleted keys too
 * (their marker; callers read and skip them), expired ones gone; and under churn (keys
 * superseded and expiring while listings run) every listing returns, with every key that
 * stayed alive throughout.
 */
import { expect, test } from "bun:test";
import { natsServerForFile } from "../testing/nats-server.ts";
import { kvKeys } from "./kv-keys.ts";

const nats = natsServerForFile({ jetstream: true });

test("keys put, deleted and expired", async () => {
  const connection = nats().connection;
  const kv = await connection.jetstream().views.kv("keys-basic", { history: 1, ttl: 400 });
  const manager = await connection.jetstreamManager();
  expect(await kvKeys(manager, "keys-basic")).toEqual([]);
  for (const key of ["b", "a", "c.d", "e-f"]) await kv.put(key, new TextEncoder().encode(key));
  await kv.delete("b");
  expect(await kvKeys(manager, "keys-basic")).toEqual(["a", "b", "c.d", "e-f"]);
  expect((await kv.get("b"))?.operation).toBe("DEL");
  for (let waited = 0; (await kvKeys(manager, "keys-basic")).length > 0; waited += 100) {
    expect(waited).toBeLessThan(10_000); // the TTL removes every message
    await Bun.sleep(100);
  }
});

test("listings under churn always return, with every key that stayed alive", async () => {
  const connection = nats().connection;
  const kv = await connection.jetstream().views.kv("keys-churn", { history: 1, ttl: 300 });
  const manager = await connection.jetstreamManager();
  const stable = Array.from({ length: 5 }, (_, i) => `stable-${i}`);
  for (const key of stable) await kv.put(key, Uint8Array.of(0));
  let running = true;
  const churn = (async () => {
    for (let round = 0; running; round++) {
      // Stable keys are put again well within the TTL; the others are put once and expire.
      for (const key of stable) await kv.put(key, Uint8Array.of(round & 0xff));
      await kv.put(`brief-${round}`, Uint8Array.of(1));
      await Bun.sleep(20);
    }
  })();
  try {
    for (let listing = 0; listing < 100; listing++) {
      const keys = await Promise.race([
        kvKeys(manager, "keys-churn"),
        Bun.sleep(5_000).then(() => "hung" as const),
      ]);
      expect(keys).not.toBe("hung");
      for (const key of stable) expect(keys).toContain(key);
    }
  } finally {
    running = false;
    await churn;
  }
}, 60_000);
