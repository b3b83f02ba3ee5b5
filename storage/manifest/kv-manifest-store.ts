/**
 * Manifests in NATS KV (issue 8 decision 5; the distributed mode's ManifestStore): one key per
 * manifest, the value the same checksummed manifest file the local store writes
 * (format.ts), so damage is found and named the same way. A commit is a compare-and-set on the
 * revision this store last read or wrote: if another owner committed meanwhile (its lease was
 * taken over), the commit fails as a fault and nothing is overwritten.
 *
 * Not yet: manifests larger than the server's message limit (1 MiB by default) need the
 * Object Store; the caller's key naming lives in one place (storage/nats, to come).
 */
import type { KV } from "nats";
import { corruption, NeedleError } from "../errors.ts";
import { decodeManifestFile, encodeManifestFile, manifestBodyBytesMax } from "./format.ts";

/** Where a manifest file's header keeps its version (format.ts): u64 little endian. */
const versionOffset = 16;

export class KvManifestStore<T> {
  /** The revision last read or written; undefined until known, null when the key is absent. */
  private revision: number | null | undefined;
  private version = 0;
  private commitQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly kv: KV,
    readonly key: string,
    private readonly bodyBytesMax = manifestBodyBytesMax,
  ) {}

  private get name(): string {
    return `kv manifest ${this.key}`;
  }

  async load(): Promise<{ version: number; body: T } | undefined> {
    const entry = await this.kv.get(this.key);
    if (entry === null || entry.operation !== "PUT") {
      this.revision = entry === null ? null : entry.revision;
      this.version = 0;
      return undefined;
    }
    const bytes = entry.value;
    if (bytes.byteLength < versionOffset + 8)
      throw corruption(this.name, `value is ${bytes.byteLength} bytes, shorter than a manifest header`);
    const version = Number(
      new DataView(bytes.buffer, bytes.byteOffset + versionOffset, 8).getBigUint64(0, true),
    );
    const body = decodeManifestFile(this.name, version, bytes) as T;
    this.revision = entry.revision;
    this.version = version;
    return { version, body };
  }

  /** Writes version + 1 if nobody else wrote since this store's last read or write. */
  commit(body: T): Promise<number> {
    const result = this.commitQueue.then(() => this.commitNow(body));
    this.commitQueue = result.catch(() => undefined);
    return result;
  }

  private async commitNow(body: T): Promise<number> {
    if (this.revision === undefined) await this.load();
    const version = this.version + 1;
    const bytes = encodeManifestFile(version, body, this.bodyBytesMax);
    try {
      this.revision =
        this.revision === null || this.revision === undefined
          ? await this.kv.create(this.key, bytes)
          : await this.kv.update(this.key, bytes, this.revision);
    } catch (error) {
      throw new NeedleError(
        "INTERNAL",
        `${this.name}: another owner committed since revision ${this.revision} (or the key changed); this owner must stop`,
        { cause: error instanceof Error ? error : undefined },
      );
    }
    this.version = version;
    return version;
  }
}
