/**
 * The durable catalog of an index's namespaces (DESIGN.md decision 2): a checkpoint plus a
 * journal of deltas.
 *
 *   <dir>/checkpoint.<version>   ManifestStore "checkpoint": every entry, columnar, and the
 *                                journal LSN it includes (`throughLsn`)
 *   <dir>/journal/               a RequestLog (storage/log): one record per committed delta
 *
 * Invariants:
 *   1. A delta is applied to the in-memory table only after its journal record is durable, so
 *      the table never shows what a crash would lose.
 *   2. The state is checkpoint + every journal record above `throughLsn`, in LSN order; the
 *      journal is trimmed only through a checkpoint's `throughLsn`, after that checkpoint is
 *      committed.
 *   3. Damage is the request log's and the manifest store's rules: a torn journal tail is cut,
 *      anything else is CORRUPTION naming the file; a record whose checksum holds but whose
 *      body is not a delta is CORRUPTION naming the journal.
 * Commits run one at a time (the caller, the index's packer, serialises them); `commit` of N
 * namespaces costs one append and one fsync.
 */
import { join } from "node:path";
import { corruption } from "../errors.ts";
import { RequestLog } from "../log/mod.ts";
import { ManifestStore, manifestFileName, manifestPackr } from "../manifest/mod.ts";
import {
  type CatalogColumns,
  type CatalogEntry,
  type CatalogLocation,
  CatalogTable,
} from "./catalog-table.ts";

export interface CatalogDelta {
  /** Entries added or replaced. */
  set: CatalogEntry[];
  /** Namespaces removed (deleteNamespace). */
  drop: string[];
  /** A new clean-through LSN for the table (CatalogTable.cleanThroughLsn); never lowers it. */
  cleanThroughLsn?: bigint;
}

/**
 * The checkpoint body: the entries as columns (CatalogColumns), loaded straight into the
 * table's arrays. Checkpoints written before the columnar names carry `names` (one string per
 * entry) instead of `nameBytes`/`nameLengths`/`nameHashes`, and still load (entry by entry).
 */
type CheckpointBody = Partial<CatalogColumns> &
  Omit<CatalogColumns, "nameBytes" | "nameLengths" | "nameHashes"> & {
    throughLsn: bigint;
    /** Absent in checkpoints written before it was kept. */
    cleanThroughLsn?: bigint;
    /** Older checkpoints: the names, one string each. */
    names?: string[];
  };

/**
 * A checkpoint is about 52 bytes per namespace plus its name: a manifest's 64 MiB would stop
 * at about 1.2 million namespaces; 2 GiB holds tens of millions.
 */
const checkpointBytesMax = 2 * 1024 * 1024 * 1024;

/** Segments of the journal: small, so a checkpoint's trim gives the space back soon. */
const journalSegmentBytes = 4 * 1024 * 1024;

/**
 * A checkpoint is written (in the background) once the journal holds this many deltas since
 * the last: reopening then decodes one columnar file instead of every delta (100,000 tenants
 * packed over hundreds of deltas took 1.2 s to reopen), and the journal is trimmed.
 */
export const checkpointEveryRecords = 256;
/**
 * ...or once its deltas name this many entries and at least half as many as the table holds
 * (a recovery packs 100,000 tenants in a dozen deltas: a checkpoint or two, not one per delta;
 * checkpoints stay O(entries changed) amortised).
 */
export const checkpointEveryEntries = 16_384;
/** A clean close checkpoints when the journal names more entries than this since the last. */
export const checkpointAtCloseEntries = 4_096;

export class CatalogStore {
  private readonly inFlight = new Set<Promise<void>>();
  private checkpointing: Promise<void> | undefined;
  /** Entries named by the journal's deltas since the last checkpoint (approximate after open). */
  private journalEntries = 0;

  private constructor(
    readonly table: CatalogTable,
    private journal: RequestLog,
    private readonly checkpoints: ManifestStore<CheckpointBody>,
    private checkpointLsn: bigint,
    private readonly journalDir: string,
  ) {}

