/**
 * Requests for an index's owner or its replicas (`needle.owner.<index>.<method>`,
 * `needle.replica.<index>.<method>`): the Engine method the subject names, called with the
 * index and the msgpack arguments, its result or typed error answered the same way.
 */
import type { Msg } from "nats";
import { NeedleError } from "../../storage/errors.ts";
import type { Engine } from "../api.ts";
import { parseSubject } from "../runtime/address.ts";
import { decodeWire, encodeAnswer, encodeFailure } from "../runtime/wire.ts";

/** The verb and arguments of a request, refusing a verb outside `verbs` (`who` names the host). */
export function decodeEngineRequest(
  msg: Msg,
  verbs: readonly string[],
  who: string,
): { verb: string; args: unknown[] } {
  const { verb } = parseSubject(msg.subject);
  if (!verbs.includes(verb)) throw new NeedleError("INTERNAL", `${who} has no verb ${verb}`);
  return { verb, args: decodeWire(msg.data, `request on ${msg.subject}`) as unknown[] };
}

/** `engine[verb](index, ...args)`. */
export function callEngine(engine: Engine, verb: string, index: string, args: unknown[]): Promise<unknown> {
  const method = (engine as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[verb]!;
  return method.call(engine, index, ...args);
}

/** Runs `work` and answers `msg` with its result or its error; never rejects. */
export async function respondTo(msg: Msg, work: () => Promise<unknown>): Promise<void> {
  try {
    msg.respond(encodeAnswer(await work()));
  } catch (failure) {
    msg.respond(encodeFailure(failure));
  }
}
