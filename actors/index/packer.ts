/**
 * The packer (storage/namespaces/DESIGN.md decisions 5 and 6): writes the flushes of many
 * small namespaces as one packed slab and one catalog delta.
 *
 * Steps of a packed flush (one batch):
 *   1. Collect: namespaces hand in their whole live contents (old run + frozen memtable); the
 *      batch closes after `packDelayMs` or at `packBytesMax`.
 *   2. Build: one slab of every record under its composite key `<namespace> NUL <id>`, sorted,
 *      so each namespace's rows are one run (on the slab-builder thread). A batch's build
 *      starts as soon as it closes, so it overlaps the previous batch's put and commit (a
 *      recovery packing 100,000 tenants slice by slice keeps both threads busy).
 *   3. Put the slab (durable before step 4). A crash now leaves an orphan, removed at the next
 *      activation (no catalog entry names it).
 *   4. Commit one catalog delta: every namespace of the batch points at its new run with its
 *      flushed LSN. This is the commit point for all of them at once.
 *   5. Answer each namespace with its run; it swaps, and releases its old run once its reads
 *      are over. A packed slab is deleted when no catalog entry names it and every namespace
 *      that moved off it has released it.
 * Invariant: a packed slab named by the catalog exists; one not named is never read again
 * once its releases are in.
 */
import type { BlobStore } from "../../storage/blob/mod.ts";
import type { CatalogStore } from "../../storage/namespaces/catalog-store.ts";
import type { CatalogEntry } from "../../storage/namespaces/catalog-table.ts";
import { packedKey, packedSlabNamespace } from "../../storage/namespaces/packed-keys.ts";
import { compareIds } from "../../storage/slab/ids.ts";
import type { Metric, VectorRecord } from "../../storage/types.ts";
import { slabKey } from "../layout.ts";
import { jobFromRecords } from "../namespace/slab-build-job.ts";
import { buildReplaySlice, buildSlab } from "../namespace/slab-builder.ts";
import type { ReplaySliceInput } from "./replay-slice.ts";

/** A batch closes this long after its first hand-off, so concurrent flushes share a file. */
export const packDelayMs = 5;
/** ...or once it holds this many bytes of vectors. */
export const packBytesMax = 64 * 1024 * 1024;
/** Packed slab ids: a fixed 32-hex prefix no namespace directory hash takes, and a sequence. */
export const packedSlabPrefix = "0000000000000000000000000000pack";
export const packedSlabIdPattern = /^0000000000000000000000000000pack-(\d{8})$/;

export interface PackRequest {
  namespace: string;
  /** The namespace's live records (ids unique). */
  records: VectorRecord[];
  explicit: boolean;
  /** Every write at or below it is in `records`. */
  flushedLsn: bigint;
  minLsn: bigint;
  maxLsn: bigint;
}

export interface PackAnswer {
  /** The packed slab holding the run; "" when the namespace has no rows. */
  slabId: string;
  runLength: number;
  bytes: number;
}

/** A batch's slab, built (absent when no namespace of the batch has rows). */
interface Built {
  slabId: string;
  rows: number;
  runStarts: Map<string, number>;
  file?: Uint8Array;
}

/** A namespace's catalog entry after a packed flush: its run (none when it has no rows). */
function packedEntry(
  namespace: string,
  explicit: boolean,
  flushedLsn: bigint,
  slabId: string,
  runStart: number,
  runLength: number,
): CatalogEntry {
  return {
    namespace,
    explicit,
    flushedLsn,
    records: runLength,
    location: { kind: "packed", slab: runLength > 0 ? slabId : "", runStart, runLength },
    manifestVersion: 0,
  };
}

interface Waiting {
  request: PackRequest;
  resolve: (answer: PackAnswer) => void;
  reject: (error: unknown) => void;
}

export class Packer {
  private batch: Waiting[] = [];
  private batchBytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Batches put and commit one at a time, in order (their builds may run ahead). */
  private tail: Promise<void> = Promise.resolve();
  /** Per packed slab: namespaces that moved off it and have not released it yet. */
  private readonly unreleased = new Map<string, number>();
  /** Rows of the packed files this packer wrote (packed compaction's dead-share measure). */
  readonly fileRows = new Map<string, number>();
  /** Called after every batch's commit (packed compaction looks for files to merge). */
  onCommit: () => void = () => {};