  static async open(dir: string): Promise<CatalogStore> {
    const checkpoints = new ManifestStore<CheckpointBody>(dir, "checkpoint", checkpointBytesMax);
    const journalDir = join(dir, "journal");
    const journal = await RequestLog.open({ dir: journalDir, segmentBytesMax: journalSegmentBytes });
    try {
      const table = new CatalogTable();
      const loaded = await checkpoints.load();
      const throughLsn = loaded?.body.throughLsn ?? 0n;
      if (loaded)
        loadCheckpoint(table, loaded.body, join(dir, manifestFileName("checkpoint", loaded.version)));
      await journal.replay(throughLsn, (lsn, payload) => {
        applyDelta(table, decodeDelta(payload, journalDir, lsn));
      });
      return new CatalogStore(table, journal, checkpoints, throughLsn, journalDir);
    } catch (error) {
      await journal.close();
      throw error;
    }
  }

  /**
   * Makes the delta durable (one append, one fsync), then applies it to the table. After an
   * I/O error the journal refuses appends until reopened (the request log's fail-stop rule,
   * storage/DESIGN.md): the next commit reopens it, which cuts the failed batch off; that
   * delta was never applied here, so the table still equals what is durable.
   */
  async commit(delta: CatalogDelta): Promise<void> {
    if (this.journal.failed) {
      await this.journal.close().catch(() => undefined);
      this.journal = await RequestLog.open({ dir: this.journalDir, segmentBytesMax: journalSegmentBytes });
    }
    const appended = this.journal.append(manifestPackr.pack(delta)).then(() => applyDelta(this.table, delta));
    this.inFlight.add(appended);
    try {
      await appended;
    } finally {
      this.inFlight.delete(appended);
    }
    this.journalEntries += delta.set.length + delta.drop.length;
    const due =
      this.journalRecords >= checkpointEveryRecords ||
      this.journalEntries >= Math.max(checkpointEveryEntries, this.table.size / 2);
    if (due && this.checkpointing === undefined) {
      // In the background: a failed checkpoint changes nothing (the journal still holds it all).
      this.checkpointing = this.checkpoint()
        .catch(() => undefined)
        .finally(() => {
          this.checkpointing = undefined;
        });
    }
  }

  /** Journal records not yet folded into a checkpoint. */
  get journalRecords(): bigint {
    return this.journal.lastLsn - this.checkpointLsn;
  }

  /** Writes every entry as a new checkpoint, then trims the journal it includes. */
  async checkpoint(): Promise<void> {
    // The snapshot must hold every delta through `throughLsn`: wait until no append is
    // between its fsync and its apply, then take both in one synchronous step.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const throughLsn = this.journal.lastLsn;
    const entriesBefore = this.journalEntries;
    await this.checkpoints.commit(checkpointOf(this.table, throughLsn));
    this.checkpointLsn = throughLsn;
    this.journalEntries = Math.max(0, this.journalEntries - entriesBefore);
    await this.journal.trimThrough(throughLsn);
  }

  get directory(): string {
    return this.journalDir;
  }

  /**
   * Closes; after a clean run whose deltas named many entries, writes a checkpoint first, so
   * the next open reads one columnar file instead of decoding delta after delta (100,000
   * tenants left in 11 deltas took 0.7 s to reopen). A failed checkpoint changes nothing.
   */
  async close(): Promise<void> {
    await this.checkpointing;
    if (this.journalEntries > checkpointAtCloseEntries && !this.journal.failed)
      await this.checkpoint().catch(() => undefined);
    await this.journal.close();
  }
}

function applyDelta(table: CatalogTable, delta: CatalogDelta): void {
  for (const entry of delta.set) table.set(entry);
  for (const namespace of delta.drop) table.delete(namespace);
  if (delta.cleanThroughLsn !== undefined && delta.cleanThroughLsn > table.cleanThroughLsn) {
    table.cleanThroughLsn = delta.cleanThroughLsn;
  }
}

function checkpointOf(table: CatalogTable, throughLsn: bigint): CheckpointBody {
  return { throughLsn, cleanThroughLsn: table.cleanThroughLsn, ...table.columns() };
}

/** Loads a checkpoint into an empty table; CORRUPTION naming the file when its columns disagree. */
function loadCheckpoint(table: CatalogTable, body: CheckpointBody, file: string): void {
  table.cleanThroughLsn = body.cleanThroughLsn ?? 0n;
  if (body.nameBytes === undefined || body.nameLengths === undefined || body.nameHashes === undefined) {
    fillFromCheckpoint(table, body);
    return;
  }
  const problem = table.loadColumns(body as CatalogColumns);
  if (problem !== undefined) throw corruption(file, `catalog checkpoint: ${problem}`);
}

