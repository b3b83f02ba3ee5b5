/**
 * The index actor: the namespace registry of one index and the keeper of its log's low-water
 * mark.
 *
 * Activation (numbered steps):
 *   1. Read every namespace manifest: name and flushedLsn.
 *   2. Ask the writer which namespaces have records in the log. A namespace with records above
 *      its flushedLsn needs replay; it is activated now (not awaited: its activation asks us
 *      `needsReplay`, which would deadlock) so its unflushed writes are back in memory.
 *   3. On the first activation in a process, delete slab files no manifest names (a flush that
 *      crashed between writing its slab and committing its manifest).
 *
 * Trimming: namespaces report their oldest unflushed LSN; the log is trimmed through
 * (minimum of those) - 1, or through its last LSN when every namespace is clean.
 *
 * Invariant: the log is never trimmed past a record some namespace has not flushed.
 */
import { NeedleError } from "../../storage/errors.ts";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore } from "../../storage/blob/mod.ts";
import { ManifestStore } from "../../storage/manifest/mod.ts";
import { namespaceKey, namespacesDir, slabPrefix } from "../layout.ts";
import type { NamespaceManifest } from "../namespace/manifest.ts";
import { type Actor, type ActorContext, address } from "../runtime/mod.ts";

interface NamespaceEntry {
  flushedLsn: bigint;
  /** 0n when clean. */
  oldestUnflushedLsn: bigint;
  mayExist: boolean;
  needsReplay: boolean;
}

export function indexFactory(dataDir: string, blobs: BlobStore, cleanedIndexes: Set<string>) {
  return async (context: ActorContext): Promise<Actor> => {
    const index = context.self.key;
    const entries = new Map<string, NamespaceEntry>();
    const referencedSlabs = new Set<string>();
    const dir = namespacesDir(dataDir, index);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const loaded = await new ManifestStore<NamespaceManifest>(join(dir, name), "manifest").load();
      if (!loaded) continue;
      const body = loaded.body;
      for (const slab of body.slabs) referencedSlabs.add(slab.id);
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
    if (!cleanedIndexes.has(index)) {
      cleanedIndexes.add(index);
      for (const key of await blobs.list(slabPrefix(index))) {
        const slabId = key.slice(slabPrefix(index).length).replace(/\.slab$/, "");
        if (!referencedSlabs.has(slabId)) await blobs.delete(key);
      }
    }
    const recoveredThroughLsn = await context.transport.request<bigint>(
      address("writer", index),
      "lastLsn",
      {},
    );
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
        await this.trim();
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
