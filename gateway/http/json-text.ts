/**
 * Response bodies as JSON text, keeping negative zeros. JSON.stringify prints -0 as `0`, and a
 * client reading `0` gets +0: a stored -0 (its sign bit is data, e.g. for sign-quantized
 * embeddings) would not read back as written. Bodies whose shaping met a -0 are marked
 * (`shapedKeepingNegativeZeros`) and printed by a slower path: a replacer swaps each -0 for a
 * sentinel string, and the sentinel's JSON text is then replaced by `-0`. The sentinel holds a
 * lone surrogate, which no stored string can (text is refused unless well formed), and its JSON
 * text starts `"\ud800`, which a JSON-escaped user string cannot contain (its backslashes are
 * doubled), so only sentinels are replaced.
 */
import { negativeZerosShaped } from "../library/float32.ts";

const sentinel = "\ud800-0";
const sentinelText = JSON.stringify(sentinel);
const bodiesWithNegativeZeros = new WeakSet<object>();

/** Runs `shape` (synchronous) and marks its result when it shaped a negative zero. */
export function shapedKeepingNegativeZeros<T extends object>(shape: () => T): T {
  const before = negativeZerosShaped();
  const body = shape();
  if (negativeZerosShaped() !== before) bodiesWithNegativeZeros.add(body);
  return body;
}

export function jsonText(body: unknown): string {
  if (typeof body !== "object" || body === null || !bodiesWithNegativeZeros.has(body))
    return JSON.stringify(body);
  const text = JSON.stringify(body, (_key, value) => (Object.is(value, -0) ? sentinel : value));
  return text.replaceAll(sentinelText, "-0");
}
