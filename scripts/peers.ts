/**
 * The ANN benchmark's peers (bench-ann.ts), each loaded from the same data in the same run and
 * swept over its own search-effort knob. Versions are pinned in package.json (exact):
 *   - hnswlib-node 3.0.0: HNSW in memory, M 16, efConstruction 200; knob ef.
 *   - usearch 2.26.2: HNSW in memory (float32), connectivity 16, expansion_add 200, one thread;
 *     knob expansion_search (the JavaScript binding sets it only at construction, so each
 *     setting opens a view of the saved index with its own).
 *   - @lancedb/lancedb 0.31.0: IVF-PQ on local files (sqrt(rows) partitions, dim / 8
 *     sub-vectors, refine factor 10), LANCE_CPU_THREADS=1; knob nprobes.
 *   - PGlite 0.5.14 + pgvector 0.8 compiled to WASM (@electric-sql/pglite-pgvector 0.0.15):
 *     HNSW (m 16, ef_construction 64, pgvector's defaults), in memory; knob hnsw.ef_search.
 *     WASM, so slower than a native PostgreSQL with pgvector: said in every table.
 * Every peer answers with row numbers, so recall is computed the same way for all.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnnData } from "./ann-data.ts";
import { loadHnswlib } from "./ann-data.ts";

export interface PeerSetting {
  label: string;
  /** Runs once before the setting's queries are timed (switching the knob). */
  prepare?: () => void | Promise<void>;
  /** The query's best k rows, only rows with `bucket < bucketsBelow` when given (filters). */
  search: (query: number, bucketsBelow?: number) => number[] | Promise<number[]>;
}

export interface LoadedPeer {
  system: string;
  buildSeconds: number;
  /** What the bytes per vector count, and how many. */
  bytesPerVector: number;
  bytesNote: string;
  /** Whether `search` takes a filter (hnswlib-node: its callback; LanceDB: a prefilter). */
  filters: boolean;
  settings: PeerSetting[];
  close(): Promise<void>;
}

export type PeerName = "hnswlib" | "usearch" | "lancedb" | "pglite";
export const peerNames: PeerName[] = ["hnswlib", "usearch", "lancedb", "pglite"];

export function loadPeer(name: PeerName, data: AnnData, seed: number, k: number): Promise<LoadedPeer> {
  switch (name) {
    case "hnswlib":
      return hnswlibPeer(data, seed, k);
    case "usearch":
      return usearchPeer(data, k);
    case "lancedb":
      return lancedbPeer(data, k);
    case "pglite":
      return pglitePeer(data, k);
  }
}

const row = (data: AnnData, r: number) => data.vectors.subarray(r * data.dim, (r + 1) * data.dim);

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

async function hnswlibPeer(data: AnnData, seed: number, k: number): Promise<LoadedPeer> {
  const peer = loadHnswlib(data, seed);
  return {
    system: "hnswlib-node 3.0.0",
    buildSeconds: peer.buildSeconds,
    bytesPerVector: peer.memoryBytesPerVector,
    bytesNote: "resident, level-0 layout (a lower bound)",
    filters: true,
    settings: [10, 20, 40, 80, 160, 320, 640].map((ef) => ({
      label: `ef ${ef}`,
      prepare: () => peer.index.setEf(ef),
      search: (q, below) =>
        peer.index.searchKnn(
          peer.plain[q]!,
          k,
          below === undefined ? undefined : (label) => data.buckets[label]! < below,
        ).neighbors,
    })),
    async close() {},
  };
}

