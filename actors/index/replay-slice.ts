/**
 * One slice of a bulk replay (storage/namespaces/DESIGN.md decision 4), done on the slab-builder
 * thread: the slice's log records arrive undecoded, are decoded and applied there
 * (bulk-replay.ts) and the namespaces that stay small become one packed slab. The event loop
 * only gathers bytes and commits the catalog: decoding 100,000 tenants' records and packing
 * them again for the worker took it about a second of a recovery.
 *
 * The input is a few flat buffers (transferred, never structured-cloned object by object):
 *   names[i]            the slice's namespaces
 *   explicit[i]         each one's explicit flag before the replay (its catalog entry)
 *   flushedLsn[i]       each one's flushed LSN before the replay
 *   base                msgpack: per namespace, its current run's records, or null
 *   log                 the records' payloads, concatenated
 *   spans               per record: namespace number, offset in `log`, length (3 x u32)
 *   lsns                per record: its LSN (records of a namespace in LSN order)
 */
import { Packr } from "msgpackr";
import type { VectorRecord } from "../../storage/types.ts";
import { decodeLogBody } from "../codec.ts";
import { type SlabBuildJob, jobFromRecords } from "../namespace/slab-build-job.ts";
import { packedKey } from "../../storage/namespaces/packed-keys.ts";
import { corruption } from "../../storage/errors.ts";
import { RunView } from "../../storage/namespaces/run-view.ts";
import { compareIds } from "../../storage/slab/ids.ts";
import { SlabReader } from "../../storage/slab/mod.ts";
import { applyWrite, type ReplayState } from "./bulk-replay.ts";

/**
 * Current runs the builder thread reads itself from their packed files (packed compaction: a
 * main-thread read of 30,000 runs held the event loop for seconds): per namespace the file
 * (an index into `files`, -1 for none), and the run's rows.
 */
export interface BaseRuns {
  files: string[];
  file: Int32Array<ArrayBuffer>;
  start: Uint32Array<ArrayBuffer>;
  length: Uint32Array<ArrayBuffer>;
}

export interface ReplaySliceInput {
  /** The packed slab's header; minLsn and maxLsn are filled from the records. */
  header: SlabBuildJob["header"];
  packedRowsMax: number;
  names: string[];
  explicit: Uint8Array<ArrayBuffer>;
  flushedLsn: BigUint64Array<ArrayBuffer>;
  /** Current runs' records, packed (encodeBase); absent when the runs come as `baseRuns`. */
  base?: Uint8Array<ArrayBuffer>;
  /** Runs to read on the builder thread (sliceRuns), in addition to `base`. */
  baseRuns?: BaseRuns;
  log: Uint8Array<ArrayBuffer>;
  spans: Uint32Array<ArrayBuffer>;
  lsns: BigUint64Array<ArrayBuffer>;
}

/** Per namespace of the slice; `skipped` ones grew past packing and replay in their own activation. */
export interface ReplaySliceOutput {
  /** The packed slab; absent when no namespace of the slice has rows. */
  file?: Uint8Array;
  skipped: Uint8Array;
  explicit: Uint8Array;
  flushedLsn: BigUint64Array;
  runStart: Uint32Array;
  runLength: Uint32Array;
}

const basePackr = new Packr({ useRecords: true, moreTypes: true });

export function encodeBase(base: (VectorRecord[] | null)[]): Uint8Array<ArrayBuffer> {
  // A copy: pack() answers a view of msgpackr's shared buffer, and this one is transferred.
  return new Uint8Array(basePackr.pack(base));
}

/** Decodes, applies and sorts the slice; `build` encodes the slab (encodeJob, on the worker). */
export function replaySlice(
  input: ReplaySliceInput,
  build: (job: SlabBuildJob) => Uint8Array,
): ReplaySliceOutput {
  const count = input.names.length;
  const base = input.base === undefined ? [] : (basePackr.unpack(input.base) as (VectorRecord[] | null)[]);
  const readers = (input.baseRuns?.files ?? []).map((path) => SlabReader.openFile(path));
  const states: ReplayState[] = input.names.map((namespace, i) => {
    const records = new Map<string, VectorRecord>();
    for (const record of base[i] ?? []) records.set(record.id, record);
    const runs = input.baseRuns;
    const file = runs?.file[i] ?? -1;
    if (runs !== undefined && file >= 0) {
      const view = new RunView(readers[file]!, namespace, () => {});
      if (view.info.rowCount !== runs.length[i] || view.rowOffset !== runs.start[i])
        throw corruption(
          runs.files[file]!,
          `the run of namespace ${namespace} is not where the catalog says`,
        );
      for (let row = 0; row < view.info.rowCount; row++) {
        const record = view.record(row, { values: true, metadata: true });
        records.set(record.id, record);
      }
    }
    return { records, explicit: input.explicit[i] === 1 };
  });
  for (const reader of readers) reader.close();
  const output: ReplaySliceOutput = {
    skipped: new Uint8Array(count),
    explicit: new Uint8Array(count),
    flushedLsn: input.flushedLsn.slice(),
    runStart: new Uint32Array(count),
    runLength: new Uint32Array(count),
  };
  let minLsn = 0n;
  let maxLsn = 0n;
  for (let record = 0; record < input.lsns.length; record++) {
    const at = record * 3;
    const namespace = input.spans[at]!;
    const offset = input.spans[at + 1]!;
    const length = input.spans[at + 2]!;
    const lsn = input.lsns[record]!;
    applyWrite(states[namespace]!, decodeLogBody(input.log.subarray(offset, offset + length)).write);
    output.flushedLsn[namespace] = lsn;
    if (minLsn === 0n || lsn < minLsn) minLsn = lsn;
    if (lsn > maxLsn) maxLsn = lsn;
  }
  const keyed: { key: string; record: VectorRecord }[] = [];
  states.forEach((state, i) => {
    output.explicit[i] = state.explicit ? 1 : 0;
    if (state.records.size > input.packedRowsMax) {
      output.skipped[i] = 1;
      return;
    }
    for (const record of state.records.values())
      keyed.push({ key: packedKey(input.names[i]!, record.id), record });
  });
  if (keyed.length === 0) return output;
  keyed.sort((a, b) => compareIds(a.key, b.key));
  // Runs in key order: a namespace's rows are contiguous, and its first row is its run start.
  const numbers = new Map(input.names.map((name, i) => [name, i]));
  let previous: string | undefined;
  let i = 0;
  for (let row = 0; row < keyed.length; row++) {
    const key = keyed[row]!.key;
    const namespace = key.slice(0, key.indexOf("\u0000"));
    if (namespace !== previous) {
      i = numbers.get(namespace)!;
      previous = namespace;
      output.runStart[i] = row;
    }
    output.runLength[i]!++;
  }
  output.file = build(
    jobFromRecords(
      keyed.map(({ record }) => record),
      {
        ...input.header,
        minLsn: minLsn === 0n ? input.header.minLsn : minLsn,
        maxLsn: maxLsn === 0n ? input.header.maxLsn : maxLsn,
      },
      keyed.map(({ key }) => key),
    ),
  );
  return output;
}
