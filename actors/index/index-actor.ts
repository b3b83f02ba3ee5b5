/**
 * The index actor: the namespace registry of one index and the keeper of its log's low-water
 * mark.
 *
 * Activation (numbered steps):
 *   1. Read every namespace manifest: name and flushedLsn.
 *   2. Ask the writer which namespaces have records in the log. A namespace with records above
 *      its flushedLsn needs replay; it is activated now (not awaited: its activation asks us
 *      `activating`, which would deadlock) so its unflushed writes are back in memory.
 *   3. Check the log holds every write a manifest claims: a namespace flushed through an LSN
 *      above the log's last one means the log lost its tail (CORRUPTION naming the index).
 *   3b. Open the index's catalog (storage/namespaces/): per namespace its committed counts and
 *      levels, so stats and listings need not activate namespaces. Where a manifest is newer
 *      than the catalog's entry (a crash between a namespace's manifest commit and its
 *      catalog update, or a data directory from before the catalog), the entry is recomputed
 *      from the manifest; entries without a manifest are dropped. One delta commits the fixes.
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
import { CatalogStore } from "../../storage/namespaces/catalog-store.ts";
import type { CatalogEntry } from "../../storage/namespaces/catalog-table.ts";
import { indexDir, logDir, namespaceKey, namespacesDir, slabKey, slabPrefix } from "../layout.ts";
import { catalogEntryOf } from "../namespace/catalog-entry.ts";
import { countLive, liveFromDeleted } from "../namespace/deletions.ts";
import type { Metric } from "../../storage/types.ts";
import type { RawRecord } from "../writer/writer-actor.ts";
import { warmBuilder } from "../namespace/slab-builder.ts";
import { PackedCompaction } from "./packed-compaction.ts";
import type { ReplaySliceInput } from "./replay-slice.ts";
import { sliceRuns } from "./slice-runs.ts";
import { type PackRequest, Packer, packedSlabIdPattern } from "./packer.ts";
import type { NamespaceManifest } from "../namespace/manifest.ts";
import { type Actor, type ActorContext, address } from "../runtime/mod.ts";

interface NamespaceEntry {
  flushedLsn: bigint;
  /** 0n when clean. */
  oldestUnflushedLsn: bigint;
  mayExist: boolean;
  needsReplay: boolean;
}

/** Trims of the log run at most this often (a trim looks at every namespace). */
const trimIntervalMs = 50;

/** Namespaces replaying their log records at once after a restart. */
const replaysConcurrentMax = 32;

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

/** What a namespace's stats come from: its catalog entry, or asking it (dirty or uncatalogued). */
export interface NamespaceCounts {
  /** Namespaces in the catalog, and the bytes of its in-memory table. */
  catalogSize: number;
  catalogBytes: number;
  /** Packed files the catalog names, and packed compactions since the index activated. */
  packedFiles: number;
  packedCompactions: number;
  /** Clean namespaces: the catalog's committed counts. */
  cataloged: { name: string; records: number; explicit: boolean; levels?: Float64Array }[];
  /** Namespaces with writes only the log or memory holds: their actors must be asked. */
  ask: string[];
}

/** One page of namespaces (see IndexActor.page). */
export interface NamespacePage {
  cataloged: { name: string; records: number }[];
  /** Clean namespaces named `prefix...` that exist, in all. */
  catalogTotal: number;
  ask: string[];
}

