/**
 * Huge and tiny finite values through the engine, over all three metrics, dense, sparse and
 * hybrid, in the memtable, in slabs and after a reopen: every score is a finite number, an
 * ordinary row keeps its score and place (checked against a float64 reference), cosine ranks
 * rows of any non-zero finite magnitude correctly, and what dotproduct and euclidean cannot
 * score in float32 is refused at the door naming the field and the limit.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { componentMagnitudeMax } from "../ffi/mod.ts";
import { NeedleError } from "../storage/errors.ts";
import type { Metric, SparseValues, VectorRecord } from "../storage/types.ts";
import type { Engine, QueryRequest } from "./api.ts";
import { openEngine } from "./mod.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const largestFloat32 = 3.4028234663852886e38;
const smallestNormal = 1.1754943508222875e-38;
const smallestSubnormal = 1.401298464324817e-45;
const dimension = 4;

/** Rows of ordinary size, then the extremes a metric accepts. */
function rowsFor(metric: Metric): { id: string; values: number[] }[] {
  const ordinary = [
    { id: "o1", values: [1, 2, 3, 4] },
    { id: "o2", values: [4, 3, 2, 1] },
    { id: "o3", values: [-1, 0.5, 2, -3] },
    { id: "o4", values: [0.25, 0.25, 0.5, 1] },
  ];
  const big = metric === "cosine" ? 3e38 : componentMagnitudeMax;
  return [
    ...ordinary,
    { id: "big", values: [big, big, big, big] },
    { id: "big-mixed", values: [big, -big / 2, 1, 0] },
    { id: "normal-min", values: [smallestNormal, smallestNormal * 2, smallestNormal, 0] },
    { id: "subnormal", values: [smallestSubnormal, 0, smallestSubnormal * 3, smallestSubnormal] },
  ];
}

function queriesFor(metric: Metric): number[][] {
  const big = metric === "cosine" ? largestFloat32 : componentMagnitudeMax;
  return [
    [1, 2, 3, 4],
    [big, big, big, big],
    [Math.min(1e38, big), Math.min(1e38, big), 1, 1],
    [smallestNormal, smallestNormal, 0, smallestNormal],
    [smallestSubnormal, smallestSubnormal * 2, 0, 0],
    [-2, 0.5, 1, 0.125],
  ];
}

/** The score Pinecone defines, in float64 over the float32 values the engine stores. */
function reference(metric: Metric, query: number[], row: number[]): number {
  let dot = 0;
  let queryNorm = 0;
  let rowNorm = 0;
  let distance = 0;
  for (let d = 0; d < query.length; d++) {
    const q = Math.fround(query[d]!);
    const x = Math.fround(row[d]!);
    dot += q * x;
    queryNorm += q * q;
    rowNorm += x * x;
    distance += (q - x) * (q - x);
  }
  if (metric === "dotproduct") return dot;
  if (metric === "euclidean") return distance;
  return dot / (Math.sqrt(queryNorm) * Math.sqrt(rowNorm));
}

/**
 * Scores within float32 rounding of the reference, and order alike up to near-ties. Float32
 * sums err by up to ~1e-7 of the sum of the terms' magnitudes (|q_i x_i|, or (|q_i| + |x_i|)^2
 * for distances), whatever the score itself is: 1e16 - 1e16 + 3 may come out 0. So each score
 * gets that tolerance, and two matches may swap only when their scores are that close.
 */
