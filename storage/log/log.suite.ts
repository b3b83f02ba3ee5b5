/**
 * The shared Log contract (log.ts): every request log — the local WAL and the JetStream
 * stream — registers these tests with a factory (request-log.test.ts, jetstream-log.test.ts).
 * Not a test file itself: it registers tests when called.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { NeedleError } from "../errors.ts";
import type { Log } from "./log.ts";

export interface LogFixture {
  /** Opens the fixture's log (again: the same records, after a close). */
  open(): Promise<Log>;
  dispose(): Promise<void>;
}

const payloadOf = (n: number) => new TextEncoder().encode(`record ${n} ${"x".repeat(n % 7)}`);

async function readAll(log: Log, afterLsn = 0n): Promise<[bigint, string][]> {
  const records: [bigint, string][] = [];
  await log.replay(afterLsn, (lsn, payload) => {
    records.push([lsn, new TextDecoder().decode(payload)]);
  });
  return records;
}

export function logSuite(name: string, makeFixture: () => Promise<LogFixture>): void {
  describe(`Log contract: ${name}`, () => {
    let fixtures: LogFixture[] = [];
    async function fresh(): Promise<LogFixture> {
      const fixture = await makeFixture();
      fixtures.push(fixture);
      return fixture;
    }
    afterEach(async () => {
      const done = fixtures;
      fixtures = [];
      await Promise.all(done.map((fixture) => fixture.dispose()));
    });

    test("LSNs are consecutive from 1, durable on resolve, replayed in order with their payloads", async () => {
      const log = await (await fresh()).open();
      expect(log.lastLsn).toBe(0n);
      expect(log.firstLsn).toBe(1n);
      const lsns = await Promise.all(Array.from({ length: 50 }, (_, n) => log.append(payloadOf(n))));
      expect([...lsns].sort((a, b) => (a < b ? -1 : 1))).toEqual(
        Array.from({ length: 50 }, (_, n) => BigInt(n + 1)),
      );
      expect(log.lastLsn).toBe(50n);
      const records = await readAll(log);
      expect(records.map(([lsn]) => lsn)).toEqual(lsns.slice().sort((a, b) => (a < b ? -1 : 1)));
      // Each record holds the payload its append was given.
      for (let n = 0; n < 50; n++) {
        const [, text] = records.find(([lsn]) => lsn === lsns[n])!;
        expect(text).toBe(new TextDecoder().decode(payloadOf(n)));
      }
      await log.close();
    });

    test("payloads kept from a replay stay unchanged after later appends and replays", async () => {
      // Many records, so a network client reads several per socket read: kept payloads must
      // not share or reuse its buffers.
      const big = (n: number) => new TextEncoder().encode(`${n} `.repeat(20 + (n % 50)));
      const log = await (await fresh()).open();
      for (let n = 1; n <= 300; n++) await log.append(big(n));
      const kept: [bigint, Uint8Array][] = [];
      await log.replay(0n, (lsn, payload) => {
        kept.push([lsn, payload]);
      });
      for (let n = 301; n <= 330; n++) await log.append(big(n));
      await readAll(log);
      await readAll(log, 20n);
      kept.forEach(([lsn, payload], i) => {
        expect(lsn).toBe(BigInt(i + 1));
        expect(Bun.hash(payload)).toBe(Bun.hash(big(i + 1)));
      });
      expect(kept).toHaveLength(300);
      await log.close();
    });

    test("replay after an LSN gives only what follows it; after the last, nothing", async () => {
      const log = await (await fresh()).open();
      for (let n = 0; n < 10; n++) await log.append(payloadOf(n));
      expect((await readAll(log, 6n)).map(([lsn]) => lsn)).toEqual([7n, 8n, 9n, 10n]);
      expect(await readAll(log, 10n)).toEqual([]);
      await log.close();
    });

    test("a reopened log keeps every record and numbers on", async () => {
      const fixture = await fresh();
      const log = await fixture.open();
      for (let n = 0; n < 5; n++) await log.append(payloadOf(n));
      await log.close();
      const reopened = await fixture.open();
      expect(reopened.lastLsn).toBe(5n);
      expect(await reopened.append(payloadOf(5))).toBe(6n);
      expect((await readAll(reopened)).map(([, text]) => text)).toEqual(
        Array.from({ length: 6 }, (_, n) => new TextDecoder().decode(payloadOf(n))),
      );
      await reopened.close();
    });

    test("after a trim, what follows it replays; replay from below what is held is FAILED_PRECONDITION", async () => {
      const fixture = await fresh();
      const log = await fixture.open();
      for (let n = 0; n < 20; n++) await log.append(payloadOf(n));
      await log.trimThrough(12n);
      expect(log.firstLsn).toBeLessThanOrEqual(13n);
      expect((await readAll(log, 12n)).map(([lsn]) => lsn)).toEqual([13n, 14n, 15n, 16n, 17n, 18n, 19n, 20n]);
      if (log.firstLsn > 1n) {
        const refused = await log.replay(0n, () => undefined).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(NeedleError);
        expect((refused as NeedleError).code).toBe("FAILED_PRECONDITION");
      }
      // Trimming everything leaves an empty log that numbers on, also after a reopen.
      await log.trimThrough(20n);
      await log.close();
      const reopened = await fixture.open();
      expect(reopened.lastLsn).toBe(20n);
      expect(await reopened.append(payloadOf(20))).toBe(21n);
      expect((await readAll(reopened, 20n)).map(([lsn]) => lsn)).toEqual([21n]);
      await reopened.close();
    });

    test("an empty or oversized payload is INVALID_ARGUMENT naming the field", async () => {
      const log = await (await fresh()).open();
      const refused = await log.append(new Uint8Array(0)).catch((error: unknown) => error);
      expect((refused as NeedleError).code).toBe("INVALID_ARGUMENT");
      expect((refused as NeedleError).field).toBe("payload");
      expect(log.lastLsn).toBe(0n);
      await log.close();
    });
  });
}
