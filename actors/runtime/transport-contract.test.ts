/**
 * The transport contract (transport-contract.ts) on both transports: in-process, and over a
 * `nats-server` this file starts on a free loopback port (a NatsHost serving the system, a
 * NatsTransport sending). Then what only a network transport has: no responders, and a bound
 * on requests in flight.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "nats";
import { NeedleError } from "../../storage/errors.ts";
import { startNatsServer, type TestNatsServer } from "../../storage/testing/nats-server.ts";
import { address } from "./address.ts";
import { NatsHost, NatsTransport } from "./nats-transport.ts";
import { ActorSystem } from "./system.ts";
import { transportContract } from "./transport-contract.ts";

let server: TestNatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server.stop();
});

transportContract("in-process", async () => {
  const system = new ActorSystem();
  return { system, transport: system.transport, close: () => system.shutdown() };
});

async function overNats(options: { inFlightMax?: number } = {}) {
  const system = new ActorSystem();
  const hostConnection = await connect({ servers: server.url });
  const host = new NatsHost(hostConnection, system, ["router"]);
  const transport = new NatsTransport(await connect({ servers: server.url }), options);
  // Interest must reach the server before the first request (else: no responders).
  await hostConnection.flush();
  return {
    system,
    transport,
    close: async () => {
      await transport.close();
      await host.close();
      await hostConnection.drain();
      await system.shutdown();
    },
  };
}

transportContract("NATS", () => overNats());

describe("NATS transport only", () => {
  test("a subject no host serves is UNAVAILABLE (no responders), retryable, naming the subject", async () => {
    const setup = await overNats();
    try {
      let caught: unknown;
      try {
        await setup.transport.request(address("compactor", "local"), "status", {});
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(NeedleError);
      expect((caught as NeedleError).code).toBe("UNAVAILABLE");
      expect((caught as NeedleError).retryable).toBe(true);
      expect((caught as NeedleError).message).toContain("needle.compactor.");
    } finally {
      await setup.close();
    }
  });

  test("at most inFlightMax requests are out at once; the rest wait their turn, none is dropped", async () => {
    const setup = await overNats({ inFlightMax: 4 });
    let running = 0;
    let most = 0;
    setup.system.register("router", async () => ({
      concurrentVerbs: new Set(["work"]),
      async receive(_verb, payload) {
        running++;
        most = Math.max(most, running);
        await Bun.sleep(5);
        running--;
        return payload;
      },
    }));
    try {
      // Active first: messages that arrive before an actor exists queue as exclusive.
      await Promise.all(
        [0, 1, 2].map((k) => setup.transport.request(address("router", `k${k}`), "work", -1)),
      );
      most = 0;
      const sent = Array.from({ length: 40 }, (_, n) => n);
      const answers = await Promise.all(
        sent.map((n) => setup.transport.request(address("router", `k${n % 3}`), "work", n)),
      );
      expect(answers).toEqual(sent);
      expect(most).toBeLessThanOrEqual(4);
      expect(most).toBeGreaterThan(3); // they overlapped within actors: the bound held them at 4
    } finally {
      await setup.close();
    }
  });
});
