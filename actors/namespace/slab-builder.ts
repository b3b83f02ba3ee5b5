/**
 * Builds slab files on a worker thread, so a flush never stalls the writes and reads of the
 * event loop for the half second a 20k x 768 slab takes to encode (measured: the write that
 * started a flush used to wait about 0.7 s). One worker per process serves every namespace;
 * jobs queue in order. If the worker cannot start, slabs are built inline (same bytes).
 * Compaction builds go the same way (`buildCompaction`): the worker opens the source slab files
 * itself, so their rows never pass through the event loop.
 *
 * Invariants:
 *   1. Every job answers exactly once: bytes, or the worker's error as a NeedleError.
 *   2. The worker never keeps the process alive (unref'd); a job in flight keeps it referenced.
 */
import { encodeMetadataIndex } from "../../storage/filter/mod.ts";
import { NeedleError, type WireError } from "../../storage/errors.ts";
import { packedSlabNamespace } from "../../storage/namespaces/packed-keys.ts";
import { encodeSlab, type IvfIndex } from "../../storage/slab/mod.ts";
import type { RowMap } from "./compaction-edit.ts";
import { indexJob } from "./compaction-index.ts";
import { type CompactionSource, compactionJobs } from "./compaction-job.ts";
import { type ReplaySliceInput, type ReplaySliceOutput, replaySlice } from "../index/replay-slice.ts";
import { recordsOfJob, type SlabBuildJob, wireJobOf } from "./slab-build-job.ts";

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: NeedleError) => void;
}

/** One built compaction output: the slab file's bytes and where each of its rows came from. */
export interface CompactionOutputBytes {
  /** The output's slab id (outputs left empty by the split are not built). */
  slabId: string;
  bytes: Uint8Array;
  rows: RowMap;
}

/** What the worker answers: `result` for a job it finished, `error` otherwise. */
export interface BuilderAnswer {
  id: number;
  result?: unknown;
  error?: WireError;
}

let worker: Worker | undefined;
let workerUnavailable = false;
let nextJobId = 1;
const pending = new Map<number, Pending>();

function startWorker(): Worker | undefined {
  if (worker || workerUnavailable) return worker;
  try {
    worker = new Worker(new URL("./slab-build-worker.ts", import.meta.url).href);
  } catch {
    workerUnavailable = true;
    return undefined;
  }
  worker.onmessage = (event: MessageEvent<BuilderAnswer>) => {
    const { id, result, error } = event.data;
    const job = pending.get(id);
    if (!job) return;
    pending.delete(id);
    if (pending.size === 0) worker?.unref();
    if (error) job.reject(NeedleError.fromWire(error));
    else job.resolve(result);
  };
  worker.onerror = (event) => {
    // The worker died: fail what it held and build inline from now on.
    const failure = new NeedleError("INTERNAL", `slab build worker failed: ${event.message}`);
    for (const job of pending.values()) job.reject(failure);
    pending.clear();
    worker = undefined;
    workerUnavailable = true;
  };
  worker.unref();
  return worker;
}

/** Encodes one job's slab file (here, or in the worker). */
export function encodeJob(job: SlabBuildJob, vectorIndex?: IvfIndex): Uint8Array {
  // A packed slab's runs filter row by row (slab-actor.ts runMatching): no metadata index,
  // which was a third of a packed slab's encode (storage/slab/SPEC.md "Packed slabs").
  const packed = job.header.namespace === packedSlabNamespace;
  return encodeSlab({
    ...job.header,
    records: recordsOfJob(job),
    metadataIndex: packed ? undefined : encodeMetadataIndex(job.metadata),
    vectorIndex,
  });
}

/** What decides which compaction outputs get an index (compaction-index.ts). */
export interface CompactionBuildOptions {
  indexRowsMin: number;
}

/** Reads the sources and encodes every output, indexing the large ones (here, or in the worker). */
export function encodeCompaction(
  sources: readonly CompactionSource[],
  headers: readonly SlabBuildJob["header"][],
  options: CompactionBuildOptions,
): CompactionOutputBytes[] {
  return compactionJobs(sources, headers).map((built) => {
    const { job, rows, vectorIndex } = indexJob(built.job, built.rows, options.indexRowsMin);
    return { slabId: job.header.slabId, bytes: encodeJob(job, vectorIndex), rows };
  });
}

function send<T>(message: object, transfer: ArrayBuffer[], inline: () => T): Promise<T> {
  const active = startWorker();
  if (!active) return Promise.resolve().then(inline);
  const id = nextJobId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
    active.ref();
    active.postMessage({ id, ...message }, transfer);
  });
}

/**
 * Starts the builder thread ahead of its first job (a recovery about to hand it slices: its
 * start-up, about 0.1 s of loading modules, then overlaps the log scan).
 */
export function warmBuilder(): void {
  startWorker();
}

/** A bulk replay's slice, decoded, applied and built (actors/index/replay-slice.ts). */
export function buildReplaySlice(input: ReplaySliceInput): Promise<ReplaySliceOutput> {
  const transfer = [input.explicit, input.flushedLsn, input.base, input.log, input.spans, input.lsns].flatMap(
    (array) => (array === undefined ? [] : [array.buffer]),
  );
  return send({ replaySlice: input }, transfer, () => replaySlice(input, (job) => encodeJob(job)));
}

export function buildSlab(job: SlabBuildJob): Promise<Uint8Array> {
  if (!startWorker()) return Promise.resolve().then(() => encodeJob(job));
  const wire = wireJobOf(job);
  return send({ job: wire }, [wire.values.buffer, wire.columns.buffer], () => encodeJob(job));
}

/**
 * Where a compaction's outputs are built: `buildCompaction` (this process's builder thread) by
 * default; a cluster's index owner asks compactor processes (actors/distribution/remote-compaction.ts).
 */
export type CompactionBuilder = (
  sources: readonly CompactionSource[],
  headers: readonly SlabBuildJob["header"][],
  options: CompactionBuildOptions,
) => Promise<CompactionOutputBytes[]>;

/** The outputs of a compaction, built from the source files (storage/compaction/DESIGN.md). */
export function buildCompaction(
  sources: readonly CompactionSource[],
  headers: readonly SlabBuildJob["header"][],
  options: CompactionBuildOptions,
): Promise<CompactionOutputBytes[]> {
  return send({ compaction: { sources, headers, options } }, [], () =>
    encodeCompaction(sources, headers, options),
  );
}
