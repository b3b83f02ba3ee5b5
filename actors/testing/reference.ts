/**
 * An independent float64 model of a namespace for tests: the latest version of every record,
 * scored by brute force in double precision. It shares no code with the engine's search path.
 */
import type { Metric, SparseValues, VectorRecord } from "../../storage/types.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";
export { seededRandom };

export class ReferenceNamespace {
  readonly records = new Map<string, VectorRecord>();

  upsert(records: VectorRecord[]): void {
    for (const record of records) this.records.set(record.id, record);
  }

  delete(ids: string[]): void {
    for (const id of ids) this.records.delete(id);
  }

  /** Best k by the metric: [id, score] pairs, best first, ties by id. */
  topK(
    metric: Metric,
    k: number,
    query: { vector?: Float32Array; sparse?: SparseValues },
    accept: (record: VectorRecord) => boolean = () => true,
  ): [string, number][] {
    const scored: [string, number][] = [];
    for (const record of this.records.values()) {
      if (!accept(record)) continue;
      let score = 0;
      let has = false;
      if (query.vector && record.values) {
        score += denseScore(metric, query.vector, record.values);
        has = true;
      }
      if (query.sparse && record.sparseValues) {
        const overlap = sparseOverlap(query.sparse, record.sparseValues);
        if (overlap !== undefined) {
          score += overlap;
          has = true;
        }
      }
      if (has) scored.push([record.id, score]);
    }
    const ascending = metric === "euclidean" && query.vector !== undefined;
    scored.sort((a, b) => (a[1] === b[1] ? (a[0] < b[0] ? -1 : 1) : ascending ? a[1] - b[1] : b[1] - a[1]));
    return scored.slice(0, k);
  }
}

export function denseScore(metric: Metric, q: Float32Array, x: Float32Array): number {
  let dot = 0;
  let qq = 0;
  let xx = 0;
  let l2 = 0;
  for (let i = 0; i < q.length; i++) {
    const a = q[i]!;
    const b = x[i]!;
    dot += a * b;
    qq += a * a;
    xx += b * b;
    l2 += (a - b) * (a - b);
  }
  if (metric === "dotproduct") return dot;
  if (metric === "euclidean") return l2;
  return qq === 0 || xx === 0 ? 0 : dot / Math.sqrt(qq * xx);
}

function sparseOverlap(a: SparseValues, b: SparseValues): number | undefined {
  const values = new Map<number, number>();
  a.indices.forEach((index, i) => {
    values.set(index, a.values[i]!);
  });
  let sum = 0;
  let any = false;
  b.indices.forEach((index, i) => {
    const v = values.get(index);
    if (v !== undefined) {
      sum += v * b.values[i]!;
      any = true;
    }
  });
  return any ? sum : undefined;
}

/**
 * Checks that `actual` ids are a correct top-k against the reference: same length, and every
 * returned id's true score is at least as good as the k-th reference score (within `tolerance`),
 * so only genuine ties may swap places. Returns a description of the first problem, or "".
 */
/**
 * What is wrong with a dense cosine query's matches against the reference namespace's exact
 * top k (compareTopK), "" when nothing; `accept` narrows the reference (a filter).
 */
export function cosineTopKProblem(
  matches: { id: string; score: number }[],
  ns: ReferenceNamespace,
  vector: Float32Array,
  k: number,
  accept?: (record: VectorRecord) => boolean,
): string {
  return compareTopK(
    matches,
    ns.topK("cosine", k, { vector }, accept),
    (id) => denseScore("cosine", vector, ns.records.get(id)!.values!),
    false,
  );
}

export function compareTopK(
  actual: { id: string; score: number }[],
  expected: [string, number][],
  trueScore: (id: string) => number,
  ascending: boolean,
  tolerance = 1e-4,
): string {
  if (actual.length !== expected.length)
    return `returned ${actual.length} matches, expected ${expected.length}`;
  if (expected.length === 0) return "";
  const kth = expected[expected.length - 1]![1];
  for (const match of actual) {
    const score = trueScore(match.id);
    const slack = tolerance * Math.max(1, Math.abs(kth));
    if (ascending ? score > kth + slack : score < kth - slack) {
      return `id ${match.id} (true score ${score}) is worse than the k-th best ${kth}`;
    }
    if (Math.abs(score - match.score) > tolerance * Math.max(1, Math.abs(score))) {
      return `id ${match.id} reported score ${match.score}, true score ${score}`;
    }
  }
  if (new Set(actual.map((m) => m.id)).size !== actual.length) return "duplicate ids in the answer";
  return "";
}

export function randomVector(random: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = random() * 2 - 1;
  return v;
}

export function randomSparse(random: () => number, vocabulary: number, entries: number): SparseValues {
  const set = new Set<number>();
  while (set.size < entries) set.add(Math.floor(random() * vocabulary));
  const indices = Uint32Array.from([...set].sort((a, b) => a - b));
  const values = Float32Array.from(indices, () => random());
  return { indices, values };
}
