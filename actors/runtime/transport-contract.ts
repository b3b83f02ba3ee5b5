/**
 * The actor transport contract (issue 8 decision 1), one suite for every transport: what actor
 * code may rely on whether a message crosses a function call or a NATS server.
 *   - answers come back equal: typed arrays, bigints, nested objects, text;
 *   - one caller's requests to one address arrive in the order sent;
 *   - an actor's NeedleError arrives as the same typed error (code, field, limit, received,
 *     Retry-After) with its cause;
 *   - a request with a timeout and no answer in time fails UNAVAILABLE, retryable.
 * `transport-contract.test.ts` runs it on the in-process transport and over a test NATS server.
 */
import { describe, expect, test } from "bun:test";
import { NeedleError } from "../../storage/errors.ts";
import { address } from "./address.ts";
import type { ActorSystem } from "./system.ts";
import type { Transport } from "./transport.ts";

export interface ContractSetup {
  /** The system whose actors answer (the test registers kind "router" on it). */
  system: ActorSystem;
  /** How the test sends: in-process, or a NATS transport to a host serving `system`. */
  transport: Transport;
  close(): Promise<void>;
}

const echo = address("router", "echo");

export function transportContract(name: string, setUp: () => Promise<ContractSetup>): void {
  describe(`transport contract: ${name}`, () => {
    async function withSetup(run: (setup: ContractSetup, seen: unknown[]) => Promise<void>) {
      const setup = await setUp();
      const seen: unknown[] = [];
      setup.system.register("router", async () => ({
        concurrentVerbs: new Set(["slow"]),
        async receive(verb, payload) {
          seen.push(payload);
          if (verb === "echo") return payload;
          if (verb === "fail") {
            throw new NeedleError("INVALID_ARGUMENT", "topK is out of range", {
              field: "topK",
              limit: "1-10000",
              received: 20_000,
              retryAfterSeconds: 3,
              cause: new NeedleError("CORRUPTION", "slab abc is damaged", { file: "abc.slab" }),
            });
          }
          if (verb === "slow") {
            await Bun.sleep(payload as number);
            return "late";
          }
          return undefined;
        },
      }));
      try {
        await run(setup, seen);
      } finally {
        await setup.close();
      }
    }

    test("answers come back equal: typed arrays, bigints, nested objects, text", async () => {
      await withSetup(async ({ transport }) => {
        const payload = {
          vector: Float32Array.of(0.5, -1.25, 3e-8),
          ids: ["a", "ü \u0000 b", ""],
          lsn: 2n ** 62n + 7n,
          bits: Uint8Array.of(0, 255, 7),
          nested: { deep: [1, 2.5, { x: null, y: true }] },
        };
        expect(await transport.request(echo, "echo", payload)).toEqual(payload);
      });
    });

    test("one caller's requests to one address arrive in the order sent", async () => {
      await withSetup(async ({ transport }, seen) => {
        const sent = Array.from({ length: 200 }, (_, n) => n);
        const answers = await Promise.all(sent.map((n) => transport.request(echo, "echo", n)));
        expect(answers).toEqual(sent);
        expect(seen).toEqual(sent);
      });
    });

    test("an actor's error arrives as the same typed error, with its cause", async () => {
      await withSetup(async ({ transport }) => {
        let caught: unknown;
        try {
          await transport.request(echo, "fail", {});
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(NeedleError);
        const error = caught as NeedleError;
        expect({
          code: error.code,
          message: error.message,
          field: error.field,
          limit: error.limit,
          received: error.received,
          retryAfterSeconds: error.retryAfterSeconds,
        }).toEqual({
          code: "INVALID_ARGUMENT",
          message: "topK is out of range",
          field: "topK",
          limit: "1-10000",
          received: 20_000,
          retryAfterSeconds: 3,
        });
        const cause = error.cause as NeedleError;
        expect(cause).toBeInstanceOf(NeedleError);
        expect([cause.code, cause.message, cause.file]).toEqual([
          "CORRUPTION",
          "slab abc is damaged",
          "abc.slab",
        ]);
      });
    });

    test("no answer within the timeout is UNAVAILABLE and retryable", async () => {
      await withSetup(async ({ transport }) => {
        let caught: unknown;
        try {
          await transport.request(echo, "slow", 500, { timeoutMs: 50 });
        } catch (error) {
          caught = error;
        }
        expect((caught as NeedleError).code).toBe("UNAVAILABLE");
        expect((caught as NeedleError).retryable).toBe(true);
        // Answered in time, the same verb works.
        expect(await transport.request(echo, "slow", 1, { timeoutMs: 5_000 })).toBe("late");
      });
    });
  });
}
