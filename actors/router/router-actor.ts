/**
 * The router: fans a search out to a set of slabs and merges their answers into one best-k
 * list. Stateless, so every process can host one (key "local") and its verb runs
 * concurrently. Strong reads go through the namespace, which adds its memtables and hands the
 * router the slabs with their live bitsets; eventual-mode reads (with the NATS transport) will
 * come to the router directly.
 */
import { NeedleError } from "../../storage/errors.ts";
import type { Actor, Address, Transport } from "../runtime/mod.ts";
import type { ExplainedSource } from "../api.ts";
import type { SlabCandidate, SlabSearchAnswer, SlabSearchRequest } from "../slab/slab-actor.ts";
import { kthScore, mergeTopK, tighterBound } from "./merge.ts";

export interface RouterSearchRequest {
  /** Each slab with the live bitset the namespace holds for it. */
  slabs: { address: Address; live: Uint8Array }[];
  /** The search; its `bound` (from the namespace's memtables) is where the shared bound starts. */
  search: Omit<SlabSearchRequest, "live">;
  topK: number;
  ascending: boolean;
}

/** The router's answer: the merged best candidates, and each slab's explanation when asked. */
export interface RouterSearchAnswer {
  candidates: RoutedCandidate[];
  explained: ExplainedSource[];
  /** Some slab was loaded for this search. */
  cold: boolean;
}

/** A merged candidate: which of the request's slabs (by position) and which row of it. */
export interface RoutedCandidate extends SlabCandidate {
  slab: number;
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
    const { topK, ascending } = request;
    const explained: ExplainedSource[] = [];
    let cold = false;
    const ask = async (slab: number, bound: number | undefined): Promise<RoutedCandidate[]> => {
      const { address, live } = request.slabs[slab]!;
      const answer = await this.transport.request<SlabSearchAnswer>(address, "search", {
        ...request.search,
        bound,
        live,
      });
      if (answer.explain) explained.push(answer.explain);
      if (answer.cold) cold = true;
      return answer.candidates.map((candidate): RoutedCandidate => ({ ...candidate, slab }));
    };
    // The shared top-k bound (storage/compaction/DESIGN.md decision 25): the largest slab
    // first, most likely to hold the best rows; the others then drop what cannot beat them.
    const order = request.slabs.map((_, slab) => slab);
    order.sort((a, b) => request.slabs[b]!.live.length - request.slabs[a]!.live.length || a - b);
    const first = await ask(order[0]!, request.search.bound);
    const bound = tighterBound(request.search.bound, kthScore([first], topK, ascending), ascending);
    const rest = await Promise.all(order.slice(1).map((slab) => ask(slab, bound)));
    const candidates = mergeTopK([first, ...rest], topK, ascending);
    return { candidates, explained, cold } satisfies RouterSearchAnswer;
  }
}
