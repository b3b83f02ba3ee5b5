/**
 * JSON Lines in Pinecone's record shape, one record per line:
 * `{"id": "a", "values": [...], "sparse_values": {...}, "metadata": {...}}`.
 * Blank lines are skipped (they are not rows); a line that is not JSON is a bad row.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { IndexShape } from "../schemas/mod.ts";
import { type ImportRow, type ReadOptions, validateRecord } from "./rows.ts";

export async function* readJsonl(
  file: string,
  options: ReadOptions,
  index: IndexShape,
): AsyncIterable<ImportRow> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  let row = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === "") continue;
    const current = row++;
    if (current < options.skip) continue;
    const position = `${file}:line ${line}`;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      yield { row: current, position, error: `not JSON: ${(error as Error).message}` };
      continue;
    }
    yield { row: current, position, ...validateRecord(raw, index) };
  }
}

/** Rows (non-blank lines) in the file: one quick pass, for the progress bar's total. */
export async function jsonlRows(file: string): Promise<number> {
  let rows = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of lines) if (text.trim() !== "") rows++;
  return rows;
}
