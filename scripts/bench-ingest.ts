/**
 * Durable ingest benchmark: 768-d vectors in batches of 1,000 through the embedded library
 * (each batch fsync'd before it is acknowledged), next to bun:sqlite inserting the same rows
 * (id, vector blob, metadata JSON) in one transaction per batch with synchronous=FULL, in the
 * same run on the same disk. Prints a table and writes bench-results/ingest.{json,md}.
 *
 *     bun scripts/bench-ingest.ts [--vectors 50000] [--dim 768]
 */
import { Database } from "bun:sqlite";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { open } from "../gateway/library/mod.ts";
import { seededRandom } from "../ffi/seeded-random.ts";

const { values: args } = parseArgs({
  options: { vectors: { type: "string", default: "50000" }, dim: { type: "string", default: "768" } },
});
const vectorCount = Number(args.vectors);
const dim = Number(args.dim);
const batchSize = 1000;
const batches = Math.ceil(vectorCount / batchSize);

// One set of batches shared by both systems, generated before timing.
const random = seededRandom(7);
const data = Array.from({ length: batches }, (_, b) =>
  Array.from({ length: Math.min(batchSize, vectorCount - b * batchSize) }, (_, i) => ({
    id: `vec-${b * batchSize + i}`,
    values: Array.from({ length: dim }, () => random() * 2 - 1),
    metadata: { batch: b, group: `g${i % 10}` },
  })),
);

async function needle(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "needle-bench-ingest-"));
  const db = await open(dir, { log: () => {} });
  await db.createIndex({ name: "bench", dimension: dim, metric: "cosine" });
  const index = db.index("bench");
  const start = performance.now();
  for (const records of data) await index.upsert({ records });
  const seconds = (performance.now() - start) / 1000;
  await db.close();
  await rm(dir, { recursive: true, force: true });
  return seconds;
}

async function sqlite(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "needle-bench-sqlite-"));
  const db = new Database(join(dir, "bench.db"));
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
  db.run("CREATE TABLE vectors (id TEXT PRIMARY KEY, vector BLOB NOT NULL, metadata TEXT)");
  const insert = db.prepare("INSERT OR REPLACE INTO vectors (id, vector, metadata) VALUES (?, ?, ?)");
  const start = performance.now();
  for (const records of data) {
    db.transaction(() => {
      for (const r of records) insert.run(r.id, new Float32Array(r.values), JSON.stringify(r.metadata));
    })();
  }
  const seconds = (performance.now() - start) / 1000;
  db.close();
  await rm(dir, { recursive: true, force: true });
  return seconds;
}

const needleSeconds = await needle();
const sqliteSeconds = await sqlite();
const rows = [
  { system: "Needle (library, durable batches)", seconds: needleSeconds },
  { system: "bun:sqlite (WAL, synchronous=FULL, txn per batch)", seconds: sqliteSeconds },
].map((row) => ({ ...row, vectorsPerSecond: Math.round(vectorCount / row.seconds) }));

const header = `Durable ingest: ${vectorCount} x ${dim}-d float32, batches of ${batchSize}`;
const table = [
  `| system | seconds | vectors/s | vs bun:sqlite |`,
  `|---|---:|---:|---:|`,
  ...rows.map(
    (r) =>
      `| ${r.system} | ${r.seconds.toFixed(2)} | ${r.vectorsPerSecond} | ${(r.vectorsPerSecond / rows[1]!.vectorsPerSecond).toFixed(2)}x |`,
  ),
].join("\n");
console.log(`${header}\n\n${table}`);
const resultsDir = join(import.meta.dir, "..", "bench-results");
await writeFile(
  join(resultsDir, "ingest.json"),
  `${JSON.stringify({ date: new Date().toISOString(), vectorCount, dim, batchSize, rows }, null, 2)}\n`,
);
await writeFile(join(resultsDir, "ingest.md"), `# ${header}\n\n${table}\n`);
