/**
 * `.fvecs` and `.bvecs` (the TEXMEX format of SIFT/GIST): each vector is a little-endian
 * int32 dimension d, then d float32 (fvecs) or d unsigned bytes (bvecs). No ids: they come
 * from a sidecar file (one per line) or are the row numbers.
 */
import { stat } from "node:fs/promises";
import type { IndexShape } from "../schemas/mod.ts";
import { ChunkReader } from "./chunks.ts";
import { type ImportRow, idOf, type ReadOptions, validateRecord } from "./rows.ts";

/** A dimension above this is not a vector header: the file is damaged or not of the format. */
const dimensionMax = 100_000;

export async function* readVecs(
  file: string,
  options: ReadOptions,
  index: IndexShape,
  kind: "fvecs" | "bvecs",
): AsyncIterable<ImportRow> {
  const width = kind === "fvecs" ? 4 : 1;
  const reader = await ChunkReader.open(file);
  try {
    for (let row = 0; ; row++) {
      const at = reader.offset;
      const position = `${file}: vector ${row} (byte ${at})`;
      const head = await reader.take(4);
      if (head.length === 0) return;
      if (head.length < 4) {
        yield { row, position, error: `truncated: ${head.length} bytes where a 4-byte dimension belongs` };
        return;
      }
      const dimension = new DataView(head.buffer, head.byteOffset, 4).getInt32(0, true);
      if (dimension < 1 || dimension > dimensionMax) {
        // Nothing after a bad header can be located: the rest of the file is unreadable.
        yield {
          row,
          position,
          error: `dimension header ${dimension} is not in 1..${dimensionMax}; the file cannot be read past it`,
        };
        return;
      }
      const body = await reader.take(dimension * width);
      if (body.length < dimension * width) {
        yield {
          row,
          position,
          error: `truncated: ${body.length} of ${dimension * width} bytes of the vector`,
        };
        return;
      }
      if (row < options.skip) continue;
      const values = new Float32Array(dimension);
      if (kind === "fvecs") {
        const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
        for (let i = 0; i < dimension; i++) values[i] = view.getFloat32(i * 4, true);
      } else values.set(body);
      yield { row, position, ...validateRecord({ id: idOf(row, options.ids, file), values }, index) };
    }
  } finally {
    await reader.close();
  }
}

/** Vectors in the file, from its size and the first vector's dimension (for the progress bar). */
export async function vecsRows(file: string, kind: "fvecs" | "bvecs"): Promise<number> {
  const reader = await ChunkReader.open(file);
  try {
    const head = await reader.take(4);
    if (head.length < 4) return 0;
    const dimension = new DataView(head.buffer, head.byteOffset, 4).getInt32(0, true);
    if (dimension < 1 || dimension > dimensionMax) return 1;
    const size = (await stat(file)).size;
    return Math.ceil(size / (4 + dimension * (kind === "fvecs" ? 4 : 1)));
  } finally {
    await reader.close();
  }
}
