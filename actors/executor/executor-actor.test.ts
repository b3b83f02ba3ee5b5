/**
 * The executor's budget policy (actors/DESIGN.md decision 27) against slab actors that only
 * report sizes: past the budget it demotes the least recently used slabs first and closes
 * whole slabs only while the index portions alone exceed it; use (not bookkeeping) decides
 * the order; the totals it reports settle at or under the budget whenever that is possible.
 */
import { expect, test } from "bun:test";
import type { SlabMemoryObservation } from "../api.ts";
import { type Actor, ActorSystem, address } from "../runtime/mod.ts";
import { executorFactory } from "./executor-actor.ts";

const fullBytes = 400;
const indexBytes = 100;

function fixture(budget: number) {
  let clock = 0;
  const system = new ActorSystem({ now: () => clock });
  const demoted = new Set<string>();
  system.register(
    "executor",
    executorFactory(system, budget, () => false),
  );
  system.register("slab", async (context): Promise<Actor> => {
    const slab = context.self.key;
    const report = (verb: string, payload: object) =>
      void context.transport.request(address("executor", "local"), verb, { slab, ...payload });
    await context.transport.request(address("executor", "local"), "opened", {
      slab,
      bytes: fullBytes,
      indexBytes,
    });
    demoted.delete(slab);
    return {
      concurrentVerbs: new Set(["search", "demote"]),
      bookkeepingVerbs: new Set(["demote"]),
      receive: async (verb) => {
        if (verb === "demote") {
          demoted.add(slab);
          report("resized", { bytes: indexBytes });
        }
        return demoted.has(slab) ? "cold" : "warm";
      },
      passivate: async () => {
        demoted.delete(slab);
        await context.transport.request(address("executor", "local"), "closed", { slab });
      },
    };
  });
  return {
    system,
    demoted,
    /** A search of slab `name` one tick after the last. */
    use: async (name: string) => {
      clock += 10;
      return system.transport.request<string>(address("slab", `i/${name}`), "search", {});
    },
    stats: async () => {
      // Reports are not awaited by their senders: let them land.
      await Bun.sleep(5);
      return system.transport.request<SlabMemoryObservation>(address("executor", "local"), "stats", {});
    },
    open: (name: string) => system.isActive(address("slab", `i/${name}`)),
  };
}

test("past the budget the least recently used slabs are demoted, not closed, while index portions fit", async () => {
  const { system, demoted, use, stats } = fixture(1_000);
  await use("a");
  await use("b");
  expect(await stats()).toMatchObject({ openSlabs: 2, demotedSlabs: 0, openBytes: 800 });
  await use("a"); // a is now more recently used than b
  await use("c"); // 1,200 bytes: the least recently used, b, gives back its raw rows
  expect([...demoted].sort()).toEqual(["i/b"]);
  expect(await stats()).toMatchObject({ openSlabs: 3, demotedSlabs: 1, openBytes: 900, evictions: 0 });
  expect(await use("b")).toBe("cold"); // a demoted slab still answers, from its index portion
  // b's use just now makes a the least recently used full slab: d's opening demotes a.
  await use("d");
  expect([...demoted].sort()).toEqual(["i/a", "i/b"]);
  expect(await stats()).toMatchObject({ openSlabs: 4, demotedSlabs: 2, openBytes: 1_000, evictions: 0 });
  await system.shutdown();
});

test("only when the index portions alone exceed the budget are whole slabs closed, oldest first", async () => {
  const { system, use, stats, open } = fixture(1_000);
  const names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
  for (const name of names) await use(name);
  // Ten index portions fill the budget: the slab opened last is demoted too, none closed.
  let memory = await stats();
  expect(memory).toMatchObject({ openSlabs: 10, demotedSlabs: 10, openBytes: 1_000, evictions: 0 });
  await use("k"); // eleven index portions cannot fit: the least recently used slab closes
  memory = await stats();
  expect(memory).toMatchObject({ openSlabs: 10, demotedSlabs: 10, openBytes: 1_000, evictions: 1 });
  expect(open("a")).toBe(false);
  for (const name of [...names.slice(1), "k"]) expect(open(name)).toBe(true);
  await system.shutdown();
});

test("memory pressure (shrink) demotes down to half the budget", async () => {
  const { system, use, stats } = fixture(2_000);
  for (const name of ["a", "b", "c", "d"]) await use(name);
  expect(await stats()).toMatchObject({ openBytes: 1_600, demotedSlabs: 0 });
  await system.transport.request(address("executor", "local"), "shrink", {});
  const memory = await stats();
  expect(memory.openBytes).toBeLessThanOrEqual(1_000);
  expect(memory).toMatchObject({ demotedSlabs: 2, evictions: 0 }); // 100+100+400+400
  await system.shutdown();
});
