/**
 * Parquet in Pinecone's import layout: columns `id` (string), `values` (list of float),
 * `sparse_values` (struct of `indices` and `values` lists, optional), `metadata` (a JSON
 * string, optional). Read with hyparquet one row group at a time, on a worker thread, so
 * memory holds a few groups whatever the file's size.
 */
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { NeedleError } from "../../storage/errors.ts";
import type { IndexShape } from "../schemas/mod.ts";
import type { DecodedGroup, DecodeRequest, WorkerAnswer } from "./parquet-worker.ts";
import { type ImportRow, type ReadOptions, validateRecord } from "./rows.ts";

async function openParquet(file: string) {
  try {
    const buffer = await asyncBufferFromFile(file);
    return { buffer, metadata: await parquetMetadataAsync(buffer) };
  } catch (error) {
    throw new NeedleError(
      "INVALID_ARGUMENT",
      `${file}: not a readable Parquet file: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** Rows in the file, from its footer (the progress bar's total). */
export async function parquetRows(file: string): Promise<number> {
  return Number((await openParquet(file)).metadata.num_rows);
}

/** A decoded row as the record upsert takes: numbers for int64 indices, metadata parsed. */
function recordOf(decoded: DecodedGroup, i: number, valuesAt: number): unknown {
  const out: Record<string, unknown> = { id: decoded.ids[i] };
  const length = decoded.lengths[i]!;
  if (length >= 0) out.values = decoded.values.subarray(valuesAt, valuesAt + length);
  const sparse = decoded.sparse[i] as { indices?: unknown; values?: unknown } | null;
  if (sparse !== null) {
    const indices = Array.isArray(sparse.indices)
      ? sparse.indices.map((index) => (typeof index === "bigint" ? Number(index) : index))
      : sparse.indices;
    out.sparseValues = { indices, values: sparse.values };
  }
  const metadata = decoded.metadata[i];
  if (metadata !== null) out.metadata = typeof metadata === "string" ? JSON.parse(metadata) : metadata;
  return out;
}

/** Messages from the decoding worker, in order, as an async queue; `fail` adds an error. */
function answers(worker: Worker): { next: () => Promise<WorkerAnswer>; fail: (message: string) => void } {
  const queued: WorkerAnswer[] = [];
  let waiting: ((answer: WorkerAnswer) => void) | undefined;
  const deliver = (answer: WorkerAnswer) => {
    if (waiting !== undefined) {
      const resolve = waiting;
      waiting = undefined;
      resolve(answer);
    } else queued.push(answer);
  };
  worker.onmessage = (event: MessageEvent<WorkerAnswer>) => deliver(event.data);
  worker.onerror = (event) => deliver({ kind: "error", message: event.message });
  return {
    next: () => {
      const next = queued.shift();
      if (next !== undefined) return Promise.resolve(next);
      return new Promise((resolve) => (waiting = resolve));
    },
    fail: (message) => deliver({ kind: "error", message }),
  };
}

/**
 * Memory the process may grow by while the worker decodes one row group: the group's rows as
 * JS arrays of numbers and the copies made on the way, twice (the main thread meanwhile
 * ingests the group before), and 1 GiB to spare. hyparquet trusts counts inside the data (an
 * RLE run's length): a damaged file made it grow one array past 10 GB in a fuzz run, which
 * the header checks (parquet-budget.ts) cannot see; this watchdog stops the worker instead.
 */
function decodeAllowanceBytes(groupRows: number, dimension: number): number {
  return 2 ** 30 + 2 * groupRows * (Math.max(1, dimension) * 24 + 1024);
}
const watchdogMs = 50;

/**
 * Rows of the file, decoded by a worker (parquet-worker.ts) a row group or two ahead of the
 * caller: decoding list columns is most of an import's time, and runs meanwhile.
 */
export async function* readParquet(
  file: string,
  options: ReadOptions,
  index: IndexShape,
): AsyncIterable<ImportRow> {
  const { metadata } = await openParquet(file);
  if (!metadata.schema.some((element) => element.name === "id"))
    throw new NeedleError("INVALID_ARGUMENT", `${file}: has no column "id"`);
  const worker = new Worker(new URL("./parquet-worker.ts", import.meta.url).href);
  const { next, fail } = answers(worker);
  /** While a group decodes: the resident set when it began, and what it may grow by. */
  let decoding: { group: number; baseline: number; allowance: number } | undefined;
  const watchdog = setInterval(() => {
    if (decoding === undefined || process.memoryUsage.rss() - decoding.baseline <= decoding.allowance) return;
    clearInterval(watchdog);
    worker.terminate();
    const mib = Math.round(decoding.allowance / 2 ** 20);
    fail(`row group ${decoding.group} took more than ${mib} MiB of memory to decode (the file is damaged)`);
  }, watchdogMs);
  try {
    const request: DecodeRequest = { file, skip: options.skip, budget: { dimension: index.dimension ?? 0 } };
    worker.postMessage(request);
    for (;;) {
      const answer = await next();
      if (answer.kind === "decoding") {
        const allowance = decodeAllowanceBytes(answer.rows, index.dimension ?? 0);
        decoding = { group: answer.group, baseline: process.memoryUsage.rss(), allowance };
        continue;
      }
      decoding = undefined;
      if (answer.kind === "done") return;
      if (answer.kind === "error") {
        const where = answer.group === undefined ? "" : `row group ${answer.group} `;
        throw new NeedleError("INVALID_ARGUMENT", `${file}: ${where}cannot be read: ${answer.message}`);
      }
      worker.postMessage("more");
      const decoded = answer.decoded;
      let valuesAt = 0;
      for (let i = 0; i < decoded.ids.length; i++) {
        const at = decoded.rowStart + i;
        const position = `${file}: row group ${decoded.group}, row ${at - decoded.groupStart}`;
        let raw: unknown;
        try {
          raw = recordOf(decoded, i, valuesAt);
        } catch (error) {
          yield { row: at, position, error: `metadata: not JSON: ${(error as Error).message}` };
          continue;
        } finally {
          valuesAt += Math.max(0, decoded.lengths[i]!);
        }
        yield { row: at, position, ...validateRecord(raw, index) };
      }
    }
  } finally {
    clearInterval(watchdog);
    worker.terminate();
  }
}
