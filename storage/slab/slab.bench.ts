/**
 * Slab costs on this machine: encode and open of a 1M-row slab, 1,000 id lookups by binary
 * search against building a Map of every id, and crc32 throughput (the cost of verifying
 * every checksum at open). Run by hand: `bun storage/slab/slab.bench.ts [rows] [dim]`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { VectorRecord } from "../types.ts";
import { encodeSlab } from "./encode.ts";
import { SlabReader } from "./reader.ts";
import { randomInt, seededRandom } from "./testing.ts";

const rows = Number(process.argv[2] ?? 1_000_000);
const dim = Number(process.argv[3] ?? 16);
const seed = 42;
const random = seededRandom(seed);
const table: [string, string][] = [];
const time = <T>(label: string, run: () => T, detail: (result: T, ms: number) => string = () => ""): T => {
  const start = performance.now();
  const result = run();
  const ms = performance.now() - start;
  table.push([label, `${ms.toFixed(1)} ms ${detail(result, ms)}`]);
  return result;
};

const idOf = (row: number) => `doc-${row.toString(36).padStart(6, "0")}-${(row * 7919) % 1000}`;
const records: VectorRecord[] = Array.from({ length: rows }, (_, row) => ({
  id: idOf(row),
  values: Float32Array.from({ length: dim }, () => random() * 2 - 1),
}));

const directory = mkdtempSync(join(tmpdir(), "needle-slab-bench-"));
try {
  const file = time(
    `encode ${rows} rows x ${dim}`,
    () =>
      encodeSlab({
        slabId: "bench",
        namespace: "bench",
        level: 0,
        dim,
        metric: "cosine",
        records,
        minLsn: 1n,
        maxLsn: BigInt(rows),
        sourceSlabs: [],
      }),
    (bytes) => `(${(bytes.length / 2 ** 20).toFixed(0)} MiB)`,
  );
  const path = join(directory, "bench.slab");
  writeFileSync(path, file);
  const reader = time("openFile (mmap + verify everything)", () => SlabReader.openFile(path));
  const wanted = Array.from({ length: 1000 }, () => idOf(randomInt(random, rows)));
  time(
    "rowOf x 1,000 (binary search)",
    () => wanted.map((id) => reader.rowOf(id)),
    (found) => `(${found.filter((row) => row >= 0).length} found)`,
  );
  time("peer: Map of every id, then 1,000 gets", () => {
    const map = new Map<string, number>();
    for (let row = 0; row < rows; row++) map.set(reader.id(row), row);
    return wanted.map((id) => map.get(id));
  });
  reader.close();

  const crcBytes = 512 * 2 ** 20;
  const buffer = new Uint8Array(crcBytes);
  for (let i = 0; i < crcBytes; i += 4096) buffer[i] = i & 0xff;
  time(
    "Bun.hash.crc32 over 512 MiB",
    () => Bun.hash.crc32(buffer),
    (_, ms) => `(${(crcBytes / ms / 1e6).toFixed(1)} GB/s)`,
  );
} finally {
  rmSync(directory, { recursive: true, force: true });
}

console.log(`seed ${seed}`);
const width = Math.max(...table.map(([label]) => label.length));
for (const [label, value] of table) console.log(`${label.padEnd(width)}  ${value}`);
