/**
 * Test and benchmark helpers: data sets written in each import format by independent
 * writers (hyparquet-writer for Parquet, npyjs for .npy, plain DataView code for the vecs
 * formats, JSON.stringify for JSONL). Never imported by production code.
 */
import { writeFile } from "node:fs/promises";
import { parquetWriteBuffer } from "hyparquet-writer";
import { dump } from "npyjs";

export interface SourceRecord {
  id: string;
  values: number[];
  metadata?: Record<string, string | number | boolean | string[]>;
}

/** Deterministic values in [-1, 1) from a seed (an LCG): the same data set every run. */
export function makeRecords(count: number, dimension: number, seed = 1, idPrefix = "r"): SourceRecord[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  };
  return Array.from({ length: count }, (_, i) => ({
    id: `${idPrefix}${i}`,
    values: Array.from({ length: dimension }, () => Math.fround(next())),
    metadata: { group: `g${i % 7}`, rank: i, even: i % 2 === 0 },
  }));
}

export async function writeJsonl(path: string, records: readonly unknown[]): Promise<void> {
  await writeFile(path, `${records.map((record) => JSON.stringify(record)).join("\n")}\n`);
}

/** Pinecone's import layout; `rowGroupSize` rows per row group. Values of `null` write a null list. */
export async function writeParquet(
  path: string,
  records: readonly { id: string; values: readonly number[] | null; metadata?: unknown }[],
  rowGroupSize = 1000,
): Promise<void> {
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "id", data: records.map((record) => record.id) },
      { name: "values", data: records.map((record) => record.values) },
      {
        name: "metadata",
        data: records.map((record) =>
          record.metadata === undefined ? null : JSON.stringify(record.metadata),
        ),
      },
    ],
    schema: [
      { name: "root", num_children: 3 },
      { name: "id", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
      { name: "values", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", type: "FLOAT", repetition_type: "REQUIRED" },
      { name: "metadata", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    ],
    rowGroupSize,
  });
  await writeFile(path, new Uint8Array(buffer));
}

/** `.fvecs` (float32) or `.bvecs` (uint8) of the vectors, each with its own dimension header. */
export async function writeVecs(
  path: string,
  vectors: readonly (readonly number[])[],
  kind: "fvecs" | "bvecs",
): Promise<void> {
  const width = kind === "fvecs" ? 4 : 1;
  const total = vectors.reduce((sum, vector) => sum + 4 + vector.length * width, 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const vector of vectors) {
    view.setInt32(at, vector.length, true);
    at += 4;
    for (const value of vector) {
      if (kind === "fvecs") view.setFloat32(at, value, true);
      else view.setUint8(at, value);
      at += width;
    }
  }
  await writeFile(path, bytes);
}

/** A 2-D float32 `.npy` file written by npyjs. */
export async function writeNpy(path: string, vectors: readonly (readonly number[])[]): Promise<void> {
  const dimension = vectors[0]?.length ?? 0;
  const flat = new Float32Array(vectors.length * dimension);
  for (const [i, vector] of vectors.entries()) flat.set(vector, i * dimension);
  await writeFile(path, new Uint8Array(dump(flat, [vectors.length, dimension])));
}
