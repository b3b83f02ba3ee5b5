/**
 * The writer's `namespaces` scan after a restart (index activation): per namespace, the LSN
 * range of its records above the clean-through mark, including records appended since the
 * restart; `replayMany` then serves each namespace its undecoded records above its own
 * flushed LSN, in LSN order.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WriteOp } from "../../storage/types.ts";
import { decodeLogBody } from "../codec.ts";
import { ActorSystem, address } from "../runtime/mod.ts";
import { type RawRecord, writerFactory } from "./writer-actor.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const write = (n: number): WriteOp => ({
  op: "upsert",
  records: [{ id: `r${n}`, values: Float32Array.of(n) }],
});

async function withWriter<T>(dir: string, run: (system: ActorSystem) => Promise<T>): Promise<T> {
  const system = new ActorSystem();
  system.register("writer", writerFactory(dir));
  try {
    return await run(system);
  } finally {
    await system.shutdown();
  }
}

test("after a restart, the namespaces scan and replayMany give each namespace its records above the marks", async () => {
  const dir = await mkdtemp(join(tmpdir(), "needle-writer-"));
  dirs.push(dir);
  const writer = address("writer", "idx");
  const namespaceOf = (n: number) => `ns-${n % 3}`;
  await withWriter(dir, async (system) => {
    for (let n = 0; n < 30; n++)
      await system.transport.request(writer, "append", {
        body: { namespace: namespaceOf(n), write: write(n) },
      });
  });
  await withWriter(dir, async (system) => {
    // Appended after the restart, before the scan.
    for (let n = 30; n < 34; n++)
      await system.transport.request(writer, "append", {
        body: { namespace: namespaceOf(n), write: write(n) },
      });
    const ranges = await system.transport.request<Map<string, { firstLsn: bigint; lastLsn: bigint }>>(
      writer,
      "namespaces",
      { cleanThroughLsn: 12n },
    );
    // LSN n + 1 holds write n; records at or below 12 are clean.
    const expected = new Map<string, { firstLsn: bigint; lastLsn: bigint }>();
    for (let n = 12; n < 34; n++) {
      const range = expected.get(namespaceOf(n));
      if (range) range.lastLsn = BigInt(n + 1);
      else expected.set(namespaceOf(n), { firstLsn: BigInt(n + 1), lastLsn: BigInt(n + 1) });
    }
    expect(ranges).toEqual(expected);
    const found = await system.transport.request<Map<string, RawRecord[]>>(writer, "replayMany", {
      namespaces: [{ namespace: "ns-1", afterLsn: 20n }],
    });
    const ids = found.get("ns-1")!.map(({ lsn, bytes }) => {
      const body = decodeLogBody(bytes);
      return [lsn, body.write.op === "upsert" ? body.write.records[0]!.id : ""];
    });
    expect(ids).toEqual(
      Array.from({ length: 34 }, (_, n) => n)
        .filter((n) => namespaceOf(n) === "ns-1" && n + 1 > 20)
        .map((n) => [BigInt(n + 1), `r${n}`]),
    );
  });
});
