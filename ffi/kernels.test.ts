/**
 * One shared suite run against every kernel implementation this machine has (each C dispatch
 * path and the TypeScript twin), checked against a float64 brute force and against each other.
 *
 * Why tolerances: the C paths sum float32 products in lanes and accumulators, the twin sums in
 * float64; a score therefore differs from the exact value by rounding, bounded here by
 * `relativeTolerance * magnitude` where magnitude is the sum of absolute terms (the scale the
 * rounding error is proportional to). Two rows whose exact scores lie within those bounds of
 * each other may legitimately trade places, so rankings are compared exactly except between
 * such near-ties. Where the arithmetic is the same on both sides (int8 codes, identical rows,
 * ties) the results must be bit-identical.
 *
 * The seed is printed; rerun a failure with NEEDLE_TEST_SEED=<seed>.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { NeedleError } from "../storage/errors.ts";
import {
  availableKernels,
  computeInverseNorms,
  type Int8ScanInput,
  inverseNorm,
  type Kernels,
  type Metric,
  metrics,
  referenceDebugChecks,
  type ScanInput,
  sparseDot,
  type TopK,
  typescriptKernels,
} from "./mod.ts";
import { seededRandom } from "./seeded-random.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`ffi/kernels.test.ts seed=${seed}`);

const relativeTolerance = 3e-5;
const dimensions = [
  1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257,
];
const largeDimensions = [768, 1023, 1024, 2048];
const rowsSmall = 67;
const rowsLarge = 23;

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/**
 * A float32 array of `length` values placed at a 4-byte (not 16-byte) offset in its buffer,
 * so every SIMD path must cope with unaligned data and the binding must honour byteOffset.
 */
function unalignedFloat32(length: number): Float32Array {
  return new Float32Array(new ArrayBuffer((length + 4) * 4), 4, length);
}

interface Dataset {
  query: Float32Array;
  vectors: Float32Array;
  rows: number;
  dim: number;
  inverseNorms: Float32Array;
}

/**
 * Magnitudes: "unit" draws Gaussian values; "wide" scales each row and the query by 2^e, e
 * uniform in [-40, 50], so components span what the engine accepts for dotproduct and
 * euclidean (|x| <= 1e16, ffi/score-range.ts) and norms span what the cosine kernels serve
 * (2^-60 .. 2^60); rows of one dataset differ in scale by up to 2^90.
 */
type Magnitudes = "unit" | "wide";

function scaleOf(next: () => number, magnitudes: Magnitudes): number {
  return magnitudes === "unit" ? 1 : 2 ** Math.floor(-40 + next() * 91);
}

function makeDataset(
  next: () => number,
  rows: number,
  dim: number,
  magnitudes: Magnitudes = "unit",
): Dataset {
  const vectors = unalignedFloat32(rows * dim);
  for (let row = 0; row < rows; row++) {
    const scale = scaleOf(next, magnitudes);
    for (let d = 0; d < dim; d++) vectors[row * dim + d] = gaussian(next) * scale;
  }
  const query = unalignedFloat32(dim);
  const queryScale = scaleOf(next, magnitudes);
  for (let i = 0; i < dim; i++) query[i] = gaussian(next) * queryScale;
  // A duplicated row (exact tie, whatever the arithmetic) and an all-zero row (cosine 0).
  if (rows > 4) {
    vectors.copyWithin(3 * dim, 1 * dim, 2 * dim);
    vectors.fill(0, 4 * dim, 5 * dim);
  }
  const inverseNorms = new Float32Array(rows);
  computeInverseNorms(vectors, rows, dim, inverseNorms);
  return { query, vectors, rows, dim, inverseNorms };
}

