/**
 * How a message reaches an actor. Actor code only ever calls `Transport.request`; the embedded
 * default delivers in-process, the distributed mode (later) publishes on the address's subject
 * over NATS. Both must preserve the order of requests sent from one caller to one address, which
 * the writer relies on for LSN order.
 */
import { NeedleError } from "../../storage/errors.ts";
import type { Address } from "./address.ts";

export interface RequestOptions {
  /** Fails with UNAVAILABLE when no answer arrives in time. */
  timeoutMs?: number;
}

export interface Transport {
  readonly name: string;
  request<T = unknown>(target: Address, verb: string, payload: unknown, options?: RequestOptions): Promise<T>;
  close(): Promise<void>;
}

/** Anything that can take a delivered message: the local actor system. */
export interface Deliverer {
  deliver(target: Address, verb: string, payload: unknown): Promise<unknown>;
}

/**
 * In-process delivery: payloads are passed by reference (no copies, no encoding), so callers
 * must treat payloads and answers as immutable once sent.
 */
export class InProcessTransport implements Transport {
  readonly name = "in-process";
  constructor(private readonly system: Deliverer) {}

  request<T>(target: Address, verb: string, payload: unknown, options: RequestOptions = {}): Promise<T> {
    const answer = this.system.deliver(target, verb, payload) as Promise<T>;
    if (options.timeoutMs === undefined) return answer;
    // The same contract as over NATS: no answer in time is UNAVAILABLE (the work goes on).
    const timeoutMs = options.timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new NeedleError(
              "UNAVAILABLE",
              `no answer from ${target.kind} ${target.key} within ${timeoutMs} ms`,
              {
                retryAfterSeconds: 1,
              },
            ),
          ),
        timeoutMs,
      );
    });
    return Promise.race([answer, timedOut]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {}
}
