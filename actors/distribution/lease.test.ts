/**
 * Leases in NATS KV (lease.ts) on a JetStream test server: two would-be owners racing for one
 * key never both hold it; a crashed owner's lease expires and passes on, and the old owner
 * then finds it lost; a release hands it over at once and never removes a successor's lease.
 */
import { expect, test } from "bun:test";
import { natsServerForFile } from "../../storage/testing/nats-server.ts";
import { Lease } from "./lease.ts";

const nats = natsServerForFile({ jetstream: true });
const ttlMs = 600;
let buckets = 0;

async function bucket() {
  return nats().connection.jetstream().views.kv(`leases-${++buckets}`, { ttl: ttlMs });
}

test("racing owners: exactly one holds; a crashed owner's lease expires and passes on, the old one finds it lost", async () => {
  const kv = await bucket();
  const lost: string[] = [];
  const [a, b] = await Promise.all([
    Lease.acquire(kv, "ns-1", "host-a", { ttlMs, onLost: (why) => lost.push(`a: ${why}`) }),
    Lease.acquire(kv, "ns-1", "host-b", { ttlMs, onLost: (why) => lost.push(`b: ${why}`) }),
  ]);
  const holder = a ?? b;
  const other = holder === a ? "host-b" : "host-a";
  expect([a, b].filter((lease) => lease !== undefined)).toHaveLength(1);
  // While the holder renews, nobody else gets the key, past several TTLs.
  for (let attempt = 0; attempt < 6; attempt++) {
    expect(await Lease.acquire(kv, "ns-1", other, { ttlMs })).toBeUndefined();
    await Bun.sleep(ttlMs / 3);
    expect(holder!.holds()).toBe(true);
  }
  // The holder crashes (stops renewing): within the TTL plus the server's expiry sweep, the
  // other takes over.
  holder!.abandon();
  let successor: Lease | undefined;
  for (let waited = 0; successor === undefined && waited < 40; waited++) {
    await Bun.sleep(ttlMs / 4);
    successor = await Lease.acquire(kv, "ns-1", other, { ttlMs });
  }
  expect(successor).toBeDefined();
  expect(holder!.holds()).toBe(false); // its own clock says so, before any message
  expect(await holder!.renew()).toBe(false); // and the server refuses its stale revision
  expect(lost).toHaveLength(1);
  // A late release by the old owner does not remove the successor's lease.
  await holder!.release();
  expect(await Lease.acquire(kv, "ns-1", "host-c", { ttlMs })).toBeUndefined();
  expect(successor!.holds()).toBe(true);
  await successor!.release();
}, 30_000);

test("a release hands the key over at once", async () => {
  const kv = await bucket();
  const first = await Lease.acquire(kv, "ns-2", "host-a", { ttlMs: 60_000 });
  expect(first).toBeDefined();
  await first!.release();
  expect(first!.holds()).toBe(false);
  const second = await Lease.acquire(kv, "ns-2", "host-b", { ttlMs: 60_000 });
  expect(second).toBeDefined();
  await second!.release();
});
