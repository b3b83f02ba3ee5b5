/**
 * Manifests in NATS KV (kv-manifest-store.ts) on a JetStream test server: commits read back
 * exactly (bigints, typed arrays) with versions counting up across store instances; a
 * commit by an owner that did not see the latest revision is refused and changes nothing;
 * a damaged value is CORRUPTION naming the key.
 */
import { expect, test } from "bun:test";
import { NeedleError } from "../errors.ts";
import { natsServerForFile } from "../testing/nats-server.ts";
import { KvManifestStore } from "./kv-manifest-store.ts";

const nats = natsServerForFile({ jetstream: true });
let buckets = 0;

async function bucket() {
  return nats().connection.jetstream().views.kv(`manifests-${++buckets}`);
}

interface Body {
  flushedLsn: bigint;
  live: Uint8Array;
  slabs: string[];
}

test("commits read back exactly, versions count up, also in a new store instance", async () => {
  const kv = await bucket();
  const store = new KvManifestStore<Body>(kv, "idx.ns-a");
  expect(await store.load()).toBeUndefined();
  expect(await store.commit({ flushedLsn: 2n ** 60n, live: Uint8Array.of(1, 0, 255), slabs: ["s1"] })).toBe(
    1,
  );
  expect(await store.commit({ flushedLsn: 7n, live: Uint8Array.of(3), slabs: ["s1", "s2"] })).toBe(2);
  const again = new KvManifestStore<Body>(kv, "idx.ns-a");
  expect(await again.load()).toEqual({
    version: 2,
    body: { flushedLsn: 7n, live: Uint8Array.of(3), slabs: ["s1", "s2"] },
  });
  expect(await again.commit({ flushedLsn: 8n, live: new Uint8Array(0), slabs: [] })).toBe(3);
});

test("a commit by an owner that missed the latest revision is refused and changes nothing", async () => {
  const kv = await bucket();
  const old = new KvManifestStore<Body>(kv, "idx.ns-b");
  await old.commit({ flushedLsn: 1n, live: Uint8Array.of(1), slabs: [] });
  // A new owner takes over and commits.
  const next = new KvManifestStore<Body>(kv, "idx.ns-b");
  await next.load();
  await next.commit({ flushedLsn: 5n, live: Uint8Array.of(5), slabs: ["n"] });
  const refused = await old
    .commit({ flushedLsn: 2n, live: Uint8Array.of(2), slabs: ["o"] })
    .catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(NeedleError);
  expect((refused as NeedleError).kind).toBe("fault");
  expect((await new KvManifestStore<Body>(kv, "idx.ns-b").load())!.body.flushedLsn).toBe(5n);
});

test("a damaged value is CORRUPTION naming the key", async () => {
  const kv = await bucket();
  const store = new KvManifestStore<Body>(kv, "idx.ns-c");
  await store.commit({ flushedLsn: 1n, live: Uint8Array.of(1), slabs: [] });
  const entry = (await kv.get("idx.ns-c"))!;
  const damaged = entry.value.slice();
  damaged[damaged.length - 1]! ^= 0xff;
  await kv.put("idx.ns-c", damaged);
  const caught = await new KvManifestStore<Body>(kv, "idx.ns-c").load().catch((error: unknown) => error);
  expect((caught as NeedleError).code).toBe("CORRUPTION");
  expect((caught as NeedleError).message + String((caught as NeedleError).file)).toContain("idx.ns-c");
});