function expectMatchesReference(
  metric: Metric,
  query: number[],
  rows: { id: string; values: number[] }[],
  matches: { id: string; score: number }[],
): void {
  expect(matches).toHaveLength(rows.length);
  const byId = new Map(rows.map((row) => [row.id, row.values]));
  const checked = matches.map((match) => {
    expect(Number.isFinite(match.score)).toBe(true);
    const row = byId.get(match.id)!;
    const truth = reference(metric, query, row);
    let scale = 0;
    for (let d = 0; d < dimension; d++) {
      const q = Math.abs(Math.fround(query[d]!));
      const x = Math.abs(Math.fround(row[d]!));
      scale += metric === "euclidean" ? (q + x) ** 2 : q * x;
    }
    const tolerance = metric === "cosine" ? 1e-5 : 1e-5 * scale + 1e-40;
    expect(Math.abs(match.score - truth)).toBeLessThanOrEqual(tolerance);
    return { truth, tolerance };
  });
  for (let i = 1; i < checked.length; i++) {
    const previous = checked[i - 1]!;
    const current = checked[i]!;
    const slack = previous.tolerance + current.tolerance;
    if (metric === "euclidean") expect(previous.truth).toBeLessThanOrEqual(current.truth + slack);
    else expect(previous.truth).toBeGreaterThanOrEqual(current.truth - slack);
  }
}

function query(vector: number[], topK: number): QueryRequest {
  return { topK, vector: Float32Array.from(vector), includeValues: false, includeMetadata: false };
}

async function freshEngine(): Promise<{ engine: Engine; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "needle-extreme-"));
  dirs.push(dir);
  return { engine: await openEngine({ dir, log: () => {} }), dir };
}

/** Runs `check` with the records in the memtable, in a slab, and after a reopen. */
async function inEveryStage(
  setup: (engine: Engine) => Promise<void>,
  check: (engine: Engine, stage: string) => Promise<void>,
): Promise<void> {
  let { engine, dir } = await freshEngine();
  await setup(engine);
  await check(engine, "memtable");
  await engine.close(); // flushes the memtable into a slab
  engine = await openEngine({ dir, log: () => {} });
  await check(engine, "slab after reopen");
  await engine.close();
}

describe.each(["cosine", "dotproduct", "euclidean"] as const)("%s: dense", (metric) => {
  test("huge, smallest normal and subnormal rows and queries: finite scores, reference order", async () => {
    const rows = rowsFor(metric);
    await inEveryStage(
      async (engine) => {
        await engine.createIndex({ name: "x", dimension, metric, vectorType: "dense" });
        await engine.upsert(
          "x",
          "n",
          rows.map((row) => ({ id: row.id, values: Float32Array.from(row.values) })),
        );
      },
      async (engine) => {
        for (const vector of queriesFor(metric)) {
          const { matches } = await engine.query("x", "n", query(vector, rows.length));
          expectMatchesReference(metric, vector, rows, matches);
        }
        // An ordinary query's top match is still the ordinary row it was, with its exact score.
        const { matches } = await engine.query("x", "n", query([1, 2, 3, 4], 1));
        if (metric !== "dotproduct") expect(matches[0]!.id).toBe("o1");
        if (metric === "cosine") expect(matches[0]!.score).toBeCloseTo(1, 6);
        // Query by the stored huge row.
        const byId = await engine.query("x", "n", {
          topK: rows.length,
          id: "big",
          includeValues: false,
          includeMetadata: false,
        });
        expectMatchesReference(metric, rows.find((row) => row.id === "big")!.values, rows, byId.matches);
      },
    );
  });
});

