/**
 * Worker side of slab building (see slab-builder.ts): encodes slab files (a flush's job, or a
 * compaction's outputs read from its source files) off the main thread and transfers the bytes
 * back.
 */
import { initBitmaps } from "../../storage/bitmap.ts";
import { asNeedleError } from "../../storage/errors.ts";
import { type ReplaySliceInput, replaySlice } from "../index/replay-slice.ts";
import type { CompactionSource } from "./compaction-job.ts";
import { jobOfWire, type SlabBuildJob, type WireJob } from "./slab-build-job.ts";
import {
  type BuilderAnswer,
  type CompactionBuildOptions,
  encodeCompaction,
  encodeJob,
} from "./slab-builder.ts";

declare const self: Worker;

const ready = initBitmaps();

interface Request {
  id: number;
  job?: WireJob;
  replaySlice?: ReplaySliceInput;
  compaction?: {
    sources: CompactionSource[];
    headers: SlabBuildJob["header"][];
    options: CompactionBuildOptions;
  };
}

function answer(message: BuilderAnswer, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}

self.onmessage = async (event: MessageEvent<Request>) => {
  const { id, job, compaction, replaySlice: slice } = event.data;
  try {
    await ready;
    if (job) {
      const bytes = encodeJob(jobOfWire(job));
      answer({ id, result: bytes }, [bytes.buffer as ArrayBuffer]);
    } else if (slice) {
      const output = replaySlice(slice, (built) => encodeJob(built));
      answer({ id, result: output }, output.file ? [output.file.buffer as ArrayBuffer] : []);
    } else if (compaction) {
      const outputs = encodeCompaction(compaction.sources, compaction.headers, compaction.options);
      answer(
        { id, result: outputs },
        outputs.map((output) => output.bytes.buffer as ArrayBuffer),
      );
    }
  } catch (error) {
    answer({ id, error: asNeedleError(error).toWire() });
  }
};
