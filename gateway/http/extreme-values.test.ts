/**
 * The report that opened issue 13, over HTTP: in an index of dimension 4, `big` (3e38 in every
 * component) and `small` ([1, 2, 3, 4]), queried with [1, 2, 3, 4]. Cosine answers finite
 * scores with `small` first; dotproduct and euclidean refuse `big` with a 400 naming the
 * element and the limit; no JSON score is ever null.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEngine } from "../../actors/mod.ts";
import { vectorComponentMagnitudeMax } from "../schemas/limits.ts";
import { createApp } from "./app.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
const headers = { "content-type": "application/json", "Api-Key": "k" };

for (const metric of ["cosine", "dotproduct", "euclidean"] as const) {
  test(`${metric}: big and small rows, ordinary and huge queries`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "needle-extreme-http-"));
    dirs.push(dir);
    const engine = await openEngine({ dir, log: () => {} });
    const app = createApp(engine, { apiKeys: ["k"], publicUrl: "http://127.0.0.1" });
    const post = (path: string, body: unknown) =>
      app.request(path, { method: "POST", headers, body: JSON.stringify(body) });
    expect((await post("/indexes", { name: "x", dimension: 4, metric })).status).toBe(201);
    const big = await post("/index/x/vectors/upsert", {
      vectors: [{ id: "big", values: [3e38, 3e38, 3e38, 3e38] }],
    });
    const small = await post("/index/x/vectors/upsert", { vectors: [{ id: "small", values: [1, 2, 3, 4] }] });
    expect(small.status).toBe(200);
    if (metric === "cosine") {
      expect(big.status).toBe(200);
    } else {
      expect(big.status).toBe(400);
      const refusal = (await big.json()) as { message: string; details: { field: string; limit: string }[] };
      expect(refusal.details[0]!.field).toBe("vectors[0].values[0]");
      expect(refusal.details[0]!.limit).toContain(String(vectorComponentMagnitudeMax));
    }
    for (const vector of [
      [1, 2, 3, 4],
      [3e38, 3e38, 3e38, 3e38],
      [1e38, 1e38, 1e38, 1e38],
    ]) {
      const response = await post("/index/x/query", { vector, topK: 3 });
      if (metric !== "cosine" && vector[0]! > 1) {
        expect(response.status).toBe(400);
        continue;
      }
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).not.toContain("null");
      const { matches } = JSON.parse(text) as { matches: { id: string; score: number }[] };
      for (const match of matches) expect(Number.isFinite(match.score)).toBe(true);
      if (metric === "cosine" && vector[0] === 1) {
        expect(matches.map((match) => match.id)).toEqual(["small", "big"]);
        expect(matches[0]!.score).toBeCloseTo(1, 6);
        expect(matches[1]!.score).toBeCloseTo(10 / Math.sqrt(30 * 4), 6);
      }
    }
    await engine.close();
  });
}
