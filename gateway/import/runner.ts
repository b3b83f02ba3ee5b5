/**
 * An import: files read row by row (readers in this folder), good rows upserted in batches
 * with a few batches in flight, bad rows skipped and reported or the import stopped, and a
 * progress record saved after each acknowledged batch so an interrupted import resumes.
 *
 * Invariants (gateway/DESIGN.md, issue 9):
 *   - A batch is validated whole before it is upserted: `abort` applies nothing of the batch
 *     holding the bad row; batches before it are applied and recorded.
 *   - The progress record counts only rows of acknowledged batches, in file order (batches
 *     are awaited oldest first), so a resumed import never skips an unapplied row. A batch
 *     applied but not yet recorded when the process died is applied again: upsert makes that
 *     harmless (same ids, same values).
 */
import { stat } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { NeedleError } from "../../storage/errors.ts";
import type { VectorRecord } from "../../storage/types.ts";
import type { IndexShape } from "../schemas/mod.ts";
import { jsonlRows, readJsonl } from "./jsonl.ts";
import { npyRows, readNpy } from "./npy.ts";
import { parquetRows, readParquet } from "./parquet.ts";
import type { ImportRow, ReadOptions } from "./rows.ts";
import { readVecs, vecsRows } from "./vecs.ts";

export const importFormats = ["jsonl", "parquet", "fvecs", "bvecs", "npy"] as const;
export type ImportFormat = (typeof importFormats)[number];

const extensions: Record<string, ImportFormat> = {
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".parquet": "parquet",
  ".fvecs": "fvecs",
  ".bvecs": "bvecs",
  ".npy": "npy",
};

export function formatOf(file: string): ImportFormat {
  const format = extensions[extname(file).toLowerCase()];
  if (format === undefined)
    throw new NeedleError(
      "INVALID_ARGUMENT",
      `${file}: unknown format; the name must end in ${Object.keys(extensions).join(", ")}`,
    );
  return format;
}

function rowsOf(file: string, format: ImportFormat, options: ReadOptions, index: IndexShape) {
  switch (format) {
    case "jsonl":
      return readJsonl(file, options, index);
    case "parquet":
      return readParquet(file, options, index);
    case "npy":
      return readNpy(file, options, index);
    default:
      return readVecs(file, options, index, format);
  }
}

/** Rows in a file (read from its header or footer where it has one; counted for JSONL). */
export function countRows(file: string, format: ImportFormat = formatOf(file)): Promise<number> {
  switch (format) {
    case "jsonl":
      return jsonlRows(file);
    case "parquet":
      return parquetRows(file);
    case "npy":
      return npyRows(file);
    default:
      return vecsRows(file, format);
  }
}

/** Where an import stands: saved after every acknowledged batch, read by `--resume`. */
export interface ImportState {
  index: string;
  namespace: string;
  files: { path: string; bytes: number; modifiedMs: number; rowsDone: number }[];
  recordsImported: number;
  rowsBad: number;
}

export interface ImportTarget {
  shape: IndexShape;
  upsert(namespace: string, records: VectorRecord[]): Promise<void>;
}

export interface ImportRequest {
  index: string;
  namespace: string;
  files: string[];
  onError: "continue" | "abort";
  /** Ids for fvecs/bvecs/npy rows, one per line (all such files share it, in order). */
  ids?: readonly string[];
  /** Records per upsert (default 1,000, Pinecone's cap per request). */
  batchRecords?: number;
  /** Upserts awaiting acknowledgement at once (default 4). */
  inFlight?: number;
  /** Start from this saved state (`--resume`); it must describe the same files, unchanged. */
  resume?: ImportState;
}

export interface ImportHooks {
  onBadRow?(row: ImportRow): void;
  /** After each acknowledged batch (and once at the start): rows consumed so far, of `totalRows`. */
  onProgress?(state: ImportState): void | Promise<void>;
  /** Saves the state (durably); called after each acknowledged batch. */
  save?(state: ImportState): Promise<void>;
  /** Checked between batches: true stops the import (cancelled) after the batches in flight. */
  cancelled?(): boolean;
}

export interface ImportSummary {
  state: ImportState;
  /** How it ended. */
  outcome: "completed" | "aborted" | "cancelled";
  /** The bad row that stopped an `abort` import. */
  abortedAt?: ImportRow;
}

