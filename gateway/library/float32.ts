/**
 * Float32 values as clients wrote them. Needle stores float32; a float32 turned into a JS number
 * as is prints its full float64 expansion (0.4 comes back as 0.4000000059604645). Pinecone
 * answers the shortest decimal that reads back as the same float32 (`0.4`), and clients compare
 * with what they wrote. `shortestFloat32(f)` is the float64 nearest to that decimal, so
 * `JSON.stringify` prints the decimal and an embedded caller gets back exactly the number it
 * wrote whenever that number was a float32.
 *
 * Definition: for a float32 f, the decimal s with the fewest significant digits such that
 * Math.fround(Number(s)) === f (reading it as JSON and storing it as float32 gives f back);
 * among those of that length, the one nearest to f.
 *
 * Steps (per value; no strings, no allocation, usually two probes):
 *   1. From the float32's binary exponent: e, the decimal exponent of |f| (10^e <= |f| <
 *      10^(e+1)), and `guaranteed`, the fewest digits whose decimal grid is finer than f's
 *      rounding interval (some decimal of that many digits always reads back as f).
 *   2. Probe `guaranteed` digits, then fewer: a p-digit answer is also a (p+1)-digit one, so
 *      "some p-digit decimal reads back" is monotonic in p. Try guaranteed - 1 (random values
 *      fail here: done); if it succeeds, binary search 1 .. guaranteed - 1 (values people type,
 *      like 0.4, end here).
 *   3. A probe at p digits: k = round(|f| x 10^-(e+1-p)), the nearest p-digit decimal (units
 *      of 10^(e+1-p)); made a double by one correctly rounded multiplication or division by an
 *      exact power of ten (|exponent| <= 22), else by parsing its text (rare: |f| below ~1e-13
 *      or above ~1e22); kept when Math.fround gives f back. When k is not clearly the nearest
 *      (a near tie) or does not read back, the neighbour on f's side is tried too.
 * Measured in bench-results/float-format.md; tested against an independent reference in
 * float32.test.ts.
 */

/** 10^0 .. 10^22: exactly representable as doubles. */
const exactPowersOfTen = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);
const digitsMax = 9;
const log10Of2 = Math.log10(2);
const float32Bits = new Float32Array(1);
const float32Words = new Uint32Array(float32Bits.buffer);

/** The double nearest to the decimal `units` x 10^exponent (`units` a positive integer below 2^53). */
function decimalToDouble(units: number, exponent: number): number {
  if (exponent >= 0 && exponent <= 22) return units * exactPowersOfTen[exponent]!;
  if (exponent < 0 && exponent >= -22) return units / exactPowersOfTen[-exponent]!;
  return Number(`${units}e${exponent}`);
}

/** 10^exponent as a double (exact for 0..22, nearest otherwise). */
function powerOfTen(exponent: number): number {
  if (exponent >= 0 && exponent <= 22) return exactPowersOfTen[exponent]!;
  if (exponent < 0 && exponent >= -22) return 1 / exactPowersOfTen[-exponent]!;
  return 10 ** exponent;
}

/** |f| x 10^scale, approximately (only used to find the nearest units; candidates are checked). */
function scaled(magnitude: number, scale: number): number {
  if (scale >= 0 && scale <= 22) return magnitude * exactPowersOfTen[scale]!;
  if (scale < 0 && scale >= -22) return magnitude / exactPowersOfTen[-scale]!;
  return magnitude * 10 ** scale;
}

/** The nearest p-digit decimal reading back as `magnitude`, or NaN when none does. */
function probe(magnitude: number, decimalExponent: number, digits: number): number {
  const unitExponent = decimalExponent + 1 - digits;
  const units = Math.round(scaled(magnitude, -unitExponent));
  const candidate = units > 0 ? decimalToDouble(units, unitExponent) : Number.NaN;
  const reads = Math.fround(candidate) === magnitude;
  // Clearly the nearest grid point (not within a hair of halfway): it is the answer or none is
  // on this side; otherwise also weigh the neighbour toward the value.
  const spacing = powerOfTen(unitExponent);
  const distance = Math.abs(candidate - magnitude);
  if (reads && distance * 2 < spacing * (1 - 1e-9)) return candidate;
  const neighbourUnits = candidate < magnitude ? units + 1 : units - 1;
  if (neighbourUnits <= 0) return reads ? candidate : Number.NaN;
  const neighbour = decimalToDouble(neighbourUnits, unitExponent);
  if (Math.fround(neighbour) !== magnitude) return reads ? candidate : Number.NaN;
  return reads && distance <= Math.abs(neighbour - magnitude) ? candidate : neighbour;
}

/**
 * How many negative zeros have been shaped so far. JSON.stringify prints -0 as `0`, which reads
 * back as +0; a renderer that sees this count move while it shapes a body prints that body with
 * `-0` kept (gateway/http/json-text.ts). Zeros are rare, so the count costs nothing measurable.
 */
let negativeZeros = 0;

export function negativeZerosShaped(): number {
  return negativeZeros;
}

/** See the module comment. Non-float32 inputs are returned unchanged; so are 0, -0 and non-finite values. */
export function shortestFloat32(value: number): number {
  if (value === 0) {
    if (1 / value < 0) negativeZeros++;
    return value;
  }
  if (!Number.isFinite(value) || Math.fround(value) !== value) return value;
  const magnitude = Math.abs(value);
  // Step 1: the binary exponent (subnormals share the smallest one's spacing).
  float32Bits[0] = magnitude;
  const biased = float32Words[0]! >>> 23;
  const binaryExponent = biased === 0 ? -126 : biased - 127;
  // |f| in [2^b, 2^(b+1)): e is floor(b x log10 2) or one more.
  let exponent = Math.floor((biased === 0 ? Math.log2(magnitude) : binaryExponent) * log10Of2);
  if (powerOfTen(exponent + 1) <= magnitude) exponent++;
  else if (powerOfTen(exponent) > magnitude) exponent--;
  // The rounding interval is at least half an ulp (2^(b-24)) on each side: a decimal grid of
  // spacing at most one ulp always has a point inside it.
  const ulpExponent10 = (binaryExponent - 23) * log10Of2;
  const guaranteed = Math.min(digitsMax, Math.max(1, exponent + 1 - Math.floor(ulpExponent10)));
  // Step 2.
  let found = probe(magnitude, exponent, guaranteed);
  let high = guaranteed;
  if (Number.isNaN(found)) {
    for (high = guaranteed + 1; high <= digitsMax && Number.isNaN(found); high++)
      found = probe(magnitude, exponent, high);
    high--;
  } else if (guaranteed > 1) {
    const shorter = probe(magnitude, exponent, guaranteed - 1);
    if (!Number.isNaN(shorter)) {
      found = shorter;
      high = guaranteed - 1;
      let low = 1;
      while (low < high) {
        const middle = (low + high) >> 1;
        const candidate = probe(magnitude, exponent, middle);
        if (Number.isNaN(candidate)) low = middle + 1;
        else {
          found = candidate;
          high = middle;
        }
      }
    }
  }
  if (Number.isNaN(found)) return value; // cannot happen for a float32 (9 digits always do)
  return value < 0 ? -found : found;
}

/** Every value of a float32 array as the shortest decimal that reads back as it, in a plain array. */
export function shortestFloat32Array(values: Float32Array): number[] {
  const out: number[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = shortestFloat32(values[i]!);
  return out;
}
