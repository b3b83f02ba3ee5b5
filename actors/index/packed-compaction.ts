/**
 * Packed-slab compaction (storage/namespaces/DESIGN.md decision 6 and build step 7): tenants
 * that flush at different times leave many packed files, each holding few live runs (every
 * packed flush writes a new file, and a namespace's old run dies when it moves). This merges
 * them: files whose live rows are under half their rows, or under `smallFileRows`, have the
 * runs of their idle namespaces rewritten together into one new file, committed as one catalog
 * delta; the old files go once no entry names them. File count then follows tenant count
 * (about one file per `compactionRowsMax` rows of small tenants), not flush count.
 *
 * Only idle namespaces move: a resident one holds its run in its state and releases it when
 * its own next flush moves it (actors/index/packer.ts); moving it under its feet would leave
 * it reading a file the catalog no longer names. The index knows who is resident (each
 * activation asks it `activating`, each passivation tells it `passivated`). A namespace being
 * moved answers its activation only after the move commits (`waitForMove`).
 *
 * Invariants:
 *   1. A compaction changes no namespace's contents, flushed LSN or explicit flag: only where
 *      its rows are.
 *   2. A round that could not reduce the file count (fewer than two files with a movable
 *      namespace, and none mostly dead) does nothing: rounds never rewrite the same runs in a
 *      loop.
 */
import type { BlobStore } from "../../storage/blob/mod.ts";
import type { CatalogStore } from "../../storage/namespaces/catalog-store.ts";
import { slabKey } from "../layout.ts";
import { acquireReader, releaseReader } from "../slab/shared-readers.ts";
import type { Packer } from "./packer.ts";
import { sliceRuns } from "./slice-runs.ts";

/** A file with fewer live rows than this is small: merged with other small ones. */
export const smallFileRows = 4_096;
/** A file with live rows under this share of its rows is mostly dead: rewritten. */
export const deadShareMin = 0.5;
/** Live rows one compaction writes at most (one output file). */
export const compactionRowsMax = 65_536;
/** A round starts this long after the commit or passivation that asked for it (bursts: one round). */
export const compactionDelayMs = 200;
/**
 * Files from before a restart whose row count a round reads from their header, at most: a
 * restart with 2,834 packed files (1,000,000 tenants) opened every one of them in the first
 * round, in the middle of the first queries. The rest wait for later rounds; small files need
 * no count (their live rows decide).
 */
export const headerReadsPerRound = 16;

/** A round's move: who withdrew while the file was built, and the commit once it runs. */
interface Move {
  withdrawn: Set<string>;
  committing?: Promise<void>;
}

interface Candidate {
  slab: string;
  live: number;
  dead: boolean;
  movable: string[];
}

export class PackedCompaction {
  /** Namespaces being moved now, and their move. */
  private readonly moving = new Map<string, Move>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Rounds that moved something (stats, tests). */
  rounds = 0;

  constructor(
    private readonly index: string,
    private readonly catalog: CatalogStore,
    private readonly blobs: BlobStore,
    private readonly packer: Packer,
    /** Namespaces with an actor now: never moved. */
    private readonly isResident: (namespace: string) => boolean,
    /** Namespaces with writes not yet flushed (their entry is behind the log): never moved. */
    private readonly isDirty: (namespace: string) => boolean,
  ) {}