  constructor(
    private readonly index: string,
    private readonly dimension: () => number,
    private readonly metric: () => Metric,
    private readonly catalog: CatalogStore,
    private readonly blobs: BlobStore,
    private nextSequence: number,
  ) {}

  pack(request: PackRequest): Promise<PackAnswer> {
    return new Promise((resolve, reject) => {
      this.batch.push({ request, resolve, reject });
      this.batchBytes += request.records.length * (this.dimension() * 4 + 64);
      if (this.batchBytes >= packBytesMax) this.close();
      else if (this.timer === undefined) this.timer = setTimeout(() => this.close(), packDelayMs);
    });
  }

  /** A namespace no longer reads its old run of `slabId` (its reads begun before the move ended). */
  released(slabId: string): Promise<void> {
    const left = (this.unreleased.get(slabId) ?? 1) - 1;
    if (left > 0) this.unreleased.set(slabId, left);
    else this.unreleased.delete(slabId);
    return this.deleteIfUnused(slabId);
  }

  /** Waits for every batch handed in so far. */
  async settle(): Promise<void> {
    if (this.batch.length > 0) this.close();
    await this.tail;
  }

  /** Closes the batch now rather than at its timer (a bulk replay's slice is one batch). */
  closeBatch(): void {
    this.close();
  }

