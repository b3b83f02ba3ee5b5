/**
 * A counting semaphore: at most `count` holders at once, the rest wait in arrival order.
 * Packed flushes take one each (namespace-actor.ts), and NATS requests in flight
 * (nats-transport.ts). For packed flushes: thousands of tenants going idle together
 * would otherwise all hand their flushes to the index at once and fill its bounded mailbox,
 * refusing the writes and activations that need it (measured: 100,000 tenants, OVERLOADED).
 */
export class Permits {
  private waiting: (() => void)[] = [];

  constructor(private available: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.available++;
    }
  }
}
