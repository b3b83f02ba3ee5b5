/**
 * List and fetch-by-metadata pagination over data spread across the memtable, several slabs,
 * overwrites and deletes: every live id exactly once, in order, compared with a plain model.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFilter } from "../storage/filter/mod.ts";
import { openEngine } from "./mod.ts";
import { seededRandom } from "./testing/reference.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

test(`pages cover every live id exactly once, in order (seed=${seed})`, async () => {
  console.log(`engine-pagination seed=${seed} (NEEDLE_TEST_SEED=${seed} replays)`);
  const random = seededRandom(seed);
  const dir = await mkdtemp(join(tmpdir(), "needle-pages-"));
  dirs.push(dir);
  const engine = await openEngine({ dir, flushRowsMax: 37, flushIdleMs: 600_000, log: () => {} });
  await engine.createIndex({ name: "pages", dimension: 2, metric: "euclidean", vectorType: "dense" });
  const model = new Map<string, string>(); // id -> color
  const colors = ["red", "green", "blue"];
  const prefixes = ["a", "ab", "b", "doc#", "z"];
  for (let step = 0; step < 60; step++) {
    if (random() < 0.75) {
      const records = Array.from({ length: 1 + Math.floor(random() * 20) }, () => {
        const id = `${prefixes[Math.floor(random() * prefixes.length)]}${Math.floor(random() * 200)}`;
        const color = colors[Math.floor(random() * colors.length)]!;
        return { id, values: Float32Array.of(random(), random()), metadata: { color } };
      });
      await engine.upsert("pages", "n", records);
      for (const record of records) model.set(record.id, record.metadata.color);
    } else {
      const ids = [...model.keys()].filter(() => random() < 0.2);
      await engine.delete("pages", "n", { ids });
      for (const id of ids) model.delete(id);
    }
  }
  const sorted = (ids: string[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  for (const prefix of [undefined, "a", "ab", "doc#", "q"]) {
    for (const limit of [1, 7, 100]) {
      const pages: string[] = [];
      let token: string | undefined;
      let pageCount = 0;
      do {
        const page = await engine.list("pages", "n", { prefix, limit, paginationToken: token });
        expect(page.ids.length).toBeLessThanOrEqual(limit);
        pages.push(...page.ids);
        token = page.next;
        pageCount++;
        expect(pageCount).toBeLessThan(1000);
      } while (token);
      const expected = sorted([...model.keys()].filter((id) => id.startsWith(prefix ?? "")));
      expect(pages).toEqual(expected);
    }
  }

  for (const color of colors) {
    const fetched: string[] = [];
    let token: string | undefined;
    do {
      const page = await engine.fetchByMetadata("pages", "n", {
        filter: parseFilter({ color }),
        limit: 9,
        paginationToken: token,
      });
      for (const record of page.records) expect(record.metadata?.color).toBe(color);
      fetched.push(...page.records.map((record) => record.id));
      token = page.next;
    } while (token);
    expect(fetched).toEqual(sorted([...model].filter(([, c]) => c === color).map(([id]) => id)));
  }
  expect((await engine.describeIndexStats("pages")).totalVectorCount).toBe(model.size);
  await engine.close();
});