/** Exact float64 score of every row, and the rounding-error scale of each. */
function bruteForce(data: Dataset, metric: Metric): { exact: Float64Array; tolerance: Float64Array } {
  const { query, vectors, rows, dim } = data;
  const exact = new Float64Array(rows);
  const tolerance = new Float64Array(rows);
  let querySquared = 0;
  for (let d = 0; d < dim; d++) querySquared += query[d]! * query[d]!;
  for (let row = 0; row < rows; row++) {
    let dot = 0;
    let absolute = 0;
    let squared = 0;
    let distance = 0;
    for (let d = 0; d < dim; d++) {
      const x = vectors[row * dim + d]!;
      dot += query[d]! * x;
      absolute += Math.abs(query[d]! * x);
      squared += x * x;
      distance += (query[d]! - x) ** 2;
    }
    if (metric === "euclidean") {
      exact[row] = distance;
      tolerance[row] = relativeTolerance * distance + 1e-30;
    } else if (metric === "dotproduct") {
      exact[row] = dot;
      tolerance[row] = relativeTolerance * absolute + 1e-30;
    } else {
      const scale = squared > 0 && querySquared > 0 ? 1 / Math.sqrt(squared * querySquared) : 0;
      exact[row] = dot * scale;
      tolerance[row] = relativeTolerance * absolute * scale + 1e-30;
    }
  }
  return { exact, tolerance };
}

/** Higher-is-better key for a score. */
function keyOf(metric: Metric, score: number): number {
  return metric === "euclidean" ? -score : score;
}

/**
 * Checks one top-k against the float64 truth:
 *   1. size is min(k, eligible rows); rows are eligible and distinct;
 *   2. each reported score is within tolerance of the exact score of its row;
 *   3. the order follows the reported scores, ties by smaller row (exact: this is the heap's rule);
 *   4. no eligible row left out is better than the worst kept one beyond tolerance.
 */
function checkTopK(
  result: TopK,
  truth: ReturnType<typeof bruteForce>,
  eligible: number[],
  k: number,
  metric: Metric,
) {
  const { exact, tolerance } = truth;
  expect(result.rows.length).toBe(Math.min(k, eligible.length));
  expect(result.scores.length).toBe(result.rows.length);
  const eligibleSet = new Set(eligible);
  const kept = new Set<number>();
  for (let i = 0; i < result.rows.length; i++) {
    const row = result.rows[i]!;
    expect(eligibleSet.has(row)).toBe(true);
    expect(kept.has(row)).toBe(false);
    kept.add(row);
    expect(Math.abs(result.scores[i]! - exact[row]!)).toBeLessThanOrEqual(tolerance[row]!);
    if (i > 0) {
      const previousKey = keyOf(metric, result.scores[i - 1]!);
      const key = keyOf(metric, result.scores[i]!);
      expect(previousKey >= key).toBe(true);
      if (previousKey === key) expect(result.rows[i - 1]! < row).toBe(true);
    }
  }
  if (result.rows.length === 0) return;
  const worstRow = result.rows[result.rows.length - 1]!;
  const worstKey = keyOf(metric, exact[worstRow]!);
  for (const row of eligible) {
    if (kept.has(row)) continue;
    expect(keyOf(metric, exact[row]!)).toBeLessThanOrEqual(worstKey + tolerance[row]! + tolerance[worstRow]!);
  }
}

/** Two implementations agree position by position, except between near-tied rows. */
function checkAgreement(a: TopK, b: TopK, truth: ReturnType<typeof bruteForce>) {
  expect(a.rows.length).toBe(b.rows.length);
  for (let i = 0; i < a.rows.length; i++) {
    const rowA = a.rows[i]!;
    const rowB = b.rows[i]!;
    if (rowA === rowB) continue;
    // Each side may misjudge each of the two rows by its tolerance.
    const gap = Math.abs(truth.exact[rowA]! - truth.exact[rowB]!);
    expect(gap).toBeLessThanOrEqual(2 * (truth.tolerance[rowA]! + truth.tolerance[rowB]!));
  }
}

function randomBitset(
  next: () => number,
  rows: number,
  density: number,
): { bitset: Uint8Array; eligible: number[] } {
  // One spare byte of set bits past the end: bits at or beyond `rows` must be ignored. The
  // bitset is a view at an odd byte offset, so the binding must honour byteOffset.
  const bitset = new Uint8Array(new ArrayBuffer(Math.ceil(rows / 8) + 4), 3, Math.ceil(rows / 8) + 1);
  const eligible: number[] = [];
  for (let row = 0; row < rows; row++) {
    if (next() < density) {
      bitset[row >> 3]! |= 1 << (row & 7);
      eligible.push(row);
    }
  }
  for (let bit = rows; bit < bitset.length * 8; bit++) bitset[bit >> 3]! |= 1 << (bit & 7);
  return { bitset, eligible };
}

