/**
 * Parquet in Pinecone's import layout: columns `id` (string), `values` (list of float),
 * `sparse_values` (struct of `indices` and `values` lists, optional), `metadata` (a JSON
 * string, optional). Read with hyparquet one row group at a time, so memory holds one
 * group, whatever the file's size.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { NeedleError } from "../../storage/errors.ts";
import type { IndexShape } from "../schemas/mod.ts";
import { type ImportRow, type ReadOptions, validateRecord } from "./rows.ts";

const columns = ["id", "values", "sparse_values", "metadata"];

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

/** A Parquet row as the record upsert takes: numbers for int64 indices, metadata parsed. */
function recordOf(row: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = { id: row.id };
  if (row.values !== undefined && row.values !== null) out.values = row.values;
  const sparse = row.sparse_values as { indices?: unknown; values?: unknown } | null | undefined;
  if (sparse !== undefined && sparse !== null) {
    const indices = Array.isArray(sparse.indices)
      ? sparse.indices.map((index) => (typeof index === "bigint" ? Number(index) : index))
      : sparse.indices;
    out.sparseValues = { indices, values: sparse.values };
  }
  if (row.metadata !== undefined && row.metadata !== null)
    out.metadata = typeof row.metadata === "string" ? JSON.parse(row.metadata) : row.metadata;
  return out;
}

export async function* readParquet(
  file: string,
  options: ReadOptions,
  index: IndexShape,
): AsyncIterable<ImportRow> {
  const { buffer, metadata } = await openParquet(file);
  const present = new Set(metadata.schema.map((element) => element.name));
  if (!present.has("id")) throw new NeedleError("INVALID_ARGUMENT", `${file}: has no column "id"`);
  const wanted = columns.filter((name) => present.has(name));
  let groupStart = 0;
  for (const [group, rowGroup] of metadata.row_groups.entries()) {
    const groupRows = Number(rowGroup.num_rows);
    const groupEnd = groupStart + groupRows;
    if (groupEnd > options.skip) {
      const rowStart = Math.max(groupStart, options.skip);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({
          file: buffer,
          metadata,
          columns: wanted,
          rowStart,
          rowEnd: groupEnd,
        });
      } catch (error) {
        throw new NeedleError(
          "INVALID_ARGUMENT",
          `${file}: row group ${group} cannot be read: ${(error as Error).message}`,
          { cause: error },
        );
      }
      for (const [i, row] of rows.entries()) {
        const at = rowStart + i;
        const position = `${file}: row group ${group}, row ${at - groupStart}`;
        let raw: unknown;
        try {
          raw = recordOf(row);
        } catch (error) {
          yield { row: at, position, error: `metadata: not JSON: ${(error as Error).message}` };
          continue;
        }
        yield { row: at, position, ...validateRecord(raw, index) };
      }
    }
    groupStart = groupEnd;
  }
}
