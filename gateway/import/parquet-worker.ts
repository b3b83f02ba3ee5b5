/**
 * Worker side of the Parquet reader (parquet.ts): decodes row groups with hyparquet off the
 * main thread, which meanwhile validates and upserts the group before. Dense values travel as
 * one flat Float32Array per group (transferred, not copied), with each row's length (-1 for
 * null); ids, sparse values and metadata text as they are.
 *
 * Each group is checked against what it may make the decoder allocate (parquet-budget.ts)
 * before it is decoded.
 *
 * Protocol: `{file, skip, budget}` starts; each group answers `{group}`; the reader asks for the next
 * with `"more"` (at most two groups are decoded ahead); `{done: true}` ends; `{error}` fails.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { checkRowGroup, type GroupBudget } from "./parquet-budget.ts";

declare const self: Worker;

export interface DecodedGroup {
  group: number;
  /** Row number (in the file) of the group's first row. */
  groupStart: number;
  /** Row number of `ids[0]` (after a resume's skip). */
  rowStart: number;
  ids: unknown[];
  lengths: Int32Array;
  values: Float32Array;
  sparse: unknown[];
  metadata: unknown[];
}

export type WorkerAnswer =
  | { kind: "decoding"; group: number; rows: number }
  | { kind: "group"; decoded: DecodedGroup }
  | { kind: "done" }
  | { kind: "error"; message: string; group?: number };

const aheadMax = 2;
let credits = aheadMax;
let wake: (() => void) | undefined;

export interface DecodeRequest {
  file: string;
  skip: number;
  budget: GroupBudget;
}

self.onmessage = (event: MessageEvent<DecodeRequest | "more">) => {
  if (event.data === "more") {
    credits++;
    wake?.();
    return;
  }
  void decode(event.data);
};

function post(answer: WorkerAnswer, transfer: ArrayBuffer[] = []): void {
  self.postMessage(answer, transfer);
}

async function decode({ file, skip, budget }: DecodeRequest): Promise<void> {
  let group = -1;
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    const present = new Set(metadata.schema.map((element) => element.name));
    const columns = ["id", "values", "sparse_values", "metadata"].filter((name) => present.has(name));
    let groupStart = 0;
    for (const [index, rowGroup] of metadata.row_groups.entries()) {
      group = index;
      const groupEnd = groupStart + Number(rowGroup.num_rows);
      if (groupEnd > skip) {
        while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
        credits--;
        const rowStart = Math.max(groupStart, skip);
        await checkRowGroup(buffer, metadata, index, columns, budget);
        post({ kind: "decoding", group: index, rows: groupEnd - rowStart });
        const rows = await parquetReadObjects({
          file: buffer,
          metadata,
          columns,
          rowStart,
          rowEnd: groupEnd,
        });
        const lengths = new Int32Array(rows.length);
        let total = 0;
        for (const [i, row] of rows.entries()) {
          const values = row.values;
          lengths[i] = Array.isArray(values) ? values.length : -1;
          total += Math.max(0, lengths[i]!);
        }
        const values = new Float32Array(total);
        let at = 0;
        for (const row of rows) {
          if (!Array.isArray(row.values)) continue;
          for (const value of row.values) values[at++] = typeof value === "number" ? value : Number.NaN;
        }
        const decoded: DecodedGroup = {
          group: index,
          groupStart,
          rowStart,
          ids: rows.map((row) => row.id),
          lengths,
          values,
          sparse: rows.map((row) => row.sparse_values ?? null),
          metadata: rows.map((row) => row.metadata ?? null),
        };
        post({ kind: "group", decoded }, [lengths.buffer as ArrayBuffer, values.buffer as ArrayBuffer]);
      }
      groupStart = groupEnd;
    }
    post({ kind: "done" });
  } catch (error) {
    post({ kind: "error", message: (error as Error).message, group: group >= 0 ? group : undefined });
  }
}
