/**
 * shortestFloat32 against an independent reference built from the runtime's own decimal
 * conversions (toExponential for the nearest p-digit decimal, text arithmetic for its
 * neighbours, Number() for correctly rounded reads), over a seeded sweep of float32 bit
 * patterns of every exponent and sign, subnormals, the largest finite value, powers of two
 * and their neighbours, and the values people type.
 */
import { describe, expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { shortestFloat32, shortestFloat32Array } from "./float32.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`float32.test.ts seed=${seed} (NEEDLE_TEST_SEED to replay)`);

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
function fromBits(pattern: number): number {
  bits[0] = pattern >>> 0;
  return asFloat[0]!;
}

/** Independent reference: the shortest round-tripping decimal, nearest among that length. */
function reference(f: number): number {
  const magnitude = Math.abs(f);
  for (let digits = 1; digits <= 17; digits++) {
    const [mantissa, exponentText] = magnitude.toExponential(digits - 1).split("e") as [string, string];
    const units = BigInt(mantissa.replace(".", ""));
    const unitExponent = Number(exponentText) - (digits - 1);
    let best: number | undefined;
    for (const candidate of [units, units - 1n, units + 1n]) {
      if (candidate <= 0n) continue;
      const value = Number(`${candidate}e${unitExponent}`);
      if (Math.fround(value) !== magnitude) continue;
      if (best === undefined || Math.abs(value - magnitude) < Math.abs(best - magnitude)) best = value;
    }
    if (best !== undefined) return f < 0 ? -best : best;
  }
  throw new Error(`no decimal reads back as ${f}`);
}

function significantDigits(value: number): number {
  const [mantissa] = Math.abs(value).toExponential().split("e") as [string];
  return mantissa.replace(".", "").replace(/0+$/, "").length || 1;
}

function check(f: number): void {
  const shortest = shortestFloat32(f);
  // Through JSON, as a client reads it, back to the same float32.
  expect(Math.fround(JSON.parse(JSON.stringify(shortest)) as number)).toBe(f);
  expect(shortest).toBe(reference(f));
  expect(significantDigits(shortest)).toBeLessThanOrEqual(9);
}

describe("shortestFloat32", () => {
  test("values people write come back as written", () => {
    for (const written of [0.4, 0.3, 0.7, 0.5, 0.1, 0.2, 1.1, 3.14, -2.5, 1e-7, 123456.7, 1e20, 6.02e23]) {
      const stored = Math.fround(written);
      expect(shortestFloat32(stored)).toBe(written);
      expect(JSON.stringify(shortestFloat32Array(Float32Array.of(written)))).toBe(`[${written}]`);
    }
    expect(JSON.stringify(shortestFloat32Array(Float32Array.of(0.4, 0.3, 0.7)))).toBe("[0.4,0.3,0.7]");
  });

  test("edge values: zeros, subnormals, the extremes, powers of two and their neighbours", () => {
    expect(shortestFloat32(0)).toBe(0);
    expect(Object.is(shortestFloat32(-0), -0)).toBe(true);
    const edges = [
      fromBits(0x00000001), // smallest subnormal
      fromBits(0x00000002),
      fromBits(0x007fffff), // largest subnormal
      fromBits(0x00800000), // smallest normal
      fromBits(0x7f7fffff), // largest finite
      fromBits(0x7f7ffffe),
      fromBits(0x3f800000), // 1
      fromBits(0x3f7fffff), // just below 1
      fromBits(0x3f800001),
    ];
    for (let exponent = -149; exponent <= 127; exponent++) {
      const power = 2 ** exponent;
      edges.push(Math.fround(power));
      if (exponent > -149) edges.push(fromBits(toBits(power) - 1));
      edges.push(fromBits(toBits(power) + 1));
    }
    for (const edge of edges) {
      check(edge);
      check(-edge);
    }
  });

  test(`a seeded sweep of random float32 bit patterns (seed ${seed})`, () => {
    const random = seededRandom(seed);
    let checked = 0;
    while (checked < 20_000) {
      const f = fromBits(Math.floor(random() * 2 ** 32));
      if (!Number.isFinite(f)) continue;
      check(f);
      checked++;
    }
  });

  test("values that are not float32 (scores summed in float64) pass through unchanged", () => {
    expect(shortestFloat32(0.1 + 0.2)).toBe(0.1 + 0.2);
    expect(shortestFloat32(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
});

function toBits(value: number): number {
  asFloat[0] = value;
  return bits[0]!;
}

test("through the library: what the caller wrote is what it reads, in memtable and slab", async () => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { open } = await import("./mod.ts");
  const dir = await mkdtemp(join(tmpdir(), "needle-float32-"));
  try {
    for (const stage of ["memtable", "slab"]) {
      const db = await open(dir, { log: () => {} });
      if (stage === "memtable") {
        await db.createIndex({ name: "f", dimension: 3, metric: "euclidean" });
        await db.index("f").upsert({
          records: [
            { id: "a", values: [0.4, 0.3, 0.7], metadata: { k: 1 } },
            { id: "z", values: [-0, 1e-45, -1e16] },
          ],
        });
      }
      const index = db.index("f");
      const edges = (await index.fetch({ ids: ["z"] })).records.z?.values ?? [];
      expect(Object.is(edges[0], -0)).toBe(true);
      expect(edges.slice(1)).toEqual([1e-45, -1e16]);
      expect((await index.fetch({ ids: ["a"] })).records.a?.values).toEqual([0.4, 0.3, 0.7]);
      const { matches } = await index.query({ vector: [0.4, 0.3, 0.6], topK: 1, includeValues: true });
      expect(matches[0]?.values).toEqual([0.4, 0.3, 0.7]);
      // The score is the float32 the kernel computes, (0.7f - 0.6f)^2, in its shortest decimal.
      const score = Math.fround((Math.fround(0.7) - Math.fround(0.6)) ** 2);
      expect(matches[0]?.score).toBe(shortestFloat32(score));
      expect(String(matches[0]?.score)).toBe("0.009999993");
      expect((await index.fetchByMetadata({ filter: { k: 1 } })).records.a?.values).toEqual([0.4, 0.3, 0.7]);
      await db.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