async function usearchPeer(data: AnnData, k: number): Promise<LoadedPeer> {
  const usearch = (await import("usearch")).default;
  const metric = data.metric === "cosine" ? "cos" : data.metric === "euclidean" ? "l2sq" : "ip";
  const config = (expansionSearch: number) => ({
    dimensions: data.dim,
    metric: metric as never,
    quantization: "f32" as never,
    connectivity: 16,
    expansion_add: 200,
    expansion_search: expansionSearch,
    multi: false,
  });
  const started = performance.now();
  const built = new usearch.Index(config(64));
  for (let start = 0; start < data.rows; start += 10_000) {
    const end = Math.min(data.rows, start + 10_000);
    const keys = BigUint64Array.from({ length: end - start }, (_, i) => BigInt(start + i));
    built.add(keys, data.vectors.subarray(start * data.dim, end * data.dim), 1);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  const dir = mkdtempSync(join(tmpdir(), "needle-bench-usearch-"));
  const file = join(dir, "index.usearch");
  built.save(file);
  const bytesPerVector = statSync(file).size / data.rows;
  let current = built;
  return {
    system: "usearch 2.26.2",
    buildSeconds,
    bytesPerVector,
    bytesNote: "resident (its serialized index: vectors and graph)",
    filters: false,
    settings: [10, 20, 40, 80, 160, 320, 640].map((ef) => ({
      label: `expansion_search ${ef}`,
      prepare: () => {
        current = new usearch.Index(config(ef));
        current.load(file);
      },
      search: (q) => Array.from(current.search(data.queries[q]!, k, 1).keys, Number),
    })),
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function lancedbPeer(data: AnnData, k: number): Promise<LoadedPeer> {
  process.env.LANCE_CPU_THREADS = "1";
  const lancedb = await import("@lancedb/lancedb");
  const dir = mkdtempSync(join(tmpdir(), "needle-bench-lancedb-"));
  const distanceType = data.metric === "cosine" ? "cosine" : data.metric === "euclidean" ? "l2" : "dot";
  const started = performance.now();
  const db = await lancedb.connect(dir);
  const batch = (start: number) =>
    Array.from({ length: Math.min(10_000, data.rows - start) }, (_, i) => ({
      id: start + i,
      bucket: data.buckets[start + i]!,
      vector: Array.from(row(data, start + i)),
    }));
  const table = await db.createTable("vectors", batch(0));
  for (let start = 10_000; start < data.rows; start += 10_000) await table.add(batch(start));
  await table.createIndex("vector", {
    config: lancedb.Index.ivfPq({
      distanceType,
      numPartitions: Math.max(1, Math.round(Math.sqrt(data.rows))),
      numSubVectors: Math.max(1, Math.floor(data.dim / 8)),
    }),
  });
  const buildSeconds = (performance.now() - started) / 1000;
  const bytesPerVector = directoryBytes(dir) / data.rows;
  const plain = data.queries.map((query) => Array.from(query));
  let nprobes = 20;
  return {
    system: "LanceDB 0.31.0 (IVF-PQ)",
    buildSeconds,
    bytesPerVector,
    bytesNote: "on disk (vectors, PQ codes, index)",
    filters: true,
    settings: [5, 10, 20, 40, 80, 160].map((probes) => ({
      label: `nprobes ${probes}, refine 10`,
      prepare: () => {
        nprobes = probes;
      },
      search: async (q, below) => {
        let search = table.vectorSearch(plain[q]!);
        // LanceDB filters before the vector search by default (a prefilter).
        if (below !== undefined) search = search.where(`bucket < ${below}`);
        const found = await search
          .distanceType(distanceType)
          .nprobes(nprobes)
          .refineFactor(10)
          .limit(k)
          .select(["id", "_distance"])
          .toArray();
        return found.map((hit: { id: number }) => Number(hit.id));
      },
    })),
    async close() {
      table.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pglitePeer(data: AnnData, k: number): Promise<LoadedPeer> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { vector } = await import("@electric-sql/pglite-pgvector");
  const operators =
    data.metric === "cosine"
      ? { ops: "vector_cosine_ops", distance: "<=>" }
      : data.metric === "euclidean"
        ? { ops: "vector_l2_ops", distance: "<->" }
        : { ops: "vector_ip_ops", distance: "<#>" };
  const started = performance.now();
  const pg = new PGlite({ extensions: { vector } });
  await pg.exec(
    `CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE items (id integer PRIMARY KEY, embedding vector(${data.dim}), bucket integer);`,
  );
  const literal = (values: Float32Array) => `[${Array.from(values).join(",")}]`;
  for (let start = 0; start < data.rows; start += 500) {
    const values: string[] = [];
    for (let r = start; r < Math.min(data.rows, start + 500); r++) {
      values.push(`(${r}, '${literal(row(data, r))}', ${data.buckets[r]})`);
    }
    await pg.exec(`INSERT INTO items VALUES ${values.join(",")};`);
  }
  await pg.exec(
    `SET maintenance_work_mem = '1GB'; CREATE INDEX ON items USING hnsw (embedding ${operators.ops}) WITH (m = 16, ef_construction = 64);`,
  );
  const buildSeconds = (performance.now() - started) / 1000;
  const size = await pg.query<{ bytes: number }>("SELECT pg_total_relation_size('items')::float8 AS bytes");
  const queries = data.queries.map(literal);
  return {
    system: "PGlite 0.5.14 + pgvector (WASM, HNSW)",
    buildSeconds,
    bytesPerVector: size.rows[0]!.bytes / data.rows,
    bytesNote: "table + index pages, in its in-memory file system",
    filters: false,
    settings: [10, 20, 40, 80, 160, 320].map((ef) => ({
      label: `hnsw.ef_search ${ef}`,
      prepare: async () => {
        await pg.exec(`SET hnsw.ef_search = ${ef};`);
      },
      search: async (q) => {
        const found = await pg.query<{ id: number }>(
          `SELECT id FROM items ORDER BY embedding ${operators.distance} $1 LIMIT ${k}`,
          [queries[q]],
        );
        return found.rows.map((hit) => hit.id);
      },
    })),
    async close() {
      await pg.close();
    },
  };
}
