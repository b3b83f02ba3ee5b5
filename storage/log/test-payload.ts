/**
 * Test helper: the payload of a given LSN, derived from the LSN alone, so a test (or the
 * parent of a killed crash child) can check every replayed byte without remembering it.
 * Lengths vary from 1 to 700 bytes so records straddle padding and batch boundaries.
 */
export function payloadForLsn(lsn: bigint): Uint8Array {
  const seed = Number(lsn % 1_000_003n);
  const length = 1 + ((seed * 2_654_435_761) % 700);
  const bytes = new Uint8Array(length);
  let state = (seed * 1_103_515_245 + 12_345) >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}
