/**
 * Restart: SIGTERM the server while writers are upserting, check it exits 0 (drained,
 * engine closed), restart it on the same data directory, and check that every upsert it
 * acknowledged is present with the values that were sent. Requests refused or cut off by
 * the shutdown are allowed to be absent; acknowledged ones never are.
 */
import { afterAll, expect, test } from "bun:test";
import { shortestFloat32 } from "../library/float32.ts";
import { makeDataDir, seededRandom, startServer } from "./testing.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`restart seed ${seed} (NEEDLE_TEST_SEED to replay)`);
const random = seededRandom(seed);
const dimension = 4;
const writerCount = 4;
const batchSize = 10;
/** SIGTERM once this many batches are acknowledged, so the signal lands mid-load. */
const batchesBeforeSignal = 20 + Math.floor(random() * 20);

const dataDir = makeDataDir("restart");
afterAll(() => dataDir.remove());

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "Api-Key": "x", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

test("every acknowledged upsert survives SIGTERM during a write load and a restart", async () => {
  const first = await startServer(dataDir.dir);
  expect((await post(first.url, "/indexes", { name: "durable", dimension })).status).toBe(201);

  const acknowledged = new Map<string, number[]>();
  let acknowledgedBatches = 0;
  let signalled = false;
  let signalDone: Promise<number> | undefined;

  const writer = async (writerId: number) => {
    for (let batch = 0; ; batch++) {
      const vectors = Array.from({ length: batchSize }, (_, i) => ({
        id: `w${writerId}-b${batch}-${i}`,
        values: Array.from({ length: dimension }, () => shortestFloat32(Math.fround(random()))),
      }));
      let response: Response;
      try {
        response = await post(first.url, "/index/durable/vectors/upsert", {
          vectors,
          namespace: `ns${writerId % 2}`,
        });
      } catch {
        return; // connection refused or reset: the server is going away
      }
      if (response.status !== 200) {
        await response.text();
        if (signalled) return;
        throw new Error(`unexpected status ${response.status} before shutdown`);
      }
      await response.json();
      for (const vector of vectors) acknowledged.set(vector.id, vector.values);
      acknowledgedBatches++;
      if (!signalled && acknowledgedBatches >= batchesBeforeSignal) {
        signalled = true;
        signalDone = first.stop();
      }
    }
  };
  await Promise.all(Array.from({ length: writerCount }, (_, i) => writer(i)));
  expect(signalled).toBe(true);
  expect(await signalDone!).toBe(0);
  expect(acknowledged.size).toBeGreaterThanOrEqual(batchesBeforeSignal * batchSize);

  const second = await startServer(dataDir.dir);
  try {
    const ids = [...acknowledged.keys()];
    const byNamespace = new Map<string, string[]>();
    for (const id of ids) {
      const namespace = `ns${Number(id.slice(1, id.indexOf("-"))) % 2}`;
      byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), id]);
    }
    let found = 0;
    for (const [namespace, namespaceIds] of byNamespace) {
      for (let start = 0; start < namespaceIds.length; start += 500) {
        const chunk = namespaceIds.slice(start, start + 500);
        const query = chunk.map((id) => `ids=${encodeURIComponent(id)}`).join("&");
        const response = await fetch(
          `${second.url}/index/durable/vectors/fetch?namespace=${namespace}&${query}`,
          {
            headers: { "Api-Key": "x" },
          },
        );
        expect(response.status).toBe(200);
        const body = (await response.json()) as { vectors: Record<string, { values: number[] }> };
        for (const id of chunk) {
          expect(body.vectors[id]?.values).toEqual(acknowledged.get(id));
          found++;
        }
      }
    }
    expect(found).toBe(acknowledged.size);
  } finally {
    expect(await second.stop()).toBe(0);
  }
}, 120_000);