export function indexFactory(
  dataDir: string,
  blobs: BlobStore,
  cleanedIndexes: Set<string>,
  configOf: (index: string) => { dimension: number; metric: Metric },
  packedRowsMax: number,
) {
  return async (context: ActorContext): Promise<Actor> => {
    const index = context.self.key;
    const entries = new Map<string, NamespaceEntry>();
    const referencedSlabs = new Set<string>();
    const dir = namespacesDir(dataDir, index);
    const names = await namespaceDirNames(dir);
    const catalog = await CatalogStore.open(join(indexDir(dataDir, index), "catalog"));
    try {
      return await activate();
    } catch (error) {
      await catalog.close();
      throw error;
    }

    async function activate(): Promise<Actor> {
      let flushedLsnMax = 0n;
      const fixes: CatalogEntry[] = [];
      const manifested = new Set<string>();
      for (const name of names) {
        const manifestStore = new ManifestStore<NamespaceManifest>(join(dir, name), "manifest");
        const loaded = await manifestStore.load();
        if (!loaded) continue;
        const body = loaded.body;
        manifested.add(body.namespace);
        if (catalog.table.get(body.namespace)?.manifestVersion !== loaded.version) {
          const file = join(dir, name, "manifest");
          fixes.push(
            catalogEntryOf(body, loaded.version, configOf(index).dimension, (slab) =>
              countLive(liveFromDeleted(slab.deleted, slab.rowCount, file), slab.rowCount),
            ),
          );
        }
        for (const slab of body.slabs) referencedSlabs.add(slab.id);
        if (body.flushedLsn > flushedLsnMax) flushedLsnMax = body.flushedLsn;
        entries.set(body.namespace, {
          flushedLsn: body.flushedLsn,
          oldestUnflushedLsn: 0n,
          mayExist: body.explicit || body.slabs.length > 0,
          needsReplay: false,
        });
      }
      // Packed namespaces (no manifest of their own) get no entry here: the catalog holds
      // their flushed LSN, and an idle tenant must cost no object (storage/namespaces/DESIGN.md).
      const catalogFlushedMax = catalog.table.maxFlushedLsn();
      if (catalogFlushedMax > flushedLsnMax) flushedLsnMax = catalogFlushedMax;
      // Writes above the clean-through mark mean a replay, likely a bulk one: the builder
      // thread starts now, so its start-up overlaps the log scan below.
      if (packedRowsMax > 0) {
        const lastLsn = await context.transport.request<bigint>(address("writer", index), "lastLsn", {});
        if (lastLsn > catalog.table.cleanThroughLsn) warmBuilder();
      }
      const ranges = await context.transport.request<Map<string, { firstLsn: bigint; lastLsn: bigint }>>(
        address("writer", index),
        "namespaces",
        { cleanThroughLsn: catalog.table.cleanThroughLsn },
      );
      // Small namespaces (no manifest, packed or never flushed) with writes above their flushed
      // LSN go to the bulk replay below as columns, with no object each.
      const bulk: BulkReplay = { names: [], flushedLsn: [] };
      for (const [namespace, range] of ranges) {
        if (packedRowsMax > 0 && !entries.has(namespace)) {
          const packed = catalog.table.packedFlushedLsn(namespace);
          if (packed !== undefined && range.lastLsn > packed) {
            bulk.names.push(namespace);
            bulk.flushedLsn.push(packed);
            continue;
          }
        }
        const entry = entries.get(namespace) ?? {
          flushedLsn: catalog.table.get(namespace)?.flushedLsn ?? 0n,
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
      // Step 3b.
      const stale = catalog.table.dedicatedNamespaces().filter((name) => !manifested.has(name));
      if (fixes.length > 0 || stale.length > 0) await catalog.commit({ set: fixes, drop: stale });
      // Step 4.
      // Packed slabs: the next sequence follows every one on disk; those no catalog entry names
      // are a packed flush that crashed before its commit (or one released before a crash).
      const packedNames = new Set(catalog.table.referencedSlabs());
      let nextPackedSequence = 1;
      const listed = await blobs.list(slabPrefix(index));
      for (const key of listed) {
        const packed = packedSlabIdPattern.exec(key.slice(slabPrefix(index).length).replace(/\.slab$/, ""));
        if (packed !== null) nextPackedSequence = Math.max(nextPackedSequence, Number(packed[1]) + 1);
      }
      if (!cleanedIndexes.has(index)) {
        cleanedIndexes.add(index);
        for (const key of listed) {
          const name = key.slice(slabPrefix(index).length);
          const match = slabFileNamePattern.exec(name);
          if (match !== null && !referencedSlabs.has(match[1]!)) await blobs.delete(key);
          const packed = name.replace(/\.slab$/, "");
          if (packedSlabIdPattern.test(packed) && !packedNames.has(packed)) await blobs.delete(key);
        }
      }
      // Dimension and metric never change for an index: taken once, not at each pack (the
      // engine refuses lookups while it closes, and passivation packs then).
      const { dimension, metric } = configOf(index);
      const packer = new Packer(
        index,
        () => dimension,
        () => metric,
        catalog,
        blobs,
        nextPackedSequence,
      );
      // Small namespaces with writes only the log holds are replayed here and packed in bulk,
      // without activating any (decision 4); before this actor answers anything, so no
      // namespace activates meanwhile. The rest (dedicated ones, or grown past packing)
      // replay in their own activation below.
      const pending = [...entries].filter(([, entry]) => entry.needsReplay).map(([namespace]) => namespace);
      const replayedHere = await replaySmall(bulk, { index, context, catalog, blobs, packer, packedRowsMax });
      // What the bulk replay left (grown past packing, or a failed slice) replays on activation.
      bulk.names.forEach((namespace, i) => {
        if (replayedHere.has(namespace)) return;
        const range = ranges.get(namespace)!;
        const flushedLsn = bulk.flushedLsn[i]!;
        entries.set(namespace, {
          flushedLsn,
          oldestUnflushedLsn: flushedLsn + 1n > range.firstLsn ? flushedLsn + 1n : range.firstLsn,
          mayExist: true,
          needsReplay: true,
        });
        pending.push(namespace);
      });
      // The closures below (the replays' promise, the compaction's callbacks) keep this
      // function's scope alive as long as the actor lives: what it held per namespace must not
      // stay with it (100,000 tenants' LSN ranges were 20 MB kept for good).
      ranges.clear();
      bulk.names.length = 0;
      bulk.flushedLsn.length = 0;
      listed.length = 0;
      manifested.clear();
      // Not awaited here: each namespace's activation asks us `activating` (a concurrent verb).
      // At most `replaysConcurrentMax` at a time: a restart after 100,000 tenants wrote must not
      // activate them all at once (each holds memory, and each asks us: our mailbox is bounded).
      const replays = Array.from({ length: Math.min(replaysConcurrentMax, pending.length) }, async () => {
        for (let namespace = pending.pop(); namespace !== undefined; namespace = pending.pop()) {
          await context.transport
            .request(address("namespace", namespaceKey(index, namespace)), "exists", {})
            .catch(() => {});
        }
      });
      const resident = new Map<string, number>();
      const compaction = new PackedCompaction(
        index,
        catalog,
        blobs,
        packer,
        (namespace) => resident.has(namespace),
        (namespace) => entries.has(namespace),
      );
      packer.onCommit = () => compaction.schedule();
      compaction.schedule(); // files left by earlier runs of the process
      return new IndexActor(
        index,
        entries,
        context,
        recoveredThroughLsn,
        Promise.all(replays).then(() => {
          // The writer's records by namespace served these replays; it may let them go.
          // Then give that memory back now rather than at the collector's leisure (a one-off
          // after a crash: the replay held every small tenant's records at once).
          void context.transport
            .request(address("writer", index), "replayed", {})
            .then(() => Bun.gc(true))
            .catch(() => {});
        }),
        catalog,
        packer,
        resident,
        compaction,
      );
    }
  };
}

class IndexActor implements Actor {
  readonly concurrentVerbs = new Set([
    "activating",
    "recoveredLsn",
    "cataloged",
    "counts",
    "page",
    "pack",
    "released",
    "passivated",
    "packedSettled",
  ]);
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
    private readonly catalog: CatalogStore,
    private readonly packer: Packer,
    /** Namespaces with an actor now (activations minus passivations): packed compaction leaves them be. */
    private readonly residentNamespaces: Map<string, number>,
    private readonly compaction: PackedCompaction,
  ) {}

  async receive(verb: string, payload: unknown): Promise<unknown> {
    const message = payload as { namespace: string; oldestLsn?: bigint; exists?: boolean };
    switch (verb) {
      case "activating": {
        // A namespace activating: its catalog entry, and whether it must replay the log. One
        // being moved by packed compaction waits for the move, so it reads its new run.
        this.residentNamespaces.set(
          message.namespace,
          (this.residentNamespaces.get(message.namespace) ?? 0) + 1,
        );
        const move = this.compaction.waitForMove(message.namespace);
        if (move !== undefined) await move;
        const catalogued = this.catalog.table.get(message.namespace);
        const entry = this.entries.get(message.namespace);
        if (!entry) return { needsReplay: false, entry: catalogued };
        const needs = entry.needsReplay || entry.oldestUnflushedLsn !== 0n;
        entry.needsReplay = false;
        return { needsReplay: needs, entry: catalogued };
      }
      case "unflushed": {
        const { beforeWrite } = payload as { beforeWrite?: boolean };
        if (beforeWrite === true && message.oldestLsn !== undefined && message.oldestLsn !== 0n) {
          // Said before a clean namespace's next write: it can only name its flushed LSN + 1
          // (a new tenant: 1), yet that write will be logged above the log's last LSN now, the
          // tighter bound. With thousands of new tenants resident and dirty, the loose one held
          // the whole log untrimmed (300 MB at 1,000,000 tenants, all read back at recovery).
          const last = await this.context.transport.request<bigint>(
            address("writer", this.index),
            "lastLsn",
            {},
          );
          if (last + 1n > message.oldestLsn) message.oldestLsn = last + 1n;
        }
        const entry = this.entries.get(message.namespace) ?? {
          flushedLsn: 0n,
          oldestUnflushedLsn: 0n,
          mayExist: true,
          needsReplay: false,
        };
        entry.oldestUnflushedLsn = message.oldestLsn ?? 0n;
        entry.mayExist = entry.oldestUnflushedLsn !== 0n || message.exists === true;
        if (
          entry.oldestUnflushedLsn === 0n &&
          !entry.needsReplay &&
          this.catalog.table.has(message.namespace)
        ) {
          // Clean and in the catalog: the catalog says all there is; no object per idle tenant.
          this.entries.delete(message.namespace);
        } else {
          this.entries.set(message.namespace, entry);
        }
        this.scheduleTrim();
        return undefined;
      }
      case "recoveredLsn":
        await this.replayed;
        return this.recoveredThroughLsn;
      case "namespaces": {
        // Every namespace that may exist: the catalog's existing ones and those only the log
        // or memory holds so far (entries).
        const names = new Set(
          this.catalog.table
            .listExisting({ limit: Number.MAX_SAFE_INTEGER, skip: new Set() })
            .map((entry) => entry.namespace),
        );
        for (const [name, entry] of this.entries) if (entry.mayExist) names.add(name);
        return [...names];
      }
      case "cataloged": {
        const { entry } = payload as { entry: CatalogEntry };
        const previous = this.catalog.table.get(entry.namespace)?.location;
        await this.catalog.commit({ set: [entry], drop: [] });
        // A graduated namespace's old run: its file may now be named by no entry.
        if (previous?.kind === "packed" && entry.location.kind !== "packed") {
          await this.packer.deleteIfUnused(previous.slab);
        }
        return undefined;
      }
      case "counts":
        return this.counts((payload as { prefix?: string }).prefix ?? "");
      case "page": {
        const { prefix, after, limit } = payload as { prefix: string; after?: string; limit: number };
        return this.page(prefix, after, limit);
      }
      case "pack":
        return this.packer.pack(payload as PackRequest);
      case "passivated": {
        const count = (this.residentNamespaces.get(message.namespace) ?? 1) - 1;
        if (count > 0) this.residentNamespaces.set(message.namespace, count);
        else this.residentNamespaces.delete(message.namespace);
        this.compaction.schedule();
        return undefined;
      }
      case "packedSettled":
        return this.compaction.settled();
      case "released":
        return this.packer.released((payload as { slabId: string }).slabId);
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
      // Reports come in bursts (every namespace's first write and flush): a trim looks at
      // every namespace, so trims run at most every `trimIntervalMs`, not once per report
      // (100,000 tenants writing made that quadratic: a 155 s write phase).
      await Bun.sleep(trimIntervalMs);
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

  /**
   * A snapshot of every namespace named `prefix...`: clean ones from the catalog, the others
   * (writes since their last flush, or records the log holds for them) to be asked. Runs in
   * one synchronous step, so catalog updates and dirty reports are either all before it or
   * after it; a namespace reports clean only after its catalog entry is durable.
   */
  private counts(prefix: string): NamespaceCounts {
    const { dirty, ask } = this.dirtyNamespaces(prefix);
    const cataloged = this.catalog.table
      .listExisting({ prefix, limit: Number.MAX_SAFE_INTEGER, skip: dirty })
      .map((entry) => ({
        name: entry.namespace,
        records: entry.records,
        explicit: entry.explicit,
        ...(entry.levels ? { levels: entry.levels } : {}),
      }));
    return {
      cataloged,
      ask,
      catalogSize: this.catalog.table.size,
      catalogBytes: this.catalog.table.bytes,
      packedFiles: this.catalog.table.referencedSlabs().filter((slab) => slab !== "").length,
      packedCompactions: this.compaction.rounds,
    };
  }

  /**
   * Namespaces named `prefix...` whose catalog entry does not tell their state (writes since
   * their last flush, log records to replay, or none yet), and those of them that may exist:
   * the ones stats and listings must ask.
   */
  private dirtyNamespaces(prefix: string): { dirty: Set<string>; ask: string[] } {
    const ask: string[] = [];
    const dirty = new Set<string>();
    for (const [name, entry] of this.entries) {
      if (!name.startsWith(prefix)) continue;
      if (entry.needsReplay || entry.oldestUnflushedLsn !== 0n || !this.catalog.table.has(name)) {
        dirty.add(name);
        if (entry.mayExist) ask.push(name);
      }
    }
    return { dirty, ask };
  }

  /**
   * One page of `listNamespaces` (what `counts` gives for stats, without materialising every
   * name): from the catalog, the first `limit` existing clean namespaces named `prefix...`
   * after `after`, and how many exist in all; plus every dirty one, to be asked (few).
   */
  private page(prefix: string, after: string | undefined, limit: number): NamespacePage {
    const { dirty, ask } = this.dirtyNamespaces(prefix);
    const table = this.catalog.table;
    let catalogTotal = table.countExisting(prefix);
    for (const name of dirty) {
      const entry = table.get(name);
      if (entry !== undefined && (entry.explicit || entry.records > 0)) catalogTotal--;
    }
    const cataloged = table
      .listExisting({ prefix, after, limit, skip: dirty })
      .map((entry) => ({ name: entry.namespace, records: entry.records }));
    return { cataloged, catalogTotal, ask };
  }

  /** Lets a running background trim finish (passivation), then closes the catalog. */
  async passivate(): Promise<void> {
    await this.compaction.stop();
    await this.packer.settle();
    while (this.trimming) await this.trimming;
    // Remember how far every namespace has flushed, so the next start reads only the log above
    // it (the namespaces were passivated, and flushed, before the index).
    await this.trim().catch(() => undefined);
    if (this.trimmedThroughLsn > this.catalog.table.cleanThroughLsn) {
      await this.catalog
        .commit({ set: [], drop: [], cleanThroughLsn: this.trimmedThroughLsn })
        .catch(() => undefined);
    }
    await this.catalog.close();
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

/** Namespaces for the bulk replay, as columns: names and their flushed LSNs. */
interface BulkReplay {
  names: string[];
  flushedLsn: bigint[];
}

/**
 * Namespaces a bulk replay hands to the builder thread at a time (replay-slice.ts): it decodes
 * and builds one slice while this thread gathers the next, and only a few slices' records are
 * ever held at once (100,000 tenants in one piece held every record decoded: 4 s and 700 MB).
 */
export const bulkReplaySlice = 8_192;

/**
 * Bulk replay (decision 4): each small namespace's run and its log records above its flushed
 * LSN, applied (bulk-replay.ts) and packed together, a slice at a time; returns the namespaces
 * done. One that ends up above `packedRowsMax` is left to replay in its own activation (it
 * graduates).
 */
async function replaySmall(
  bulk: BulkReplay,
  deps: {
    index: string;
    context: ActorContext;
    catalog: CatalogStore;
    blobs: BlobStore;
    packer: Packer;
    packedRowsMax: number;
  },
): Promise<Set<string>> {
  const done = new Set<string>();
  // At most two slices wait on the packer at a time (memory stays a few slices' worth).
  const waiting: Promise<unknown>[] = [];
  for (let start = 0; start < bulk.names.length; start += bulkReplaySlice) {
    const end = start + bulkReplaySlice;
    const slice = await gatherSlice(bulk.names.slice(start, end), bulk.flushedLsn.slice(start, end), deps);
    waiting.push(
      deps.packer.packSlice(slice).then(
        (packed) => {
          for (const namespace of packed) done.add(namespace); // clean and catalogued now
        },
        // A failed slice leaves its namespaces to their own activations' replays.
        () => undefined,
      ),
    );
    if (waiting.length > 2) await waiting.shift();
  }
  await Promise.all(waiting);
  return done;
}

/** A slice's inputs as flat buffers: its log records undecoded, current runs' records packed. */
async function gatherSlice(
  names: string[],
  flushed: bigint[],
  deps: Parameters<typeof replaySmall>[1],
): Promise<Omit<ReplaySliceInput, "header">> {
  const { index, context, catalog, blobs } = deps;
  const logged = await context.transport.request<Map<string, RawRecord[]>>(
    address("writer", index),
    "replayMany",
    { namespaces: names.map((namespace, i) => ({ namespace, afterLsn: flushed[i]! })) },
  );
  const { explicit, runs } = await sliceRuns(names, catalog.table, (slab) =>
    blobs.localPath(slabKey(index, slab)),
  );
  let records = 0;
  let bytes = 0;
  for (const namespace of names) {
    for (const record of logged.get(namespace) ?? []) {
      records++;
      bytes += record.bytes.byteLength;
    }
  }
  const log = new Uint8Array(bytes);
  const spans = new Uint32Array(records * 3);
  const lsns = new BigUint64Array(records);
  let offset = 0;
  let record = 0;
  names.forEach((namespace, i) => {
    for (const raw of logged.get(namespace) ?? []) {
      log.set(raw.bytes, offset);
      spans[record * 3] = i;
      spans[record * 3 + 1] = offset;
      spans[record * 3 + 2] = raw.bytes.byteLength;
      lsns[record] = raw.lsn;
      offset += raw.bytes.byteLength;
      record++;
    }
  });
  return {
    packedRowsMax: deps.packedRowsMax,
    names,
    explicit,
    // The LSNs the log was read above (replayMany), not a second look at the catalog.
    flushedLsn: BigUint64Array.from(flushed),
    baseRuns: runs,
    log,
    spans,
    lsns,
  };
}