/** An older checkpoint (names as strings), entry by entry. */
function fillFromCheckpoint(table: CatalogTable, body: CheckpointBody): void {
  const deleted = new Map<number, Uint8Array>();
  body.deletedAt.forEach((at, i) => {
    deleted.set(at, body.deleted[i]!);
  });
  const levels = new Map<number, Float64Array>();
  body.levelsAt.forEach((at, i) => {
    levels.set(at, body.levels[i]!);
  });
  (body.names ?? []).forEach((namespace, at) => {
    const slab = body.slab[at]!;
    const location: CatalogLocation =
      slab < 0
        ? { kind: "dedicated" }
        : {
            kind: "packed",
            slab: body.slabs[slab]!,
            runStart: body.runStart[at]!,
            runLength: body.runLength[at]!,
            ...(deleted.has(at) ? { deleted: deleted.get(at)! } : {}),
          };
    table.set({
      namespace,
      explicit: body.explicit[at] === 1,
      flushedLsn: body.flushedLsn[at]!,
      records: body.records[at]!,
      location,
      manifestVersion: body.manifestVersion[at]!,
      ...(levels.has(at) ? { levels: levels.get(at)! } : {}),
    });
  });
}

/** A journal record's body, checked field by field: the checksum says whole, not well formed. */
export function decodeDelta(payload: Uint8Array, journal: string, lsn: bigint): CatalogDelta {
  const fail = (why: string): never => {
    throw corruption(journal, `catalog journal record ${lsn}: ${why}`);
  };
  let value: unknown;
  try {
    value = manifestPackr.unpack(payload);
  } catch (error) {
    return fail(`not msgpack (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null) return fail("not a delta object");
  const { set, drop, cleanThroughLsn } = value as Record<string, unknown>;
  if (!Array.isArray(set) || !Array.isArray(drop)) return fail("set and drop must be arrays");
  if (cleanThroughLsn !== undefined && (typeof cleanThroughLsn !== "bigint" || cleanThroughLsn < 0n))
    fail("cleanThroughLsn is not a non-negative 64-bit integer");
  for (const name of drop) if (typeof name !== "string") fail("a dropped namespace is not a string");
  for (const entry of set) checkEntry(entry, fail);
  return {
    set: set as CatalogEntry[],
    drop: drop as string[],
    ...(cleanThroughLsn === undefined ? {} : { cleanThroughLsn: cleanThroughLsn as bigint }),
  };
}

function checkEntry(entry: unknown, fail: (why: string) => never): void {
  if (typeof entry !== "object" || entry === null) fail("an entry is not an object");
  const { namespace, explicit, flushedLsn, records, location, manifestVersion, levels } = entry as Record<
    string,
    unknown
  >;
  if (typeof namespace !== "string") fail("an entry's namespace is not a string");
  if (typeof explicit !== "boolean") fail(`entry ${String(namespace)}: explicit is not a boolean`);
  if (typeof flushedLsn !== "bigint" || flushedLsn < 0n) fail(`entry ${String(namespace)}: bad flushedLsn`);
  if (typeof records !== "number" || !Number.isInteger(records) || records < 0)
    fail(`entry ${String(namespace)}: bad record count`);
  if (typeof manifestVersion !== "number" || !Number.isInteger(manifestVersion) || manifestVersion < 0)
    fail(`entry ${String(namespace)}: bad manifestVersion`);
  if (levels !== undefined && !(levels instanceof Float64Array && levels.length % 5 === 0))
    fail(`entry ${String(namespace)}: bad level stats`);
  if (typeof location !== "object" || location === null) fail(`entry ${String(namespace)}: no location`);
  const { kind, slab, runStart, runLength, deleted } = location as Record<string, unknown>;
  if (kind === "dedicated") return;
  if (kind !== "packed") fail(`entry ${String(namespace)}: unknown location ${String(kind)}`);
  const isCount = (value: unknown) =>
    typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
  if (typeof slab !== "string" || !isCount(runStart) || !isCount(runLength))
    fail(`entry ${String(namespace)}: bad packed location`);
  if (deleted !== undefined && !(deleted instanceof Uint8Array))
    fail(`entry ${String(namespace)}: bad deleted rows`);
}
