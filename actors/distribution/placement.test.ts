/**
 * Rendezvous placement: deterministic whatever the order members are listed in, balanced,
 * and moving only what must move when a member leaves or joins. Seeded keys.
 */
import { expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { ownerOf, place, rank } from "./placement.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`placement.test.ts seed=${seed} (replay with NEEDLE_TEST_SEED=${seed})`);
const random = seededRandom(seed);
const keys = Array.from(
  { length: 10_000 },
  (_, i) => `index-${i}-${Math.floor(random() * 1e9).toString(36)}`,
);
const members = ["host-a", "host-b", "host-c", "host-d", "host-e"];

function owners(list: readonly string[]): Map<string, string | undefined> {
  return new Map(keys.map((key) => [key, ownerOf(key, list)]));
}

test("the ranking is a permutation of the members, the same for any order they are listed in", () => {
  for (const key of keys.slice(0, 200)) {
    const ranked = rank(key, members);
    expect([...ranked].sort()).toEqual([...members].sort());
    const shuffled = [...members].sort(() => random() - 0.5);
    expect(rank(key, shuffled)).toEqual(ranked);
    expect(rank(key, [...members, ...members])).toEqual(ranked);
  }
  expect(ownerOf("x", [])).toBeUndefined();
});

test("keys spread evenly: every member owns within 10 % of its share", () => {
  const counts = new Map<string, number>();
  for (const owner of owners(members).values()) counts.set(owner!, (counts.get(owner!) ?? 0) + 1);
  const share = keys.length / members.length;
  for (const member of members) {
    expect(Math.abs((counts.get(member) ?? 0) - share)).toBeLessThan(share * 0.1);
  }
});

test("a member leaving moves only its own keys; one joining takes about 1/n, only for itself", () => {
  const before = owners(members);
  const after = owners(members.filter((member) => member !== "host-c"));
  for (const key of keys) {
    if (before.get(key) !== "host-c") expect(after.get(key)).toBe(before.get(key));
    else expect(after.get(key)).toBe(rank(key, members)[1]);
  }
  const joined = owners([...members, "host-f"]);
  let moved = 0;
  for (const key of keys) {
    if (joined.get(key) === before.get(key)) continue;
    expect(joined.get(key)).toBe("host-f");
    moved++;
  }
  const expected = keys.length / (members.length + 1);
  expect(Math.abs(moved - expected)).toBeLessThan(expected * 0.1);
});

test("replicas are distinct members, owner first, at most as many as there are members", () => {
  for (const key of keys.slice(0, 500)) {
    const three = place(key, members, 3);
    expect(new Set(three).size).toBe(3);
    expect(three[0]).toBe(ownerOf(key, members));
    expect(place(key, members.slice(0, 2), 3)).toHaveLength(2);
  }
});
