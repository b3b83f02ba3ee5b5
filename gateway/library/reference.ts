/**
 * Test helpers: exact float64 references for query answers, shared by the tests of every
 * front door (library, NATS), and `refusal` to catch the typed error a call must raise.
 */
import { expect } from "bun:test";
import { NeedleError } from "../../storage/errors.ts";
import type { PineconeRecord, QueryResponse } from "./types.ts";

export type Metric = "cosine" | "euclidean" | "dotproduct";

export const tolerance = 1e-4;

/** Pinecone's score for a metric, in float64 over the float32-rounded inputs. */
export function score(metric: Metric, a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  let squared = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.fround(a[i] as number);
    const y = Math.fround(b[i] as number);
    dot += x * y;
    normA += x * x;
    normB += y * y;
    squared += (x - y) * (x - y);
  }
  if (metric === "dotproduct") return dot;
  if (metric === "euclidean") return squared;
  return dot / Math.sqrt(normA * normB);
}

export function bruteForce(
  metric: Metric,
  records: readonly PineconeRecord[],
  query: number[],
  topK: number,
) {
  const scored = records.map((record) => ({
    id: record.id,
    score: score(metric, record.values ?? [], query),
  }));
  scored.sort((x, y) => (metric === "euclidean" ? x.score - y.score : y.score - x.score));
  return scored.slice(0, topK);
}

/** The engine's answer agrees with the reference: same score sequence, each id scored right. */
export function expectMatchesReference(
  metric: Metric,
  response: QueryResponse,
  records: readonly PineconeRecord[],
  query: number[],
  topK: number,
): void {
  const reference = bruteForce(metric, records, query, topK);
  expect(response.matches).toHaveLength(reference.length);
  const byId = new Map(records.map((record) => [record.id, record]));
  response.matches.forEach((match, position) => {
    expect(Math.abs((match.score as number) - (reference[position]?.score as number))).toBeLessThan(
      tolerance,
    );
    const record = byId.get(match.id);
    expect(record).toBeDefined();
    expect(Math.abs((match.score as number) - score(metric, record?.values ?? [], query))).toBeLessThan(
      tolerance,
    );
  });
  const ids = new Set(response.matches.map((match) => match.id));
  expect(ids.size).toBe(response.matches.length);
}

export async function refusal(action: Promise<unknown>): Promise<NeedleError> {
  try {
    await action;
  } catch (error) {
    expect(error).toBeInstanceOf(NeedleError);
    return error as NeedleError;
  }
  throw new Error("expected a NeedleError, but the call succeeded");
}