  private close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length === 0) return;
    const requests = batch.map((waiting) => waiting.request);
    let built: Promise<Built>;
    try {
      built = this.build(requests);
    } catch (error) {
      built = Promise.reject(error);
    }
    // Settled here too, so a failed build is never an unhandled rejection while it waits.
    built.catch(() => undefined);
    this.tail = this.tail.then(() => this.write(batch, requests, built));
  }

  private async write(batch: Waiting[], requests: PackRequest[], built: Promise<Built>): Promise<void> {
    try {
      const answers = await this.commit(requests, await built);
      batch.forEach((waiting, i) => {
        waiting.resolve(answers[i]!);
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }

  /** Step 2 for one batch: the rows sorted into runs, and the slab's bytes (started now). */
  private build(requests: PackRequest[]): Promise<Built> {
    // The same namespace twice in a batch cannot happen (a namespace flushes one at a time).
    const keyed: { key: string; record: VectorRecord }[] = [];
    for (const request of requests) {
      for (const record of request.records)
        keyed.push({ key: packedKey(request.namespace, record.id), record });
    }
    keyed.sort((a, b) => compareIds(a.key, b.key));
    const slabId = this.nextSlabId();
    const runStarts = new Map<string, number>();
    keyed.forEach(({ key }, row) => {
      const namespace = key.slice(0, key.indexOf("\u0000"));
      if (!runStarts.has(namespace)) runStarts.set(namespace, row);
    });
    if (keyed.length === 0) return Promise.resolve({ slabId, rows: 0, runStarts });
    let minLsn = requests[0]!.minLsn;
    let maxLsn = 0n;
    for (const request of requests) {
      if (request.minLsn < minLsn) minLsn = request.minLsn;
      if (request.maxLsn > maxLsn) maxLsn = request.maxLsn;
    }
    const job = jobFromRecords(
      keyed.map(({ record }) => record),
      {
        slabId,
        namespace: packedSlabNamespace,
        level: 0,
        dim: this.dimension(),
        metric: this.metric(),
        minLsn,
        maxLsn,
        sourceSlabs: [],
      },
      keyed.map(({ key }) => key),
    );
    return buildSlab(job).then((file) => ({ slabId, rows: keyed.length, runStarts, file }));
  }

  /** Steps 3 and 4 for one batch, in batch order; the answers in request order. */
  private async commit(requests: PackRequest[], built: Built): Promise<PackAnswer[]> {
    const { slabId, rows, runStarts, file } = built;
    const bytes = file?.byteLength ?? 0;
    const entries: CatalogEntry[] = requests.map((request) =>
      packedEntry(
        request.namespace,
        request.explicit,
        request.flushedLsn,
        slabId,
        runStarts.get(request.namespace) ?? 0,
        request.records.length,
      ),
    );
    await this.commitBatch(slabId, file, entries, rows);
    return requests.map((request) => ({
      slabId: request.records.length > 0 ? slabId : "",
      runLength: request.records.length,
      bytes: request.records.length > 0 ? Math.ceil((bytes * request.records.length) / rows) : 0,
    }));
  }

  /**
   * Steps 3 and 4: put the slab (if any), commit the entries, count the runs they leave. The
   * namespaces of a `moved` batch (packed compaction) are idle: none will release its old run,
   * so none is counted, and the files they left are deleted once no entry names them.
   */
  private async commitBatch(
    slabId: string,
    file: Uint8Array | undefined,
    entries: CatalogEntry[],
    rows: number,
    moved = false,
  ) {
    if (file !== undefined) await this.blobs.put(slabKey(this.index, slabId), file);
    const previous = entries.map((entry) => this.catalog.table.get(entry.namespace));
    await this.catalog.commit({ set: entries, drop: [] });
    if (file !== undefined) this.fileRows.set(slabId, rows);
    const left = new Set<string>();
    for (const entry of previous) {
      if (entry?.location.kind !== "packed" || entry.location.slab === "") continue;
      left.add(entry.location.slab);
      if (!moved)
        this.unreleased.set(entry.location.slab, (this.unreleased.get(entry.location.slab) ?? 0) + 1);
    }
    if (moved) for (const slab of left) await this.deleteIfUnused(slab);
    this.onCommit();
  }

  /**
   * A bulk replay's slice (replay-slice.ts): decoded, applied and built on the builder thread
   * as a batch of its own, then put and committed in order with every other batch. Resolves
   * with the namespaces packed; the others grew past packing (they replay on activation).
   */
  packSlice(
    slice: Omit<ReplaySliceInput, "header">,
    options: {
      moved?: boolean;
      /** Called right before the commit; the namespaces it returns are left out of it. */
      beforeCommit?: () => ReadonlySet<string>;
    } = {},
  ): Promise<string[]> {
    this.close(); // a batch already collecting goes first
    const slabId = this.nextSlabId();
    const built = buildReplaySlice({
      ...slice,
      header: {
        slabId,
        namespace: packedSlabNamespace,
        level: 0,
        dim: this.dimension(),
        metric: this.metric(),
        minLsn: 1n,
        maxLsn: 1n,
        sourceSlabs: [],
      },
    });
    built.catch(() => undefined);
    const names = slice.names;
    const packed = this.tail.then(async () => {
      const output = await built;
      const leftOut = options.beforeCommit?.() ?? new Set<string>();
      const entries: CatalogEntry[] = [];
      names.forEach((namespace, i) => {
        if (output.skipped[i] === 1 || leftOut.has(namespace)) return;
        entries.push(
          packedEntry(
            namespace,
            output.explicit[i] === 1,
            output.flushedLsn[i]!,
            slabId,
            output.runStart[i]!,
            output.runLength[i]!,
          ),
        );
      });
      await this.commitBatch(
        slabId,
        output.file,
        entries,
        output.runLength.reduce((rows, length) => rows + length, 0),
        options.moved,
      );
      return entries.map((entry) => entry.namespace);
    });
    this.tail = packed.then(
      () => undefined,
      () => undefined,
    );
    return packed;
  }

  private nextSlabId(): string {
    return `${packedSlabPrefix}-${String(this.nextSequence++).padStart(8, "0")}`;
  }

  /** Deletes a packed slab no catalog entry names and no namespace still reads. */
  async deleteIfUnused(slabId: string): Promise<void> {
    if (slabId === "" || this.unreleased.has(slabId)) return;
    if (this.catalog.table.slabReferences(slabId) > 0) return;
    this.fileRows.delete(slabId);
    await this.blobs.delete(slabKey(this.index, slabId)).catch(() => {});
  }
}
