/**
 * Crash-test child (run by catalog-store.test.ts, never imported): opens the catalog in
 * `argv[2]` and commits the seeded deltas `deltaFor(seed, i)` for i = first, first + 1, ...
 * forever, checkpointing every `checkpointEvery` commits, and prints each i only after its
 * commit resolved (durable). The parent kills it with SIGKILL at a random moment.
 *
 * Usage: bun storage/namespaces/catalog-crash-child.ts <dir> <seed> <first> <checkpointEvery>
 */
import { CatalogStore } from "./catalog-store.ts";
import { deltaFor } from "./catalog-testing.ts";

const [dir, seedText, firstText, everyText] = process.argv.slice(2);
if (dir === undefined || seedText === undefined || firstText === undefined || everyText === undefined) {
  throw new Error("usage: catalog-crash-child.ts <dir> <seed> <first> <checkpointEvery>");
}
const store = await CatalogStore.open(dir);
const every = Number(everyText);
for (let i = Number(firstText); ; i++) {
  await store.commit(deltaFor(Number(seedText), i));
  process.stdout.write(`${i}\n`);
  if (i % every === every - 1) await store.checkpoint();
}
