/**
 * Child process for the deleteNamespace crash trial: fills `namespaces` tenants with three
 * records each (`ack fill <n>`), lets idle flushes pack them, then deletes them in order,
 * printing `deleting <n>` before each request and `ack delete <n>` after it, while another
 * tenant keeps taking writes (`ack extra <k>`), until it is killed.
 * Usage: bun actors/testing/delete-namespace-child.ts <dir> <packedRowsMax> <namespaces>
 */
import { openEngine } from "../mod.ts";

const [dir, packedText, countText] = process.argv.slice(2);
const count = Number(countText);
const engine = await openEngine({
  dir: dir!,
  packedRowsMax: Number(packedText),
  flushIdleMs: 15,
  log: () => {},
});
await engine.createIndex({ name: "del", dimension: 2, metric: "euclidean", vectorType: "dense" });

const recordsOf = (n: number) =>
  [0, 1, 2].map((r) => ({ id: `r${r}`, values: Float32Array.of(n, r), metadata: { n } }));

for (let n = 0; n < count; n++) {
  await engine.upsert("del", `ns-${n}`, recordsOf(n));
  process.stdout.write(`ack fill ${n}\n`);
}
await Bun.sleep(60); // idle flushes pack (or write) what was filled
let extra = 0;
const writing = (async () => {
  for (;;) {
    await engine.upsert("del", "keep", [{ id: `k${extra}`, values: Float32Array.of(extra, 0) }]);
    process.stdout.write(`ack extra ${extra++}\n`);
    await Bun.sleep(1);
  }
})();
for (let n = 0; n < count; n++) {
  process.stdout.write(`deleting ${n}\n`);
  await engine.deleteNamespace("del", `ns-${n}`);
  process.stdout.write(`ack delete ${n}\n`);
  await Bun.sleep(n % 3);
}
process.stdout.write("done\n");
await writing;