function quantize(values: Float32Array, offset: number, dim: number, codes: Int8Array): number {
  let maximum = 0;
  for (let d = 0; d < dim; d++) maximum = Math.max(maximum, Math.abs(values[offset + d]!));
  const scale = maximum > 0 ? maximum / 127 : 1;
  for (let d = 0; d < dim; d++) codes[offset + d] = Math.round(values[offset + d]! / scale);
  return Math.fround(scale);
}

function int8Input(data: Dataset, metric: Metric, k: number): Int8ScanInput {
  const { rows, dim } = data;
  const codes = new Int8Array(rows * dim);
  const scales = new Float32Array(rows);
  for (let row = 0; row < rows; row++) scales[row] = quantize(data.vectors, row * dim, dim, codes);
  const queryCodes = new Int8Array(dim);
  const queryScale = quantize(data.query, 0, dim, queryCodes);
  const squaredNorms = new Float32Array(rows);
  for (let row = 0; row < rows; row++) {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += data.vectors[row * dim + d]! ** 2;
    squaredNorms[row] = sum;
  }
  let querySquaredNorm = 0;
  for (let d = 0; d < dim; d++) querySquaredNorm += data.query[d]! ** 2;
  return {
    queryCodes,
    queryScale,
    codes,
    scales,
    rows,
    dim,
    metric,
    k,
    inverseNorms: data.inverseNorms,
    queryInverseNorm: inverseNorm(data.query),
    squaredNorms,
    querySquaredNorm,
  };
}

