/**
 * What a row group may make the decoder allocate, checked before it decodes (parquet-worker.ts).
 *
 * hyparquet sizes its arrays from page headers (`num_values`, `uncompressed_page_size`): a
 * damaged or hostile file declaring billions of values would have it allocate gigabytes (a
 * fuzz run grew the process past 12 GB). Before a group is decoded, each page header of the
 * columns read is walked and checked:
 *   - a page lies inside its column chunk, and the chunk inside the file;
 *   - a compressed page expands at most 24x (snappy's densest copy is 64 bytes in 3);
 *     an uncompressed one not at all;
 *   - the values a column declares fit the group's rows: one per row for `id` and
 *     `metadata`, the index's dimension per row for `values`, 2,048 (Pinecone's limit) per
 *     row for each sparse list; and never more than 2^28 in a group (1 GiB of float32).
 * A group failing a check is refused whole, naming the column and the numbers.
 */
import type { AsyncBuffer, FileMetaData } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";

const expansionMax = 24;
const valuesPerGroupMax = 2 ** 28;
const sparseEntriesMax = 2048;
/** A page header is far smaller than this (statistics of long strings included). */
const headerWindowBytes = 64 * 1024;

export interface GroupBudget {
  /** The index's dimension (values per row of `values`). */
  dimension: number;
}

/** Throws (a plain Error, with the reason) when row group `group` breaks a check above. */
export async function checkRowGroup(
  file: AsyncBuffer,
  metadata: FileMetaData,
  group: number,
  columns: readonly string[],
  budget: GroupBudget,
): Promise<void> {
  const rowGroup = metadata.row_groups[group]!;
  const rows = Number(rowGroup.num_rows);
  for (const chunk of rowGroup.columns) {
    const meta = chunk.meta_data;
    if (meta === undefined) throw new Error("a column chunk without metadata");
    const column = meta.path_in_schema[0] ?? "";
    if (!columns.includes(column)) continue;
    const perRow =
      column === "values" ? Math.max(1, budget.dimension) : column === "sparse_values" ? sparseEntriesMax : 1;
    const allowed = Math.min(valuesPerGroupMax, rows * perRow + 1024);
    const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
    const end = start + Number(meta.total_compressed_size);
    if (!(start >= 0 && end <= file.byteLength && start <= end))
      throw new Error(
        `column ${column}: its chunk (bytes ${start}..${end}) is outside the file (${file.byteLength} bytes)`,
      );
    // Sparse values have two leaf columns (indices, values): each is held to the budget.
    let declared = 0;
    for (let offset = start; offset < end; ) {
      const window = new Uint8Array(await file.slice(offset, Math.min(end, offset + headerWindowBytes)));
      const reader = { view: new DataView(window.buffer, window.byteOffset, window.byteLength), offset: 0 };
      const header = parquetHeader(reader);
      const compressed = header.compressed_page_size;
      const uncompressed = header.uncompressed_page_size;
      const bodyStart = offset + reader.offset;
      if (!(compressed >= 0 && bodyStart + compressed <= end))
        throw new Error(`column ${column}: a page of ${compressed} bytes runs past its chunk`);
      const isCompressed =
        meta.codec !== "UNCOMPRESSED" && header.data_page_header_v2?.is_compressed !== false;
      const expansion = isCompressed ? expansionMax * compressed + 64 : compressed;
      if (!(uncompressed >= 0 && uncompressed <= expansion))
        throw new Error(
          `column ${column}: a page declares ${uncompressed} bytes from ${compressed} (at most ${expansion})`,
        );
      declared +=
        header.data_page_header?.num_values ??
        header.data_page_header_v2?.num_values ??
        header.dictionary_page_header?.num_values ??
        0;
      if (declared > allowed)
        throw new Error(
          `column ${column} declares more than ${allowed} values for ${rows} rows (at most ${perRow} per row)`,
        );
      offset = bodyStart + compressed;
    }
  }
}