/** Fresh state for `request`, or its resume state after checking the files did not change. */
export async function initialState(request: ImportRequest): Promise<ImportState> {
  for (const file of request.files) formatOf(file); // an unknown format is refused before any file is read
  const files = await Promise.all(
    request.files.map(async (file) => {
      const info = await stat(file).catch((error: unknown) => {
        throw new NeedleError("INVALID_ARGUMENT", `${file}: cannot be read: ${(error as Error).message}`);
      });
      return { path: resolve(file), bytes: info.size, modifiedMs: Math.trunc(info.mtimeMs), rowsDone: 0 };
    }),
  );
  const resume = request.resume;
  if (resume === undefined)
    return { index: request.index, namespace: request.namespace, files, recordsImported: 0, rowsBad: 0 };
  const same =
    resume.index === request.index &&
    resume.namespace === request.namespace &&
    resume.files.length === files.length &&
    resume.files.every(
      (saved, i) =>
        saved.path === files[i]!.path &&
        saved.bytes === files[i]!.bytes &&
        saved.modifiedMs === files[i]!.modifiedMs,
    );
  if (!same)
    throw new NeedleError(
      "FAILED_PRECONDITION",
      "the saved import does not match: resume needs the same index, namespace and files, unchanged since it started",
    );
  return structuredClone(resume);
}

export async function runImport(
  target: ImportTarget,
  request: ImportRequest,
  hooks: ImportHooks = {},
): Promise<ImportSummary> {
  const state = await initialState(request);
  const batchRecords = request.batchRecords ?? 1000;
  const inFlightMax = request.inFlight ?? 4;
  /** Batches sent, oldest first, each with the progress it completes. */
  const pending: { done: Promise<void>; file: number; rowsDone: number; records: number; bad: number }[] = [];
  let failure: unknown;
  let idsUsed = 0;

  const settleOldest = async () => {
    const oldest = pending.shift()!;
    await oldest.done;
    state.files[oldest.file]!.rowsDone = oldest.rowsDone;
    state.recordsImported += oldest.records;
    state.rowsBad += oldest.bad;
    await hooks.save?.(state);
    await hooks.onProgress?.(state);
  };
  const send = async (file: number, rowsDone: number, records: VectorRecord[], bad: number) => {
    const done = records.length === 0 ? Promise.resolve() : target.upsert(request.namespace, records);
    done.catch((error: unknown) => {
      failure ??= error;
    });
    pending.push({ done, file, rowsDone, records: records.length, bad });
    while (pending.length >= inFlightMax) await settleOldest();
  };
  const drain = async () => {
    while (pending.length > 0) await settleOldest();
  };

  await hooks.onProgress?.(state);
  try {
    for (const [fileIndex, file] of state.files.entries()) {
      const format = formatOf(file.path);
      const positional = format !== "jsonl" && format !== "parquet";
      const ids = positional && request.ids !== undefined ? request.ids.slice(idsUsed) : undefined;
      let batch: VectorRecord[] = [];
      let bad = 0;
      let rowsDone = file.rowsDone;
      for await (const row of rowsOf(file.path, format, { skip: file.rowsDone, ids }, target.shape)) {
        if (failure !== undefined) throw failure;
        if (row.error !== undefined) {
          if (request.onError === "abort") {
            await drain();
            return { state, outcome: "aborted", abortedAt: row };
          }
          hooks.onBadRow?.(row);
          bad++;
        } else batch.push(row.record!);
        rowsDone = row.row + 1;
        if (batch.length >= batchRecords) {
          await send(fileIndex, rowsDone, batch, bad);
          batch = [];
          bad = 0;
          if (hooks.cancelled?.() === true) {
            await drain();
            return { state, outcome: "cancelled" };
          }
        }
      }
      if (batch.length > 0 || bad > 0 || rowsDone > file.rowsDone)
        await send(fileIndex, rowsDone, batch, bad);
      if (positional) idsUsed += rowsDone;
    }
    await drain();
  } catch (error) {
    // Whatever was acknowledged stays recorded: settle the rest, keep the first error.
    await Promise.allSettled(pending.map((batch) => batch.done));
    throw failure ?? error;
  }
  if (failure !== undefined) throw failure;
  return { state, outcome: "completed" };
}
