/**
 * NumPy `.npy` files holding a 2-D array (rows x dimension) of float32, float64, uint8 or
 * int8, C order. Read by our own code, a row at a time: the reader we know of (npyjs) takes
 * the whole file into memory (600 MB for 200k x 768 float32) and cannot start at a row. The
 * tests compare every import with npyjs, the independent reader.
 *
 * Layout: magic `\x93NUMPY`, version (major, minor), header length (uint16 in 1.x, uint32
 * in 2.x and 3.x), then a Python dict literal, e.g.
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 128), }`, padded so the data
 * starts on a 64-byte boundary.
 */
import { NeedleError } from "../../storage/errors.ts";
import type { IndexShape } from "../schemas/mod.ts";
import { ChunkReader } from "./chunks.ts";
import { type ImportRow, idOf, type ReadOptions, validateRecord } from "./rows.ts";

const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const headerBytesMax = 1 << 20;

type Element = { width: number; read: (view: DataView, at: number) => number };
const elements: Record<string, Element> = {
  f4: { width: 4, read: (view, at) => view.getFloat32(at, true) },
  f8: { width: 8, read: (view, at) => view.getFloat64(at, true) },
  u1: { width: 1, read: (view, at) => view.getUint8(at) },
  i1: { width: 1, read: (view, at) => view.getInt8(at) },
};

export interface NpyHeader {
  element: Element;
  rows: number;
  dimension: number;
  dataOffset: number;
}

function bad(file: string, reason: string): NeedleError {
  return new NeedleError("INVALID_ARGUMENT", `${file}: not a readable .npy file: ${reason}`);
}

export async function readNpyHeader(reader: ChunkReader, file: string): Promise<NpyHeader> {
  const prefix = await reader.take(10);
  if (prefix.length < 10 || magic.some((byte, i) => prefix[i] !== byte))
    throw bad(file, "no \\x93NUMPY magic");
  const major = prefix[6]!;
  let headerLength: number;
  if (major === 1) headerLength = prefix[8]! | (prefix[9]! << 8);
  else if (major === 2 || major === 3) {
    const more = await reader.take(2);
    if (more.length < 2) throw bad(file, "truncated header length");
    headerLength = new DataView(new Uint8Array([...prefix.subarray(8, 10), ...more]).buffer).getUint32(
      0,
      true,
    );
  } else throw bad(file, `format version ${major} (1, 2 and 3 are read)`);
  if (headerLength > headerBytesMax)
    throw bad(file, `header of ${headerLength} bytes (at most ${headerBytesMax})`);
  const headerBytes = await reader.take(headerLength);
  if (headerBytes.length < headerLength) throw bad(file, "truncated header");
  const header = new TextDecoder().decode(headerBytes);
  const descr = /'descr'\s*:\s*'([<>|=])([a-z])(\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(\s*([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape)
    throw bad(file, `header without descr, fortran_order and shape: ${header.trim()}`);
  const [, order, kind, size] = descr;
  const element = elements[`${kind}${size}`];
  if (element === undefined) throw bad(file, `element type ${kind}${size} (f4, f8, u1 and i1 are read)`);
  if (order === ">" && element.width > 1) throw bad(file, "big-endian data (little-endian is read)");
  if (fortran[1] === "True") throw bad(file, "Fortran (column-major) order (C order is read)");
  const dims = shape[1]!
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map(Number);
  if (dims.length !== 2 || dims.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw bad(file, `shape (${shape[1]}) (a 2-D array, rows x dimension, is read)`);
  return { element, rows: dims[0]!, dimension: dims[1]!, dataOffset: reader.offset };
}

export async function* readNpy(
  file: string,
  options: ReadOptions,
  index: IndexShape,
): AsyncIterable<ImportRow> {
  const reader = await ChunkReader.open(file);
  try {
    const header = await readNpyHeader(reader, file);
    const rowBytes = header.dimension * header.element.width;
    reader.seek(header.dataOffset + Math.min(options.skip, header.rows) * rowBytes);
    for (let row = options.skip; row < header.rows; row++) {
      const position = `${file}: row ${row} (byte ${reader.offset})`;
      const body = await reader.take(rowBytes);
      if (body.length < rowBytes) {
        yield { row, position, error: `truncated: ${body.length} of ${rowBytes} bytes of the row` };
        return;
      }
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      const values = new Float32Array(header.dimension);
      for (let i = 0; i < header.dimension; i++)
        values[i] = header.element.read(view, i * header.element.width);
      yield { row, position, ...validateRecord({ id: idOf(row, options.ids, file), values }, index) };
    }
  } finally {
    await reader.close();
  }
}

/** Rows in the file, from its header (the progress bar's total). */
export async function npyRows(file: string): Promise<number> {
  const reader = await ChunkReader.open(file);
  try {
    return (await readNpyHeader(reader, file)).rows;
  } finally {
    await reader.close();
  }
}
