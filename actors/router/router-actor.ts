/**
 * The router: fans a search out to a set of slabs and merges their answers into one best-k
 * list. Stateless, so every process can host one (key "local") and its verb runs
 * concurrently. Strong reads go through the namespace, which adds its memtables and hands the
 * router the slabs with their live bitsets; eventual-mode reads (with the NATS transport) will
 * come to the router directly.
 */
import { NeedleError } from "../../storage/errors.ts";
import type { ScoredRecord } from "../api.ts";
import type { Actor, Address, Transport } from "../runtime/mod.ts";
import type { SlabSearchRequest } from "../slab/slab-actor.ts";
import { mergeTopK } from "./merge.ts";

export interface RouterSearchRequest {
  /** Each slab with the live bitset the namespace holds for it. */
  slabs: { address: Address; live: Uint8Array }[];
  search: Omit<SlabSearchRequest, "live">;
  topK: number;
  ascending: boolean;
}

export function routerFactory() {
  return async (context: { transport: Transport }): Promise<Actor> => new RouterActor(context.transport);
}

class RouterActor implements Actor {
  readonly concurrentVerbs = new Set(["search"]);

  constructor(private readonly transport: Transport) {}

  async receive(verb: string, payload: unknown): Promise<unknown> {
    if (verb !== "search") throw new NeedleError("INTERNAL", `router: unknown verb ${verb}`);
    const request = payload as RouterSearchRequest;
    const answers = await Promise.all(
      request.slabs.map(({ address, live }) =>
        this.transport.request<ScoredRecord[]>(address, "search", { ...request.search, live }),
      ),
    );
    return mergeTopK(answers, request.topK, request.ascending);
  }
}
