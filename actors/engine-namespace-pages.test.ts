/**
 * listNamespaces over 10,000 namespaces (issue 7): pages in name order cover every namespace
 * exactly once for random prefixes and page sizes, with exact counts, after a clean reopen
 * (all from the catalog) and while some namespaces are dirty (asked) or dropped.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine } from "./api.ts";
import { openEngine } from "./mod.ts";
import { seededRandom } from "./testing/reference.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const count = 10_000;

function nameOf(n: number): string {
  // Shared prefixes of several lengths, so prefix pages start and end mid-range.
  return `${["t", "ten", "tenant-", "u/", "v"][n % 5]}${(n * 7919) % 100_003}`;
}

async function expectPages(
  engine: Engine,
  model: Map<string, Set<string>>,
  random: () => number,
): Promise<void> {
  const names = [...model.keys()].sort();
  for (let trial = 0; trial < 12; trial++) {
    const prefix =
      trial === 0 ? "" : names[Math.floor(random() * names.length)]!.slice(0, 1 + Math.floor(random() * 4));
    const limit = 1 + Math.floor(random() * 100);
    const expected = names.filter((name) => name.startsWith(prefix));
    const seen: string[] = [];
    let token: string | undefined;
    for (;;) {
      const page = await engine.listNamespaces("pages", { prefix, limit, paginationToken: token });
      expect(page.totalCount).toBe(expected.length);
      expect(page.namespaces.length).toBeLessThanOrEqual(limit);
      for (const ns of page.namespaces) {
        seen.push(ns.name);
        expect(ns.recordCount).toBe(model.get(ns.name)!.size);
      }
      if (page.next === undefined) break;
      token = page.next;
    }
    expect(seen).toEqual(expected);
  }
}

test(`listNamespaces pages through 10,000 namespaces exactly (seed ${seed})`, async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-ns-pages-"));
  dirs.push(dir);
  const random = seededRandom(seed);
  let engine = await openEngine({ dir, log: () => {} });
  await engine.createIndex({ name: "pages", dimension: 2, metric: "euclidean", vectorType: "dense" });
  const model = new Map<string, Set<string>>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let n = next++; n < count; n = next++) {
        const records = 1 + (n % 3);
        await engine.upsert(
          "pages",
          nameOf(n),
          Array.from({ length: records }, (_, i) => ({ id: `r${i}`, values: Float32Array.of(n, i) })),
        );
        model.set(nameOf(n), new Set(Array.from({ length: records }, (_, i) => `r${i}`)));
      }
    }),
  );
  await engine.close();
  engine = await openEngine({ dir, log: () => {} });
  await expectPages(engine, model, random);
  expect(engine.activeActors("namespace")).toBe(0);
  // Some namespaces dirty (written since), some dropped: still exact.
  for (let i = 0; i < 200; i++) {
    const name = nameOf(Math.floor(random() * count));
    if (!model.has(name)) continue;
    if (i % 4 === 0) {
      await engine.deleteNamespace("pages", name);
      model.delete(name);
    } else {
      await engine.upsert("pages", name, [{ id: "extra", values: Float32Array.of(1, 1) }]);
      model.get(name)!.add("extra");
    }
  }
  await expectPages(engine, model, random);
  await engine.close();
}, 60_000);
