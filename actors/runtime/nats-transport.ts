/**
 * Actors over NATS (issue 8 decision 1; actors/distribution/DESIGN.md): the same
 * `Transport` the in-process default implements, as NATS request/reply on the subject
 * address.ts builds, payloads and answers in msgpack (wire.ts).
 *
 *   - A request waits at most its timeout (default `natsRequestTimeoutMs`); no answer in time,
 *     or no subscriber for the subject, is UNAVAILABLE with a Retry-After hint.
 *   - At most `inFlightMax` requests per transport are outstanding; more wait their turn in
 *     order (never dropped), so one caller cannot flood the connection.
 *   - `NatsHost` serves an ActorSystem's actors of the given kinds: each message goes into
 *     the addressed actor's mailbox in arrival order (so one caller's requests to one address
 *     keep their order), and its answer or typed error goes back.
 * Building the subjects stays in address.ts; nothing here names one.
 */
import { ErrorCode as NatsErrorCode, type Msg, type NatsConnection, type Subscription } from "nats";
import { NeedleError } from "../../storage/errors.ts";
import { type ActorKind, type Address, kindSubjects, parseSubject, subjectOf } from "./address.ts";
import { Permits } from "./permits.ts";
import type { Deliverer, RequestOptions, Transport } from "./transport.ts";
import { decodeAnswer, decodeWire, encodeAnswer, encodeFailure, encodeWire } from "./wire.ts";

export const natsRequestTimeoutMs = 30_000;
export const natsInFlightMax = 1_024;
const unavailableRetryAfterSeconds = 1;

export class NatsTransport implements Transport {
  readonly name = "nats";
  private readonly permits: Permits;
  private readonly timeoutMs: number;

  constructor(
    private readonly connection: NatsConnection,
    options: { timeoutMs?: number; inFlightMax?: number } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? natsRequestTimeoutMs;
    this.permits = new Permits(options.inFlightMax ?? natsInFlightMax);
  }

  async request<T>(
    target: Address,
    verb: string,
    payload: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    const subject = subjectOf(target, verb);
    const timeout = options.timeoutMs ?? this.timeoutMs;
    let reply: Msg;
    try {
      reply = await this.permits.run(() =>
        this.connection.request(subject, encodeWire(payload), { timeout }),
      );
    } catch (error) {
      throw unavailable(error, subject, timeout);
    }
    return decodeAnswer(reply.data, `answer on ${subject}`) as T;
  }

  async close(): Promise<void> {
    await this.connection.drain();
  }
}

function unavailable(error: unknown, subject: string, timeoutMs: number): NeedleError {
  const code = (error as { code?: string }).code;
  const message =
    code === NatsErrorCode.NoResponders
      ? `no actor answers ${subject} (no responders)`
      : code === NatsErrorCode.Timeout
        ? `no answer on ${subject} within ${timeoutMs} ms`
        : `request on ${subject} failed: ${(error as Error).message}`;
  return new NeedleError("UNAVAILABLE", message, {
    retryAfterSeconds: unavailableRetryAfterSeconds,
    cause: error instanceof Error ? error : undefined,
  });
}

/** Serves the actors of `kinds` of one system on a NATS connection. */
export class NatsHost {
  private readonly subscriptions: Subscription[] = [];
  private readonly answering = new Set<Promise<void>>();

  constructor(
    connection: NatsConnection,
    private readonly system: Deliverer,
    kinds: readonly ActorKind[],
  ) {
    for (const kind of kinds) {
      this.subscriptions.push(
        connection.subscribe(kindSubjects(kind), { callback: (error, msg) => this.take(error, msg) }),
      );
    }
  }

  /** One message: into the actor's mailbox now (arrival order), answered when it is done. */
  private take(error: Error | null, msg: Msg): void {
    if (error !== null) return;
    let answered: Promise<void>;
    try {
      const { address, verb } = parseSubject(msg.subject);
      const payload = decodeWire(msg.data, `request on ${msg.subject}`);
      answered = this.system.deliver(address, verb, payload).then(
        (value) => {
          msg.respond(encodeAnswer(value));
        },
        (failure: unknown) => {
          msg.respond(encodeFailure(failure));
        },
      );
    } catch (failure) {
      msg.respond(encodeFailure(failure));
      return;
    }
    this.answering.add(answered);
    void answered.finally(() => this.answering.delete(answered));
  }

  /** Stops taking messages and waits for the answers still owed. */
  async close(): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await Promise.allSettled([...this.answering]);
  }
}
