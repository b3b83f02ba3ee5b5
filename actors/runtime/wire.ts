/**
 * What crosses a network transport between actors (issue 8 decision 1): payloads and answers
 * in msgpack with the manifests' settings (typed arrays and bigints round-trip exactly), and
 * an answer is either `{ok}` or `{error}`: a NeedleError as its wire form, with its cause
 * (a NeedleError's wire form, or a message) one level deep, rebuilt as the same typed error.
 */
import { Packr } from "msgpackr";
import { asNeedleError, NeedleError, type WireError } from "../../storage/errors.ts";

const packr = new Packr({ useRecords: false, moreTypes: true });

interface Answer {
  ok?: unknown;
  error?: WireError & { cause?: WireError | { message: string } };
}

/** A copy: pack() answers a view of msgpackr's shared buffer. */
export function encodeWire(value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value));
}

export function decodeWire(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new NeedleError("INTERNAL", `${what} is not msgpack: ${(error as Error).message}`);
  }
}

export function encodeAnswer(value: unknown): Uint8Array {
  return encodeWire({ ok: value } satisfies Answer);
}

export function encodeFailure(failure: unknown): Uint8Array {
  const error = asNeedleError(failure);
  const cause = (error as { cause?: unknown }).cause;
  const wire: Answer["error"] = error.toWire();
  if (cause instanceof NeedleError) wire.cause = cause.toWire();
  else if (cause instanceof Error) wire.cause = { message: cause.message };
  return encodeWire({ error: wire } satisfies Answer);
}

/** The answer's value, or its error thrown as the NeedleError it was. */
export function decodeAnswer(bytes: Uint8Array, what: string): unknown {
  const answer = decodeWire(bytes, what) as Answer;
  if (answer === null || typeof answer !== "object")
    throw new NeedleError("INTERNAL", `${what}: not an answer`);
  if (answer.error === undefined) return answer.ok;
  const { cause, ...wire } = answer.error;
  const rebuilt =
    cause === undefined
      ? undefined
      : "code" in cause
        ? NeedleError.fromWire(cause)
        : new Error(cause.message);
  throw new NeedleError(wire.code, wire.message, { ...wire, cause: rebuilt });
}
