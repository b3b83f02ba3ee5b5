/**
 * The index actor: the namespace registry of one index and the keeper of its log's low-water
 * mark.
 *
 * Activation (numbered steps):
 *   1. Read every namespace manifest: name and flushedLsn.
 *   2. Ask the writer which namespaces have records in the log. A namespace with records above
 *      its flushedLsn needs replay; it is activated now (not awaited: its activation asks us
 *      `needsReplay`, which would deadlock) so its unflushed writes are back in memory.
 *   3. Check the log holds every write a manifest claims: a namespace flushed through an LSN
 *      above the log's last one means the log lost its tail (CORRUPTION naming the index).
 *   4. On the first activation in a process, delete slab files no manifest names (a flush that
 *      crashed between writing its slab and committing its manifest). Only when step 1 read
 *      every manifest (a failed listing stops activation, it is never "no namespaces"), and
 *      only files named like the slabs flushes write (`<32 hex>-<8 digits>.slab`): an
 *      operator's `x.slab.bak` is not ours to delete.
 *
 * Trimming: namespaces report their oldest unflushed LSN; the log is trimmed through
 * (minimum of those) - 1, or through its last LSN when every namespace is clean. A report is
 * answered as soon as it is recorded; the trim it allows runs in the background (one at a
 * time, repeated if reports came in meanwhile), so the index's mailbox drains at the speed of
 * bookkeeping, not of segment deletion: a namespace's "dirty" report, which its write waits
 * for, is not refused because trims are slow.
 *
 * Invariant: the log is never trimmed past a record some namespace has not flushed.
 */
import { join } from "node:path";
import { corruption, NeedleError } from "../../storage/errors.ts";
import { readdir } from "../../storage/files.ts";
import { ioError, isNotFound } from "../../storage/fsync.ts";
import type { BlobStore } from "../../storage/blob/mod.ts";
import { ManifestStore } from "../../storage/manifest/mod.ts";
import { logDir, namespaceKey, namespacesDir, slabPrefix } from "../layout.ts";
import type { NamespaceManifest } from "../namespace/manifest.ts";
import { type Actor, type ActorContext, address } from "../runtime/mod.ts";

interface NamespaceEntry {
  flushedLsn: bigint;
  /** 0n when clean. */
  oldestUnflushedLsn: bigint;
  mayExist: boolean;
  needsReplay: boolean;
}

/** The names flushes and compactions give slab files: `<namespace dir hash>-<sequence>.slab`. */
const slabFileNamePattern = /^([0-9a-f]{32}-\d{8})\.slab$/;

/** Step 1's listing: an absent directory holds no namespaces; any other failure is an error. */
async function namespaceDirNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw ioError(dir, "list namespaces", error);
  }
}

export function indexFactory(dataDir: string, blobs: BlobStore, cleanedIndexes: Set<string>) {
  return async (context: ActorContext): Promise<Actor> => {
    const index = context.self.key;
    const entries = new Map<string, NamespaceEntry>();
    const referencedSlabs = new Set<string>();
    const dir = namespacesDir(dataDir, index);
    const names = await namespaceDirNames(dir);
    let flushedLsnMax = 0n;
    for (const name of names) {
      const loaded = await new ManifestStore<NamespaceManifest>(join(dir, name), "manifest").load();
      if (!loaded) continue;
      const body = loaded.body;
      for (const slab of body.slabs) referencedSlabs.add(slab.id);
      if (body.flushedLsn > flushedLsnMax) flushedLsnMax = body.flushedLsn;
      entries.set(body.namespace, {
        flushedLsn: body.flushedLsn,
        oldestUnflushedLsn: 0n,
        mayExist: body.explicit || body.slabs.length > 0,
        needsReplay: false,
      });
    }
    const ranges = await context.transport.request<Map<string, { firstLsn: bigint; lastLsn: bigint }>>(
      address("writer", index),
      "namespaces",
      {},
    );
    for (const [namespace, range] of ranges) {
      const entry = entries.get(namespace) ?? {
        flushedLsn: 0n,
        oldestUnflushedLsn: 0n,
        mayExist: true,
        needsReplay: false,
      };
      if (range.lastLsn > entry.flushedLsn) {
        entry.needsReplay = true;
        entry.mayExist = true;
        entry.oldestUnflushedLsn =
          entry.flushedLsn + 1n > range.firstLsn ? entry.flushedLsn + 1n : range.firstLsn;
      }
      entries.set(namespace, entry);
    }
    const recoveredThroughLsn = await context.transport.request<bigint>(
      address("writer", index),
      "lastLsn",
      {},
    );
    // Step 3.
    if (flushedLsnMax > recoveredThroughLsn) {
      throw corruption(
        logDir(dataDir, index),
        `index ${index}: a namespace was flushed through LSN ${flushedLsnMax} but the request log ends at LSN ${recoveredThroughLsn}; its newest segments are missing`,
      );
    }
    // Step 4.
    if (!cleanedIndexes.has(index)) {
      cleanedIndexes.add(index);
      for (const key of await blobs.list(slabPrefix(index))) {
        const match = slabFileNamePattern.exec(key.slice(slabPrefix(index).length));
        if (match !== null && !referencedSlabs.has(match[1]!)) await blobs.delete(key);
      }
    }
    // Not awaited here: each namespace's activation asks us `needsReplay` (a concurrent verb).
    const replays = [...entries]
      .filter(([, entry]) => entry.needsReplay)
      .map(([namespace]) =>
        context.transport
          .request(address("namespace", namespaceKey(index, namespace)), "exists", {})
          .catch(() => {}),
      );
    return new IndexActor(
      index,
      entries,
      context,
      recoveredThroughLsn,
      Promise.all(replays).then(() => {}),
    );
  };
}

