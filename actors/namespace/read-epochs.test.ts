/**
 * ReadEpochs: work waits for exactly the reads that began before it was queued, in any order
 * of endings, and never for reads that began after; a seeded run against a direct model.
 */
import { expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { ReadEpochs } from "./read-epochs.ts";

test("work waits for earlier reads only", () => {
  const epochs = new ReadEpochs();
  const ran: string[] = [];
  epochs.afterCurrentReads(() => ran.push("idle"));
  expect(ran).toEqual(["idle"]);
  const endA = epochs.begin();
  epochs.afterCurrentReads(() => ran.push("after A"));
  const endB = epochs.begin();
  expect(ran).toEqual(["idle"]);
  endB();
  expect(ran).toEqual(["idle"]);
  endA();
  endA(); // a second call changes nothing
  expect(ran).toEqual(["idle", "after A"]);
  expect(epochs.inProgress).toBe(0);
});

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);

test(`seeded interleavings against a model (seed ${seed})`, () => {
  const random = seededRandom(seed);
  for (let trial = 0; trial < 200; trial++) {
    const epochs = new ReadEpochs();
    const open = new Map<number, () => void>();
    // Model: work k may run only when every read begun before it was queued has ended.
    const readsBefore = new Map<number, Set<number>>();
    const ranAt = new Map<number, number>();
    let nextRead = 0;
    let nextWork = 0;
    for (let step = 0; step < 60; step++) {
      const choice = random();
      if (choice < 0.4) {
        const id = nextRead++;
        open.set(id, epochs.begin());
      } else if (choice < 0.75 && open.size > 0) {
        const ids = [...open.keys()];
        const id = ids[Math.floor(random() * ids.length)]!;
        open.get(id)!();
        open.delete(id);
      } else {
        const work = nextWork++;
        readsBefore.set(work, new Set(open.keys()));
        epochs.afterCurrentReads(() => ranAt.set(work, step));
      }
      for (const [work, reads] of readsBefore) {
        const allEnded = [...reads].every((id) => !open.has(id));
        if (ranAt.has(work) !== allEnded)
          throw new Error(
            `seed ${seed} trial ${trial} step ${step}: work ${work} ran=${ranAt.has(work)} but earlier reads ended=${allEnded}`,
          );
      }
    }
    for (const end of open.values()) end();
    expect(ranAt.size).toBe(nextWork);
  }
});