describe("dotproduct: sparse and hybrid", () => {
  const sparse = (indices: number[], values: number[]): SparseValues => ({
    indices: Uint32Array.from(indices),
    values: Float32Array.from(values),
  });

  test("a sparse index at the largest and smallest accepted magnitudes scores finitely and in order", async () => {
    const big = componentMagnitudeMax;
    const records: VectorRecord[] = [
      { id: "s-ordinary", sparseValues: sparse([1, 5], [0.5, 2]) },
      { id: "s-big", sparseValues: sparse([1, 5, 9], [big, big, -big]) },
      { id: "s-tiny", sparseValues: sparse([1, 5], [smallestSubnormal, smallestNormal]) },
    ];
    await inEveryStage(
      async (engine) => {
        await engine.createIndex({ name: "s", metric: "dotproduct", vectorType: "sparse" });
        await engine.upsert("s", "n", records);
      },
      async (engine) => {
        for (const values of [
          [1, 1],
          [big, big],
          [smallestSubnormal, smallestSubnormal],
        ]) {
          const { matches } = await engine.query("s", "n", {
            topK: 3,
            sparseVector: sparse([1, 5], values),
            includeValues: false,
            includeMetadata: false,
          });
          expect(matches.length).toBeGreaterThan(0);
          for (const match of matches) expect(Number.isFinite(match.score)).toBe(true);
          const scores = matches.map((match) => match.score);
          expect(scores).toEqual([...scores].sort((a, b) => b - a));
        }
      },
    );
  });

  test("hybrid rows mixing huge dense and sparse parts with ordinary ones", async () => {
    const big = componentMagnitudeMax;
    await inEveryStage(
      async (engine) => {
        await engine.createIndex({ name: "h", dimension, metric: "dotproduct", vectorType: "dense" });
        await engine.upsert("h", "n", [
          { id: "h-ordinary", values: Float32Array.of(1, 2, 3, 4), sparseValues: sparse([3], [1]) },
          { id: "h-big", values: Float32Array.of(big, big, big, big), sparseValues: sparse([3], [big]) },
          {
            id: "h-tiny",
            values: Float32Array.of(smallestSubnormal, 0, 0, 0),
            sparseValues: sparse([3], [smallestNormal]),
          },
        ]);
      },
      async (engine) => {
        for (const scale of [1, big, smallestNormal]) {
          const { matches } = await engine.query("h", "n", {
            topK: 3,
            vector: Float32Array.of(scale, scale, scale, scale),
            sparseVector: sparse([3], [scale]),
            includeValues: false,
            includeMetadata: false,
          });
          expect(matches.map((match) => match.id).sort()).toEqual(["h-big", "h-ordinary", "h-tiny"]);
          for (const match of matches) expect(Number.isFinite(match.score)).toBe(true);
          expect(matches[0]!.id).toBe("h-big");
        }
      },
    );
  });
});

describe("what dotproduct and euclidean cannot score in float32 is refused at the door", () => {
  test("records, updates and queries over the magnitude limit name the element and the limit", async () => {
    const { engine } = await freshEngine();
    await engine.createIndex({ name: "d", dimension, metric: "euclidean", vectorType: "dense" });
    await engine.createIndex({ name: "p", dimension, metric: "dotproduct", vectorType: "dense" });
    await engine.createIndex({ name: "c", dimension, metric: "cosine", vectorType: "dense" });
    const over = componentMagnitudeMax * 10;
    const attempts: [string, () => Promise<unknown>][] = [
      [
        "records[1].values[2]",
        () =>
          engine.upsert("d", "n", [
            { id: "a", values: Float32Array.of(1, 1, 1, 1) },
            { id: "b", values: Float32Array.of(1, 1, over, 1) },
          ]),
      ],
      [
        "update.values[0]",
        () => engine.update("d", "n", { id: "a", values: Float32Array.of(-over, 0, 0, 0) }),
      ],
      ["query.values[3]", () => engine.query("p", "n", query([1, 1, 1, over], 1))],
      [
        "records[0].sparseValues.values[0]",
        () =>
          engine.upsert("p", "n", [
            {
              id: "s",
              values: Float32Array.of(1, 1, 1, 1),
              sparseValues: { indices: Uint32Array.of(1), values: Float32Array.of(over) },
            },
          ]),
      ],
    ];
    for (const [field, attempt] of attempts) {
      const error = (await attempt().catch((caught) => caught)) as NeedleError;
      expect(error).toBeInstanceOf(NeedleError);
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.field).toBe(field);
      expect(error.limit).toBe(`magnitude at most ${componentMagnitudeMax}`);
    }
    // Nothing half-applied, and cosine takes any finite value.
    expect((await engine.fetch("d", "n", ["a", "b"])).records).toEqual([]);
    await engine.upsert("c", "n", [
      { id: "max", values: Float32Array.of(largestFloat32, largestFloat32, 1, 1) },
    ]);
    const { matches } = await engine.query("c", "n", query([largestFloat32, largestFloat32, 1, 1], 1));
    expect(matches[0]!.score).toBeCloseTo(1, 6);
    await engine.close();
  });
});
