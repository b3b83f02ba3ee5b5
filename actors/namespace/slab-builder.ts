/**
 * Builds slab files on a worker thread, so a flush never stalls the writes and reads of the
 * event loop for the half second a 20k x 768 slab takes to encode (measured: the write that
 * started a flush used to wait about 0.7 s). One worker per process serves every namespace;
 * jobs queue in order. If the worker cannot start, slabs are built inline (same bytes).
 *
 * Invariants:
 *   1. Every job answers exactly once: bytes, or the worker's error as a NeedleError.
 *   2. The worker never keeps the process alive (unref'd); a job in flight keeps it referenced.
 */
import { encodeMetadataIndex } from "../../storage/filter/mod.ts";
import { NeedleError, type WireError } from "../../storage/errors.ts";
import { encodeSlab } from "../../storage/slab/mod.ts";
import { recordsOfJob, type SlabBuildJob } from "./slab-build-job.ts";

interface Pending {
  resolve: (bytes: Uint8Array) => void;
  reject: (error: NeedleError) => void;
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
  worker.onmessage = (event: MessageEvent<{ id: number; bytes?: Uint8Array; error?: WireError }>) => {
    const { id, bytes, error } = event.data;
    const job = pending.get(id);
    if (!job) return;
    pending.delete(id);
    if (pending.size === 0) worker?.unref();
    if (error) job.reject(NeedleError.fromWire(error));
    else job.resolve(bytes!);
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

function buildInline(job: SlabBuildJob): Uint8Array {
  return encodeSlab({
    ...job.header,
    records: recordsOfJob(job),
    metadataIndex: encodeMetadataIndex(job.metadata),
  });
}

export function buildSlab(job: SlabBuildJob): Promise<Uint8Array> {
  const active = startWorker();
  if (!active) return Promise.resolve().then(() => buildInline(job));
  const id = nextJobId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    active.ref();
    active.postMessage({ id, job }, [job.values.buffer]);
  });
}