class IndexActor implements Actor {
  readonly concurrentVerbs = new Set(["needsReplay", "recoveredLsn"]);
  private trimmedThroughLsn = 0n;
  private trimming: Promise<void> | undefined;
  private trimAgain = false;

  constructor(
    private readonly index: string,
    private readonly entries: Map<string, NamespaceEntry>,
    private readonly context: ActorContext,
    /** The log's last LSN at activation: every write up to it is applied once `replayed` settles. */
    private readonly recoveredThroughLsn: bigint,
    private readonly replayed: Promise<void>,
  ) {}

  async receive(verb: string, payload: unknown): Promise<unknown> {
    const message = payload as { namespace: string; oldestLsn?: bigint; exists?: boolean };
    switch (verb) {
      case "needsReplay": {
        const entry = this.entries.get(message.namespace);
        if (!entry) return false;
        const needs = entry.needsReplay || entry.oldestUnflushedLsn !== 0n;
        entry.needsReplay = false;
        return needs;
      }
      case "unflushed": {
        const entry = this.entries.get(message.namespace) ?? {
          flushedLsn: 0n,
          oldestUnflushedLsn: 0n,
          mayExist: true,
          needsReplay: false,
        };
        entry.oldestUnflushedLsn = message.oldestLsn ?? 0n;
        entry.mayExist = entry.oldestUnflushedLsn !== 0n || message.exists === true;
        this.entries.set(message.namespace, entry);
        this.scheduleTrim();
        return undefined;
      }
      case "recoveredLsn":
        await this.replayed;
        return this.recoveredThroughLsn;
      case "namespaces":
        return [...this.entries].filter(([, entry]) => entry.mayExist).map(([name]) => name);
      default:
        throw new NeedleError("INTERNAL", `index: unknown verb ${verb}`);
    }
  }

  private scheduleTrim(): void {
    if (this.trimming) {
      this.trimAgain = true;
      return;
    }
    this.trimming = (async () => {
      do {
        this.trimAgain = false;
        // A failed trim deletes nothing it should not (the writer fails closed); the next
        // report retries.
        await this.trim().catch(() => undefined);
      } while (this.trimAgain);
    })().finally(() => {
      this.trimming = undefined;
    });
  }

  /** Lets a running background trim finish (passivation). */
  async passivate(): Promise<void> {
    while (this.trimming) await this.trimming;
  }

  private async trim(): Promise<void> {
    let bound: bigint | undefined;
    for (const entry of this.entries.values()) {
      if (entry.needsReplay) return; // not yet replayed: its records must stay
      if (entry.oldestUnflushedLsn === 0n) continue;
      const below = entry.oldestUnflushedLsn - 1n;
      if (bound === undefined || below < bound) bound = below;
    }
    const writer = address("writer", this.index);
    if (bound === undefined) bound = await this.context.transport.request<bigint>(writer, "lastLsn", {});
    if (bound <= this.trimmedThroughLsn) return;
    await this.context.transport.request(writer, "trim", { throughLsn: bound });
    this.trimmedThroughLsn = bound;
  }
}
