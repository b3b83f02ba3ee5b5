/**
 * Ownership leases in NATS KV (issue 8 invariant 1; actors/distribution/DESIGN.md decision 5):
 * exactly one owner acts for a key at a time.
 *
 *   - acquire: create the key (compare-and-set on "absent"); taken only when nobody holds it
 *     or the holder's entry expired (the bucket's TTL removes entries not renewed in time) or
 *     was released.
 *   - renew: every third of the TTL, update with the revision last written; an update the
 *     server refuses (someone else's revision, or the key gone) means the lease is lost; one
 *     that got no answer (a NATS node failing over) is tried again at the next renewal.
 *   - holds(): true only while the last renewal is younger than the TTL on this host's clock,
 *     and nothing said "lost": an owner checks it before acting and fail-stops otherwise.
 *     A renewal that is merely late (a stalled event loop) turns `holds()` false before the
 *     server could have given the key to anyone else.
 *   - release: delete with the revision held, so a release never removes a successor's lease.
 */
import type { KV } from "nats";

export interface LeaseOptions {
  /** The bucket's TTL (the KV's `ttl`), milliseconds. */
  ttlMs: number;
  /** Called once when the lease is lost (never after a release). */
  onLost?: (why: string) => void;
  now?: () => number;
}

export class Lease {
  private timer: ReturnType<typeof setInterval> | undefined;
  private renewedAtMs: number;
  private lost = false;
  private released = false;

  private constructor(
    private readonly kv: KV,
    readonly key: string,
    readonly owner: string,
    private revision: number,
    private readonly options: LeaseOptions,
  ) {
    this.renewedAtMs = this.now();
    this.timer = setInterval(() => void this.renew(), Math.max(1, Math.floor(options.ttlMs / 3)));
    this.timer.unref?.();
  }

  /** The lease, or undefined when someone else holds the key. */
  static async acquire(
    kv: KV,
    key: string,
    owner: string,
    options: LeaseOptions,
  ): Promise<Lease | undefined> {
    const payload = new TextEncoder().encode(owner);
    try {
      const revision = await kv.create(key, payload);
      return new Lease(kv, key, owner, revision, options);
    } catch {
      return undefined; // held (create is compare-and-set on "absent or deleted")
    }
  }

  private now(): number {
    return (this.options.now ?? (() => performance.now()))();
  }

  holds(): boolean {
    return !this.lost && !this.released && this.now() - this.renewedAtMs < this.options.ttlMs;
  }

  /** One renewal now (the timer calls it every third of the TTL). False once lost. */
  async renew(): Promise<boolean> {
    if (this.lost || this.released) return false;
    const started = this.now();
    try {
      this.revision = await this.kv.update(this.key, new TextEncoder().encode(this.owner), this.revision);
      this.renewedAtMs = started;
      return true;
    } catch (error) {
      // Refused by the server (another revision: someone else holds it, or it expired and
      // was deleted): lost. No answer (a NATS node failing over): try again at the next
      // renewal; holds() turns false by itself once the TTL passes without one.
      if ((error as { api_error?: unknown }).api_error !== undefined) {
        this.lose(`renewal of lease ${this.key} was refused: ${(error as Error).message}`);
      }
      return false;
    }
  }

  /** Stops renewing without deleting (what a crashed owner does); tests use it. */
  abandon(): void {
    clearInterval(this.timer);
  }

  async release(): Promise<void> {
    if (this.released) return;
    // Lapsed (no renewal within the TTL): the key may be a successor's already, and the host
    // may have lost NATS; the delete would at best do nothing.
    const lapsed = !this.holds();
    this.released = true;
    clearInterval(this.timer);
    if (this.lost || lapsed) return;
    await this.kv.delete(this.key, { previousSeq: this.revision }).catch(() => undefined);
  }

  private lose(why: string): void {
    if (this.lost) return;
    this.lost = true;
    clearInterval(this.timer);
    this.options.onLost?.(why);
  }
}
