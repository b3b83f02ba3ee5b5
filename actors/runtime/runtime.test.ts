import { describe, expect, test } from "bun:test";
import { NeedleError } from "../../storage/errors.ts";
import type { Actor } from "./actor.ts";
import { actorKinds, address, parseSubject, subjectOf } from "./address.ts";
import { failuresBeforeEscalation, restartBackoffBaseMs } from "./system.ts";
import { ActorSystem } from "./system.ts";

describe("subjects", () => {
  test("every kind and awkward keys round-trip through one subject", () => {
    for (const kind of actorKinds) {
      for (const key of ["", "plain", "idx/ns with spaces.and.dots", "ü*>", "x".repeat(600)]) {
        const subject = subjectOf(address(kind, key), "query");
        expect(subject.split(".")).toHaveLength(4);
        expect(subject).not.toMatch(/[ *>]/);
        expect(parseSubject(subject)).toEqual({ address: { kind, key }, verb: "query" });
      }
    }
  });

  test("bad verbs and foreign subjects are refused", () => {
    expect(() => subjectOf(address("slab", "k"), "a.b")).toThrow(NeedleError);
    expect(() => parseSubject("other.slab.aw.query")).toThrow(NeedleError);
    expect(() => parseSubject("needle.nope.aw.query")).toThrow(NeedleError);
  });
});

describe("actor system", () => {
  test("virtual activation: the first message builds the actor once; exclusive messages run in order", async () => {
    const system = new ActorSystem();
    let builds = 0;
    const seen: number[] = [];
    system.register("namespace", async () => {
      builds++;
      return {
        async receive(_verb, payload) {
          await Bun.sleep(1);
          seen.push(payload as number);
          return payload;
        },
      } satisfies Actor;
    });
    const target = address("namespace", "i/n");
    const answers = await Promise.all([1, 2, 3, 4].map((n) => system.transport.request(target, "write", n)));
    expect(answers).toEqual([1, 2, 3, 4]);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(builds).toBe(1);
    await system.shutdown();
  });

  test("a full mailbox answers OVERLOADED with a retry hint instead of growing", async () => {
    const system = new ActorSystem({ mailboxDepthMax: 3 });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    system.register("writer", async () => ({ receive: () => gate }));
    const target = address("writer", "w");
    const accepted = [1, 2, 3].map(() => system.transport.request(target, "append", {}));
    let refused: unknown;
    try {
      await system.transport.request(target, "append", {});
    } catch (error) {
      refused = error;
    }
    expect((refused as NeedleError).code).toBe("OVERLOADED");
    expect((refused as NeedleError).retryAfterSeconds).toBeGreaterThan(0);
    release();
    await Promise.all(accepted);
    await system.shutdown();
  });

  test("supervision: a fault restarts from durable state after a backoff; repeated faults escalate", async () => {
    let clock = 0;
    const escalations: number[] = [];
    const system = new ActorSystem({
      now: () => clock,
      onEscalate: (_a, _e, failures) => escalations.push(failures),
    });
    let builds = 0;
    let healthy = false;
    system.register("slab", async () => {
      builds++;
      if (!healthy) throw new NeedleError("IO", "disk went away");
      return { receive: async () => "ok" };
    });
    const target = address("slab", "s");
    for (let attempt = 1; attempt <= failuresBeforeEscalation; attempt++) {
      await expect(system.transport.request(target, "search", {})).rejects.toThrow("disk went away");
      // Inside the backoff window nothing is rebuilt: callers get UNAVAILABLE at once.
      const during = await system.transport.request(target, "search", {}).catch((e) => e as NeedleError);
      expect((during as NeedleError).code).toBe("UNAVAILABLE");
      expect(builds).toBe(attempt);
      clock += restartBackoffBaseMs * 2 ** (attempt - 1);
    }
    expect(escalations).toEqual([failuresBeforeEscalation]);
    healthy = true;
    expect(await system.transport.request(target, "search", {})).toBe("ok");
    await system.shutdown();
  });

  test("user errors pass through without restarting the actor", async () => {
    const system = new ActorSystem();
    let builds = 0;
    system.register("index", async () => {
      builds++;
      return {
        receive: async () => {
          throw new NeedleError("INVALID_ARGUMENT", "bad field");
        },
      };
    });
    const target = address("index", "i");
    await expect(system.transport.request(target, "x", {})).rejects.toThrow("bad field");
    await expect(system.transport.request(target, "x", {})).rejects.toThrow("bad field");
    expect(builds).toBe(1);
    await system.shutdown();
  });

  test("bookkeeping verbs are not use: they leave the least-recently-used time and the hit count as they were", async () => {
    let clock = 1_000;
    const system = new ActorSystem({ now: () => clock });
    system.register("slab", async () => ({
      bookkeepingVerbs: new Set(["demote"]),
      receive: async (verb) => verb,
    }));
    const target = address("slab", "i/s");
    await system.transport.request(target, "search", {});
    const used = system.lastActivityMs(target);
    const hits = system.observeKind("slab").hits;
    clock += 500;
    expect(await system.transport.request(target, "demote", {})).toBe("demote");
    expect(system.lastActivityMs(target)).toBe(used);
    expect(system.observeKind("slab").hits).toBe(hits);
    clock += 500;
    await system.transport.request(target, "search", {});
    expect(system.lastActivityMs(target)).toBe(clock);
    expect(system.observeKind("slab").hits).toBe(hits + 1);
    await system.shutdown();
  });

  test("idle actors passivate and reactivate on the next message", async () => {
    const system = new ActorSystem();
    let passivations = 0;
    system.register("namespace", async () => ({
      idleMs: 0,
      receive: async () => "hi",
      passivate: async () => {
        passivations++;
      },
    }));
    const target = address("namespace", "i/n");
    await system.transport.request(target, "q", {});
    await system.passivate(target);
    expect(passivations).toBe(1);
    expect(system.isActive(target)).toBe(false);
    expect(await system.transport.request(target, "q", {})).toBe("hi");
    expect(system.isActive(target)).toBe(true);
    await system.shutdown();
    expect(passivations).toBe(2);
  });
});
