/**
 * SIGKILL during deleteNamespace (issue 7's crash trials), packed and dedicated: a child fills
 * tenants, deletes them one after another while another tenant takes writes, and is killed
 * a few milliseconds after a delete starts. Reopened, every acknowledged delete is complete
 * (no records, not listed), the delete in flight is all or nothing, every tenant not yet
 * deleted is whole, and every acknowledged write to the other tenant is there.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openEngine } from "./mod.ts";
import { seededRandom } from "./testing/reference.ts";
import { scratchDirs, testSeed } from "./testing/scratch.ts";

const seed = testSeed("engine-delete-namespace-crash");
const scratchDir = scratchDirs("needle-delete-crash");
const tenants = 24;

async function runUntilKilled(dir: string, packedRowsMax: number, killAt: number, delayMs: number) {
  const child = Bun.spawn(
    [
      process.execPath,
      join(import.meta.dir, "testing/delete-namespace-child.ts"),
      dir,
      `${packedRowsMax}`,
      `${tenants}`,
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  let text = "";
  let armed = false;
  for await (const chunk of child.stdout) {
    text += new TextDecoder().decode(chunk);
    if (!armed && text.includes(`deleting ${killAt}\n`)) {
      armed = true;
      setTimeout(() => child.kill("SIGKILL"), delayMs);
    }
  }
  await child.exited;
  const all = (pattern: RegExp) => [...text.matchAll(pattern)].map((match) => Number(match[1]));
  return {
    filled: Math.max(-1, ...all(/^ack fill (\d+)$/gm)),
    deleting: Math.max(-1, ...all(/^deleting (\d+)$/gm)),
    deleted: new Set(all(/^ack delete (\d+)$/gm)),
    extra: Math.max(-1, ...all(/^ack extra (\d+)$/gm)),
  };
}

for (const packedRowsMax of [1_000, 0]) {
  test(`SIGKILL during deleteNamespace: acknowledged deletes complete, the one in flight all or nothing (${packedRowsMax > 0 ? "packed" : "dedicated"}, seed ${seed})`, async () => {
    const random = seededRandom(seed + packedRowsMax);
    const inFlight: string[] = [];
    for (let trial = 0; trial < 3; trial++) {
      const dir = await scratchDir();
      const killAt = 2 + Math.floor(random() * (tenants - 6));
      const run = await runUntilKilled(dir, packedRowsMax, killAt, Math.floor(random() * 5));
      expect(run.filled).toBe(tenants - 1);
      expect(run.deleting).toBeGreaterThanOrEqual(killAt);
      const engine = await openEngine({ dir, packedRowsMax, log: () => {} });
      const listed = new Set(
        (await engine.listNamespaces("del", { limit: 100 })).namespaces.map((ns) => ns.name),
      );
      for (let n = 0; n < tenants; n++) {
        const fetched = await engine.fetch("del", `ns-${n}`, ["r0", "r1", "r2"]);
        const whole =
          fetched.records.length === 3 &&
          fetched.records.every(
            (record, r) => record.id === `r${r}` && record.values![0] === n && record.values![1] === r,
          );
        const gone = fetched.records.length === 0;
        if (run.deleted.has(n) || n < run.deleting) {
          expect({ n, gone, listed: listed.has(`ns-${n}`) }).toEqual({ n, gone: true, listed: false });
        } else if (n === run.deleting) {
          inFlight.push(whole ? "kept" : gone ? "deleted" : "torn");
          // In flight: all or nothing, and listed exactly when present.
          expect({ n, either: whole || gone, listed: listed.has(`ns-${n}`) }).toEqual({
            n,
            either: true,
            listed: whole,
          });
        } else {
          expect({ n, whole, listed: listed.has(`ns-${n}`) }).toEqual({ n, whole: true, listed: true });
        }
      }
      const wanted = Array.from({ length: run.extra + 1 }, (_, k) => `k${k}`);
      const kept = await engine.fetch("del", "keep", wanted);
      expect(kept.records.map((record) => record.id)).toEqual(wanted);
      await engine.close();
    }
    console.log(`engine-delete-namespace-crash: the delete in flight at each kill: ${inFlight.join(", ")}`);
  }, 60_000);
}