/** Float64 value of the int8 approximation, the quantity scanTopKInt8 ranks by. */
function int8Truth(input: Int8ScanInput): ReturnType<typeof bruteForce> {
  const exact = new Float64Array(input.rows);
  const tolerance = new Float64Array(input.rows);
  for (let row = 0; row < input.rows; row++) {
    let dot = 0;
    for (let d = 0; d < input.dim; d++) dot += input.queryCodes[d]! * input.codes[row * input.dim + d]!;
    const approximate = dot * input.queryScale * input.scales[row]!;
    const magnitude = Math.abs(approximate);
    if (input.metric === "euclidean") {
      exact[row] = input.querySquaredNorm! + input.squaredNorms![row]! - 2 * approximate;
      tolerance[row] = 1e-6 * (input.querySquaredNorm! + input.squaredNorms![row]! + 2 * magnitude) + 1e-30;
    } else if (input.metric === "dotproduct") {
      exact[row] = approximate;
      tolerance[row] = 1e-6 * magnitude + 1e-30;
    } else {
      exact[row] = approximate * input.inverseNorms![row]! * input.queryInverseNorm!;
      tolerance[row] = 1e-6 * Math.abs(exact[row]!) + 1e-30;
    }
  }
  return { exact, tolerance };
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

const implementations = availableKernels();

test("the TypeScript twin is always available and listed last", () => {
  expect(implementations[implementations.length - 1]).toBe(typescriptKernels);
  expect(typescriptKernels.name).toBe("typescript");
});

for (const implementation of implementations) {
  describe(`kernels ${implementation.name}`, () => {
    const reference: Kernels = typescriptKernels;

    for (const [dim, magnitudes] of [
      ...[...dimensions, ...largeDimensions].map((dim) => [dim, "unit"] as const),
      ...[1, 7, 16, 33, 128, 257, 768, 2048].map((dim) => [dim, "wide"] as const),
    ]) {
      test(`float32 scans agree with float64 brute force, dim ${dim}, ${magnitudes} magnitudes`, () => {
        const next = seededRandom(seed + dim + (magnitudes === "wide" ? 7919 : 0));
        const rows = dim >= 768 ? rowsLarge : rowsSmall;
        const data = makeDataset(next, rows, dim, magnitudes);
        const { bitset, eligible: bitsetRows } = randomBitset(next, rows, 0.3);
        const listedRows = range(rows).filter(() => next() < 0.5);
        const rowIds = new Uint32Array(new ArrayBuffer((listedRows.length + 1) * 4), 4, listedRows.length);
        rowIds.set(listedRows);
        for (const metric of metrics) {
          const truth = bruteForce(data, metric);
          for (const k of [1, 10, rows + 5]) {
            const input: ScanInput = { ...data, metric, k };
            const all = implementation.scanTopK(input);
            checkTopK(all, truth, range(rows), k, metric);
            checkAgreement(all, reference.scanTopK(input), truth);
            const filtered = implementation.scanTopKBitset(input, bitset);
            checkTopK(filtered, truth, bitsetRows, k, metric);
            checkAgreement(filtered, reference.scanTopKBitset(input, bitset), truth);
            const listed = implementation.scanTopKRows(input, rowIds);
            checkTopK(listed, truth, Array.from(rowIds), k, metric);
            checkAgreement(listed, reference.scanTopKRows(input, rowIds), truth);
          }
        }
      });
    }

    test("identical rows tie and are returned by smaller row number", () => {
      const dim = 37;
      const rows = 300;
      const next = seededRandom(seed + 1);
      const row = Float32Array.from({ length: dim }, () => gaussian(next));
      const vectors = unalignedFloat32(rows * dim);
      for (let r = 0; r < rows; r++) vectors.set(row, r * dim);
      const query = Float32Array.from({ length: dim }, () => gaussian(next));
      const inverseNorms = new Float32Array(rows).fill(inverseNorm(row));
      const { bitset, eligible } = randomBitset(next, rows, 0.2);
      for (const metric of metrics) {
        const input: ScanInput = { query, vectors, rows, dim, metric, inverseNorms, k: 25 };
        expect(Array.from(implementation.scanTopK(input).rows)).toEqual(range(25));
        expect(Array.from(implementation.scanTopKBitset(input, bitset).rows)).toEqual(eligible.slice(0, 25));
        const rowIds = Uint32Array.from([5, 9, 200, 201, 299]);
        expect(Array.from(implementation.scanTopKRows({ ...input, k: 3 }, rowIds).rows)).toEqual([5, 9, 200]);
      }
    });

    test("a score that is not finite (NaN, or overflow to infinity) ranks last, reported as the worst infinity", () => {
      const dim = 9;
      const rows = 6;
      const vectors = Float32Array.from({ length: rows * dim }, (_, i) => (i % 7) - 3);
      vectors[2 * dim + 4] = Number.NaN;
      vectors.fill(3e38, 4 * dim, 5 * dim); // row 4 overflows: its dot product and distance are infinite
      const inverseNorms = new Float32Array(rows);
      computeInverseNorms(vectors, rows, dim, inverseNorms);
      const query = Float32Array.from({ length: dim }, (_, i) => (i < 5 ? i + 1 : 1));
      const worst = (metric: Metric) =>
        metric === "euclidean" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      // The twin's debug check would (rightly) call these scores a bug: this test is about ordering.
      const checking = referenceDebugChecks.finiteScores;
      referenceDebugChecks.finiteScores = false;
      try {
        for (const metric of metrics) {
          const result = implementation.scanTopK({
            query,
            vectors,
            rows,
            dim,
            metric,
            inverseNorms,
            k: rows,
          });
          expect(new Set(Array.from(result.rows.slice(rows - 2)))).toEqual(new Set([2, 4]));
          expect(result.scores[rows - 1]).toBe(worst(metric));
          expect(result.scores[rows - 2]).toBe(worst(metric));
          for (let i = 0; i < rows - 2; i++) expect(Number.isFinite(result.scores[i]!)).toBe(true);
        }
      } finally {
        referenceDebugChecks.finiteScores = checking;
      }
    });

    test("cosine scores of an all-zero row or query are 0", () => {
      const dim = 20;
      const vectors = new Float32Array(2 * dim).fill(0.5, dim);
      const inverseNorms = new Float32Array(2);
      computeInverseNorms(vectors, 2, dim, inverseNorms);
      const query = new Float32Array(dim).fill(1);
      const scored = implementation.scanTopK({
        query,
        vectors,
        rows: 2,
        dim,
        metric: "cosine",
        inverseNorms,
        k: 2,
      });
      expect(Array.from(scored.rows)).toEqual([1, 0]);
      expect(scored.scores[0]).toBeCloseTo(1, 6);
      expect(scored.scores[1]).toBe(0);
      const zero = implementation.scanTopK({
        ...{ vectors, inverseNorms, dim },
        query: new Float32Array(dim),
        rows: 2,
        metric: "cosine",
        k: 2,
      });
      expect(Array.from(zero.scores)).toEqual([0, 0]);
    });

    test("empty inputs give empty results", () => {
      const base: ScanInput = {
        query: new Float32Array(4),
        vectors: new Float32Array(0),
        rows: 0,
        dim: 4,
        metric: "dotproduct",
        k: 5,
      };
      expect(implementation.scanTopK(base).rows.length).toBe(0);
      expect(implementation.scanTopKBitset(base, new Uint8Array(0)).rows.length).toBe(0);
      const withRows = { ...base, vectors: new Float32Array(40), rows: 10 };
      expect(implementation.scanTopKRows(withRows, new Uint32Array(0)).rows.length).toBe(0);
      expect(implementation.scanTopKBitset(withRows, new Uint8Array(2)).rows.length).toBe(0);
    });

    test("bad arguments are NeedleErrors naming the field", () => {
      const dim = 4;
      const rows = 10;
      const base: ScanInput = {
        query: new Float32Array(dim),
        vectors: new Float32Array(rows * dim),
        rows,
        dim,
        metric: "dotproduct",
        k: 3,
      };
      const cases: [string, () => unknown][] = [
        ["k", () => implementation.scanTopK({ ...base, k: 0 })],
        ["k", () => implementation.scanTopK({ ...base, k: 10_001 })],
        ["inverseNorms", () => implementation.scanTopK({ ...base, metric: "cosine" })],
        ["query", () => implementation.scanTopK({ ...base, query: new Float32Array(dim + 1) })],
        ["vectors", () => implementation.scanTopK({ ...base, rows: rows + 1 })],
        ["bitset", () => implementation.scanTopKBitset(base, new Uint8Array(1))],
        ["rowIds", () => implementation.scanTopKRows(base, Uint32Array.from([3, 2]))],
        ["rowIds", () => implementation.scanTopKRows(base, Uint32Array.from([3, 3]))],
        ["rowIds", () => implementation.scanTopKRows(base, Uint32Array.from([1, rows]))],
      ];
      for (const [field, run] of cases) {
        let caught: unknown;
        try {
          run();
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(NeedleError);
        expect((caught as NeedleError).code).toBe("INVALID_ARGUMENT");
        expect((caught as NeedleError).field?.startsWith(field)).toBe(true);
      }
    });

    for (const dim of [1, 3, 16, 17, 31, 32, 33, 63, 64, 65, 100, 129, 768, 2048]) {
      test(`int8 scan is bit-identical to the twin and ranks by its approximation, dim ${dim}`, () => {
        const rows = dim >= 768 ? rowsLarge : rowsSmall;
        const data = makeDataset(seededRandom(seed + 7 * dim), rows, dim);
        for (const metric of metrics) {
          for (const k of [1, 10, rows + 5]) {
            const input = int8Input(data, metric, k);
            const result = implementation.scanTopKInt8(input);
            checkTopK(result, int8Truth(input), range(rows), k, metric);
            const twin = reference.scanTopKInt8(input);
            expect(Array.from(result.rows)).toEqual(Array.from(twin.rows));
            expect(Array.from(result.scores)).toEqual(Array.from(twin.scores));
          }
        }
      });

      test(`int8 row-list scan ranks only the listed rows, bit-identical to the twin, dim ${dim}`, () => {
        const rows = dim >= 768 ? rowsLarge : rowsSmall;
        const next = seededRandom(seed + 13 * dim);
        const data = makeDataset(next, rows, dim);
        const listed = range(rows).filter(() => next() < 0.4);
        const rowIds = Uint32Array.from(listed);
        for (const metric of metrics) {
          for (const k of [1, 10, rows + 5]) {
            const input = int8Input(data, metric, k);
            const result = implementation.scanTopKInt8Rows(input, rowIds);
            checkTopK(result, int8Truth(input), listed, k, metric);
            const twin = reference.scanTopKInt8Rows(input, rowIds);
            expect(Array.from(result.rows)).toEqual(Array.from(twin.rows));
            expect(Array.from(result.scores)).toEqual(Array.from(twin.scores));
          }
        }
      });
    }

    test("int8 row-list scan: empty list, and bad row ids named", () => {
      const data = makeDataset(seededRandom(seed + 5), 12, 8);
      const input = int8Input(data, "dotproduct", 3);
      expect(implementation.scanTopKInt8Rows(input, new Uint32Array(0)).rows.length).toBe(0);
      for (const bad of [
        [3, 2],
        [3, 3],
        [1, 12],
      ]) {
        let caught: unknown;
        try {
          implementation.scanTopKInt8Rows(input, Uint32Array.from(bad));
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(NeedleError);
        expect((caught as NeedleError).field?.startsWith("rowIds")).toBe(true);
      }
    });

    test("int8 scan rejects missing norms", () => {
      const data = makeDataset(seededRandom(seed + 3), 8, 8);
      const cosine = int8Input(data, "cosine", 3);
      expect(() => implementation.scanTopKInt8({ ...cosine, inverseNorms: undefined })).toThrow(NeedleError);
      const euclidean = int8Input(data, "euclidean", 3);
      expect(() => implementation.scanTopKInt8({ ...euclidean, squaredNorms: undefined })).toThrow(
        NeedleError,
      );
    });

    for (const dim of [1, 7, 33, 128, 257]) {
      test(`nearest-centroid assignment matches brute force, dim ${dim}`, () => {
        const next = seededRandom(seed + 11 * dim);
        const count = 53;
        const centroidCount = 13;
        const vectors = unalignedFloat32(count * dim);
        for (let i = 0; i < vectors.length; i++) vectors[i] = gaussian(next);
        const centroids = unalignedFloat32(centroidCount * dim);
        for (let i = 0; i < centroids.length; i++) centroids[i] = gaussian(next);
        // Centroid 9 duplicates centroid 4: exact ties must pick the smaller index, 4.
        centroids.copyWithin(9 * dim, 4 * dim, 5 * dim);
        for (const metric of metrics) {
          const assignments = new Uint32Array(count);
          const scores = new Float32Array(count);
          implementation.assignNearest(
            vectors,
            count,
            centroids,
            centroidCount,
            dim,
            metric,
            assignments,
            scores,
          );
          const twinAssignments = new Uint32Array(count);
          reference.assignNearest(vectors, count, centroids, centroidCount, dim, metric, twinAssignments);
          for (let i = 0; i < count; i++) {
            const data: Dataset = {
              query: vectors.subarray(i * dim, i * dim + dim),
              vectors: centroids,
              rows: centroidCount,
              dim,
              inverseNorms: new Float32Array(centroidCount),
            };
            const truth = bruteForce(data, metric);
            const chosen = assignments[i]!;
            expect(chosen).not.toBe(9);
            expect(Math.abs(scores[i]! - truth.exact[chosen]!)).toBeLessThanOrEqual(truth.tolerance[chosen]!);
            for (let c = 0; c < centroidCount; c++) {
              const slack = truth.tolerance[c]! + truth.tolerance[chosen]!;
              expect(keyOf(metric, truth.exact[c]!)).toBeLessThanOrEqual(
                keyOf(metric, truth.exact[chosen]!) + slack,
              );
            }
            const twinChosen = twinAssignments[i]!;
            if (twinChosen !== chosen) {
              const gap = Math.abs(truth.exact[twinChosen]! - truth.exact[chosen]!);
              expect(gap).toBeLessThanOrEqual(2 * (truth.tolerance[twinChosen]! + truth.tolerance[chosen]!));
            }
          }
        }
      });
    }

    test("assignment with no vectors writes nothing; with no centroids is an error", () => {
      const assignments = new Uint32Array(1).fill(7);
      implementation.assignNearest(
        new Float32Array(0),
        0,
        new Float32Array(4),
        1,
        4,
        "euclidean",
        assignments,
      );
      expect(assignments[0]).toBe(7);
      expect(() =>
        implementation.assignNearest(
          new Float32Array(4),
          1,
          new Float32Array(0),
          0,
          4,
          "euclidean",
          assignments,
        ),
      ).toThrow(NeedleError);
    });
  });
}

describe("vector helpers", () => {
  test("inverseNorm and computeInverseNorms match float64", () => {
    const next = seededRandom(seed + 5);
    const dim = 33;
    const rows = 9;
    const vectors = Float32Array.from({ length: rows * dim }, () => gaussian(next));
    vectors.fill(0, 0, dim);
    const out = new Float32Array(rows);
    computeInverseNorms(vectors, rows, dim, out);
    expect(out[0]).toBe(0);
    for (let row = 1; row < rows; row++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += vectors[row * dim + d]! ** 2;
      expect(Math.abs(out[row]! - 1 / Math.sqrt(sum)) * Math.sqrt(sum)).toBeLessThan(1e-7);
      expect(inverseNorm(vectors.subarray(row * dim, row * dim + dim))).toBe(out[row]!);
    }
  });

  test("inverseNorm over a range is bit-identical to an index-order float64 sum", () => {
    const next = seededRandom(seed + 6);
    const dim = 37;
    const rows = 5;
    const vectors = Float32Array.from({ length: rows * dim }, () => gaussian(next));
    vectors.fill(0, dim, 2 * dim);
    const out = new Float32Array(rows);
    computeInverseNorms(vectors, rows, dim, out);
    for (let row = 0; row < rows; row++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) {
        const value = vectors[row * dim + d]!;
        sum += value * value;
      }
      const expected = sum > 0 ? Math.fround(1 / Math.sqrt(sum)) : 0;
      expect(inverseNorm(vectors, row * dim, dim)).toBe(expected);
      expect(inverseNorm(vectors.subarray(row * dim, row * dim + dim))).toBe(expected);
      expect(out[row]).toBe(expected);
    }
  });

  test("sparseDot merges ascending indices", () => {
    const next = seededRandom(seed + 6);
    const dense = new Float64Array(500);
    const denseOther = new Float64Array(500);
    const pick = (target: Float64Array) => {
      const indices = range(500).filter(() => next() < 0.1);
      const values = Float32Array.from(indices, () => gaussian(next));
      indices.forEach((index, i) => {
        target[index] = values[i]!;
      });
      return { indices: Uint32Array.from(indices), values };
    };
    const a = pick(dense);
    const b = pick(denseOther);
    let expected = 0;
    for (let i = 0; i < 500; i++) expected += dense[i]! * denseOther[i]!;
    expect(sparseDot(a, b)).toBeCloseTo(expected, 10);
    expect(sparseDot(a, { indices: new Uint32Array(0), values: new Float32Array(0) })).toBe(0);
  });
});

describe("dispatch selection in a fresh process", () => {
  const modPath = join(import.meta.dir, "mod.ts");
  const cPaths = implementations.filter((k) => k.name.startsWith("c:")).map((k) => k.name);
  const bestPath = cPaths[cPaths.length - 1] ?? "typescript";

  function childKernels(env: Record<string, string>): { name: string; lines: string[] } {
    const code = [
      `import { kernels, setKernelLogger } from ${JSON.stringify(modPath)};`,
      "const lines = [];",
      "setKernelLogger((line) => lines.push(line));",
      "kernels(); kernels();",
      "console.log(JSON.stringify({ name: kernels().name, lines }));",
    ].join("\n");
    const child = Bun.spawnSync([process.execPath, "-e", code], {
      env: { ...process.env, NEEDLE_SIMD: "", ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(child.exitCode).toBe(0);
    return JSON.parse(child.stdout.toString().trim().split("\n").pop()!);
  }

  test("without NEEDLE_SIMD the best path runs, silently", () => {
    expect(childKernels({})).toEqual({ name: bestPath, lines: [] });
  });

  for (const path of cPaths) {
    test(`NEEDLE_SIMD=${path.slice(2)} selects ${path}`, () => {
      expect(childKernels({ NEEDLE_SIMD: path.slice(2) })).toEqual({ name: path, lines: [] });
    });
  }

  test("NEEDLE_SIMD never raises the path above what the CPU has", () => {
    const asked = childKernels({ NEEDLE_SIMD: "avx512" });
    expect(cPaths.includes(asked.name) || asked.name === "typescript").toBe(true);
    if (cPaths.length > 0 && !cPaths.includes("c:avx512")) {
      expect(asked.name).toBe(bestPath);
      expect(asked.lines.length).toBe(1);
    }
  });

  test("an unknown NEEDLE_SIMD value is ignored with one log line", () => {
    const result = childKernels({ NEEDLE_SIMD: "turbo" });
    expect(result.name).toBe(bestPath);
    // One line either way: "ignored" with the C library, "unavailable" without it.
    expect(result.lines.length).toBe(1);
  });

  test("a missing library falls back to the twin with one log line saying why", () => {
    const result = childKernels({
      NEEDLE_KERNELS_LIBRARY: join(import.meta.dir, "build", "missing-library.so"),
    });
    expect(result.name).toBe("typescript");
    expect(result.lines.length).toBe(1);
    expect(result.lines[0]).toContain("C library unavailable");
    expect(result.lines[0]).toContain("missing-library.so");
  });
});
