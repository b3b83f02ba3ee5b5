/**
 * Worker side of slab building (see slab-builder.ts): encodes the metadata index and the slab
 * file off the main thread and transfers the bytes back.
 */
import { initBitmaps } from "../../storage/bitmap.ts";
import { asNeedleError } from "../../storage/errors.ts";
import { encodeMetadataIndex } from "../../storage/filter/mod.ts";
import { encodeSlab } from "../../storage/slab/mod.ts";
import { recordsOfJob, type SlabBuildJob } from "./slab-build-job.ts";

declare const self: Worker;

const ready = initBitmaps();

self.onmessage = async (event: MessageEvent<{ id: number; job: SlabBuildJob }>) => {
  const { id, job } = event.data;
  try {
    await ready;
    const records = recordsOfJob(job);
    const bytes = encodeSlab({
      ...job.header,
      records,
      metadataIndex: encodeMetadataIndex(job.metadata),
    });
    self.postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (error) {
    self.postMessage({ id, error: asNeedleError(error).toWire() });
  }
};
