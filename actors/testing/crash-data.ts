/** Deterministic batches for the crash test: batch b holds ids b-0..b-(n-1), values derived from b. */
import type { VectorRecord } from "../../storage/types.ts";

export const crashBatchRecords = 60;

export function crashBatch(batch: number): VectorRecord[] {
  return Array.from({ length: crashBatchRecords }, (_, i) => ({
    id: `b${batch}-${i}`,
    values: Float32Array.from({ length: 8 }, (_, d) => batch + i / 100 + d / 1000),
    metadata: { batch, i },
  }));
}
