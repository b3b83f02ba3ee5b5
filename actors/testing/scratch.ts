/**
 * What seeded engine tests share: the seed (NEEDLE_TEST_SEED replays a failure, printed at
 * start) and temporary directories removed after the file's tests.
 */
import { afterAll } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function testSeed(name: string): number {
  const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);
  console.log(`${name} seed=${seed} (NEEDLE_TEST_SEED=${seed} replays)`);
  return seed;
}

/** A function making fresh temporary directories, all removed once the file's tests end. */
export function scratchDirs(prefix: string): () => Promise<string> {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    dirs.push(dir);
    return dir;
  };
}
