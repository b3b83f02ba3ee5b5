/**
 * Placement by rendezvous (highest random weight) hashing (issue 8 decision 12): every host
 * ranks the members for a key by a hash of (member, key) and takes the first `replicas`.
 * Pure and deterministic, so hosts that see the same members agree without talking; when a
 * member leaves only its keys move (each to its next-ranked member), and a member that joins
 * takes about 1/n of the keys, each from the member that ranked first before.
 */

/** A key's 64-bit weight on a member (wyhash; the same in every process of one Needle build). */
function weight(member: string, key: string): bigint {
  return BigInt(Bun.hash.wyhash(`${member}\u0000${key}`, 0x6e65_6564n));
}

/** The members in the order they are preferred for `key` (ties, never seen, by name). */
export function rank(key: string, members: readonly string[]): string[] {
  const weighted = [...new Set(members)].map((member) => ({ member, weight: weight(member, key) }));
  weighted.sort((a, b) =>
    a.weight === b.weight ? (a.member < b.member ? -1 : 1) : a.weight > b.weight ? -1 : 1,
  );
  return weighted.map(({ member }) => member);
}

/** The member that owns `key`, or undefined with no members. */
export function ownerOf(key: string, members: readonly string[]): string | undefined {
  return rank(key, members)[0];
}

/** The `replicas` members holding `key` (fewer when there are fewer members), owner first. */
export function place(key: string, members: readonly string[], replicas: number): string[] {
  return rank(key, members).slice(0, Math.max(0, replicas));
}
