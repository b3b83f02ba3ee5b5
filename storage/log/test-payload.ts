/**
 * Test helper: the payload of a given LSN, derived from the LSN alone, so a test (or the
 * parent of a killed crash child) can check every replayed byte without remembering it.
 * Lengths vary from 1 to 700 bytes so records straddle padding and batch boundaries.
 */
import { seededRandom } from "../../ffi/seeded-random.ts";

export function payloadForLsn(lsn: bigint): Uint8Array {
  const random = seededRandom(Number(lsn % 1_000_003n));
  const bytes = new Uint8Array(1 + Math.floor(random() * 700));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}