  /** Asks for a round soon (after a commit, a passivation, an activation of the index). */
  schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running !== undefined) {
        this.schedule(); // after the running round
        return;
      }
      this.running = this.runRounds().finally(() => {
        this.running = undefined;
      });
    }, compactionDelayMs);
    this.timer.unref?.();
  }

  /** Resolves once no round runs or is scheduled (tests; the index's passivation). */
  async settled(): Promise<void> {
    while (this.timer !== undefined || this.running !== undefined) {
      if (this.running !== undefined) await this.running;
      else await Bun.sleep(compactionDelayMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * An activation of a namespace being moved: while the new file is being built, the
   * namespace is taken out of the move (it keeps its old run; the copy in the new file is
   * dead on arrival) and need not wait; once the move is committing (one catalog append), it
   * waits for that, so it reads whichever run the catalog ends up naming.
   */
  waitForMove(namespace: string): Promise<void> | undefined {
    const move = this.moving.get(namespace);
    if (move === undefined) return undefined;
    if (move.committing !== undefined) return move.committing;
    this.moving.delete(namespace);
    move.withdrawn.add(namespace);
    return undefined;
  }

  private async runRounds(): Promise<void> {
    // A failed round changes nothing durable (put before commit; an orphan file is removed at
    // the next activation); the next commit asks again.
    while (!this.stopped && (await this.round().catch(() => false))) this.rounds++;
  }

  /** One compaction; false when there was nothing worth doing. */
  private async round(): Promise<boolean> {
    const chosen = this.choose(await this.candidates());
    if (chosen.length === 0) return false;
    const names = chosen.flatMap((candidate) => candidate.movable);
    const move: Move = { withdrawn: new Set() };
    let committed!: () => void;
    const done = new Promise<void>((resolve) => {
      committed = resolve;
    });
    for (const namespace of names) this.moving.set(namespace, move);
    try {
      // The builder thread reads the runs itself: per namespace its file and rows.
      const { explicit, flushedLsn, runs } = await sliceRuns(names, this.catalog.table, (slab) =>
        this.blobs.localPath(slabKey(this.index, slab)),
      );
      await this.packer.packSlice(
        {
          packedRowsMax: Number.MAX_SAFE_INTEGER,
          names,
          explicit,
          flushedLsn,
          baseRuns: runs,
          log: new Uint8Array(0),
          spans: new Uint32Array(0),
          lsns: new BigUint64Array(0),
        },
        {
          moved: true,
          // Right before the commit: activations from now on wait for it; those that came
          // during the build keep their old runs (and a stopping index commits nothing).
          beforeCommit: () => {
            move.committing = done;
            if (this.stopped) for (const namespace of names) move.withdrawn.add(namespace);
            return move.withdrawn;
          },
        },
      );
    } finally {
      for (const namespace of names) if (this.moving.get(namespace) === move) this.moving.delete(namespace);
      committed();
    }
    return true;
  }

  /** Files worth compacting, each with the namespaces that may move now. */
  private async candidates(): Promise<Candidate[]> {
    const table = this.catalog.table;
    const found = new Map<string, Candidate>();
    let headerReads = 0;
    for (const slab of table.referencedSlabs()) {
      if (slab === "") continue;
      const live = table.slabLiveRows(slab);
      let rows = this.packer.fileRows.get(slab);
      if (rows === undefined && live >= smallFileRows && headerReads < headerReadsPerRound) {
        headerReads++;
        rows = await this.fileRows(slab);
      }
      const dead = rows !== undefined && rows > 0 && live < rows * deadShareMin;
      if (dead || live < smallFileRows) found.set(slab, { slab, live, dead, movable: [] });
    }
    if (found.size === 0) return [];
    for (const namespace of table.namespacesIn(new Set(found.keys()))) {
      if (this.isResident(namespace) || this.isDirty(namespace) || this.moving.has(namespace)) continue;
      const location = table.get(namespace)!.location;
      if (location.kind === "packed") found.get(location.slab)?.movable.push(namespace);
    }
    return [...found.values()].filter((candidate) => candidate.movable.length > 0);
  }

  /** Invariant 2: the smallest files up to `compactionRowsMax` rows, if that saves a file. */
  private choose(candidates: Candidate[]): Candidate[] {
    candidates.sort((a, b) => a.live - b.live);
    const chosen: Candidate[] = [];
    let rows = 0;
    for (const candidate of candidates) {
      if (chosen.length > 0 && rows + candidate.live > compactionRowsMax) break;
      chosen.push(candidate);
      rows += candidate.live;
    }
    return chosen.length >= 2 || chosen.some((candidate) => candidate.dead) ? chosen : [];
  }

  /** A packed file's rows: known for the files this process wrote, else from its header. */
  private async fileRows(slab: string): Promise<number> {
    const known = this.packer.fileRows.get(slab);
    if (known !== undefined) return known;
    const path = await this.blobs.localPath(slabKey(this.index, slab));
    try {
      const rows = acquireReader(path).info.rowCount;
      this.packer.fileRows.set(slab, rows);
      return rows;
    } finally {
      releaseReader(path);
    }
  }
}
