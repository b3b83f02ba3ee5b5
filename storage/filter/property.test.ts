/**
 * The property test of metadata filters: for seeded random metadata and at least 1,000 random
 * filters, the rows matched by
 *   (a) compileFilter(parseFilter(raw)),
 *   (b) MetadataIndex.decode(encodeMetadataIndex(rows)).evaluate(parseFilter(raw)),
 * equal exactly the rows matched by (c) `referenceMatches`, a naive evaluator of the RAW JSON
 * filter written here from the semantics text, sharing no code with evaluate.ts or parse.ts.
 * Replay a failure with NEEDLE_TEST_SEED=<seed printed below>.
 */
import { beforeAll, expect, test } from "bun:test";
import { initBitmaps } from "../bitmap.ts";
import type { Metadata, MetadataValue } from "../types.ts";
import { compileFilter } from "./evaluate.ts";
import { encodeMetadataIndex, MetadataIndex } from "./metadata-index.ts";
import { parseFilter } from "./parse.ts";
import { seededRandom } from "../../ffi/seeded-random.ts";

beforeAll(async () => {
  await initBitmaps();
});

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 1_000_000_000);
console.log(`filter property test seed=${seed} (replay with NEEDLE_TEST_SEED=${seed})`);

// ---------------------------------------------------------------------------------------
// The reference: Pinecone's filter semantics, read literally from the JSON.
//
// "A bare value means $eq. Several keys in one object all must hold. Several operators on one
//  field all must hold. $and: every element holds; $or: some element holds. $eq holds when the
//  record's value has the same type and is equal, or the record's value is a list with such an
//  element. $ne holds when $eq does not (so also when the field is missing). $gt/$gte/$lt/$lte
//  hold when the record's value is a number comparing so. $in holds when $eq holds for some
//  listed value; $nin when $in does not. $exists holds when presence equals its operand."

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function referenceMatches(filter: { [key: string]: Json }, metadata: Metadata | undefined): boolean {
  for (const key of Object.keys(filter)) {
    const operand = filter[key]!;
    if (key === "$and") {
      for (const clause of operand as { [key: string]: Json }[]) {
        if (!referenceMatches(clause, metadata)) return false;
      }
    } else if (key === "$or") {
      let any = false;
      for (const clause of operand as { [key: string]: Json }[]) {
        if (referenceMatches(clause, metadata)) any = true;
      }
      if (!any) return false;
    } else {
      let has = false;
      let value: MetadataValue | undefined;
      if (metadata !== undefined && Object.keys(metadata).includes(key)) {
        has = true;
        value = metadata[key];
      }
      let operators: { [key: string]: Json };
      if (typeof operand === "object" && operand !== null && !Array.isArray(operand)) operators = operand;
      else operators = { $eq: operand };
      for (const operator of Object.keys(operators)) {
        if (!referenceCondition(operator, operators[operator]!, has, value)) return false;
      }
    }
  }
  return true;
}

function referenceEquals(value: MetadataValue | undefined, wanted: Json): boolean {
  if (value === undefined) return false;
  if (Array.isArray(value)) {
    let found = false;
    for (const element of value) if (typeof element === typeof wanted && element === wanted) found = true;
    return found;
  }
  return typeof value === typeof wanted && value === wanted;
}

function referenceCondition(
  operator: string,
  operand: Json,
  has: boolean,
  value: MetadataValue | undefined,
): boolean {
  if (operator === "$eq") return referenceEquals(value, operand);
  if (operator === "$ne") return !referenceEquals(value, operand);
  if (operator === "$in") return (operand as Json[]).some((wanted) => referenceEquals(value, wanted));
  if (operator === "$nin") return !(operand as Json[]).some((wanted) => referenceEquals(value, wanted));
  if (operator === "$exists") return has === operand;
  if (typeof value !== "number") return false;
  const bound = operand as number;
  if (operator === "$gt") return value > bound;
  if (operator === "$gte") return value >= bound;
  if (operator === "$lt") return value < bound;
  if (operator === "$lte") return value <= bound;
  throw new Error(`reference does not know ${operator}`);
}

// ---------------------------------------------------------------------------------------
// Random data. Small vocabularies so values collide often; strings that look like numbers and
// booleans, and numbers that equal each other as -0/0, so type confusion would show.

const strings = ["a", "b", "c", "drama", "1", "2.5", "true", "", "é", "😀", "constructor"];
const numbers = [-3, -2.5, -1, -0, 0, 0.5, 1, 2, 2.5, 3, 10, 1e9, -1e-9];
const fields = ["genre", "year", "price", "done", "tags", "mixed", "rare", "constructor"];

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)]!;
}

function randomScalar(random: () => number): string | number | boolean {
  const roll = random();
  if (roll < 0.45) return pick(random, strings);
  if (roll < 0.9) return pick(random, numbers);
  return random() < 0.5;
}

function randomList(random: () => number): string[] {
  return Array.from({ length: Math.floor(random() * 4) }, () => pick(random, strings));
}

function randomMetadata(random: () => number): Metadata | undefined {
  if (random() < 0.05) return undefined;
  const metadata: Metadata = {};
  if (random() < 0.8) metadata.genre = pick(random, strings);
  if (random() < 0.8) metadata.year = Math.floor(random() * 7) - 3;
  if (random() < 0.7)
    metadata.price = random() < 0.3 ? pick(random, numbers) : Math.round((random() - 0.5) * 400) / 8;
  if (random() < 0.7) metadata.done = random() < 0.5;
  if (random() < 0.7) metadata.tags = randomList(random);
  if (random() < 0.9) metadata.mixed = random() < 0.25 ? randomList(random) : randomScalar(random);
  if (random() < 0.05) metadata.rare = randomScalar(random);
  // A key that also names an Object.prototype property: only own keys may count.
  if (random() < 0.1) Object.assign(metadata, { constructor: pick(random, strings) });
  return metadata;
}

const fieldOperators = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"];

/** The type a field usually holds, so most conditions are well-typed and some are not. */
const fieldKinds = new Map<string, "string" | "number" | "boolean">([
  ["genre", "string"],
  ["year", "number"],
  ["price", "number"],
  ["done", "boolean"],
  ["tags", "string"],
  ["constructor", "string"],
]);

function typedScalar(random: () => number, field: string): string | number | boolean {
  const kind = random() < 0.75 ? (fieldKinds.get(field) ?? "any") : "any"; // a quarter mismatched on purpose
  if (kind === "string") return pick(random, strings);
  if (kind === "number") return field === "year" ? Math.floor(random() * 7) - 3 : pick(random, numbers);
  if (kind === "boolean") return random() < 0.5;
  return randomScalar(random);
}

function randomOperand(random: () => number, operator: string, field: string): Json {
  switch (operator) {
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte":
      return random() < 0.7 ? pick(random, numbers) : Math.round((random() - 0.5) * 100) / 4;
    case "$in":
    case "$nin":
      return Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
        const value = typedScalar(random, field);
        return typeof value === "boolean" ? pick(random, numbers) : value;
      });
    case "$exists":
      return random() < 0.5;
    default:
      return typedScalar(random, field);
  }
}

function randomFilter(random: () => number, depth: number): { [key: string]: Json } {
  const filter: { [key: string]: Json } = {};
  const keyCount = random() < 0.7 ? 1 : 2;
  for (let k = 0; k < keyCount; k++) {
    if (depth < 3 && random() < 0.3) {
      const logical = random() < 0.5 ? "$and" : "$or";
      filter[logical] = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
        randomFilter(random, depth + 1),
      );
    } else {
      const field = pick(random, [...fields, "absent"]);
      if (random() < 0.3) {
        filter[field] = typedScalar(random, field);
      } else {
        const operators: { [key: string]: Json } = {};
        const operatorCount = 1 + Math.floor(random() * 2);
        for (let o = 0; o < operatorCount; o++) {
          const operator = pick(random, fieldOperators);
          operators[operator] = randomOperand(random, operator, field);
        }
        filter[field] = operators;
      }
    }
  }
  return filter;
}

// ---------------------------------------------------------------------------------------

test("compileFilter and MetadataIndex agree exactly with the naive reference", () => {
  const random = seededRandom(seed);
  const rowCount = 300;
  const rows = Array.from({ length: rowCount }, () => randomMetadata(random));
  using index = MetadataIndex.decode(encodeMetadataIndex(rows), "property.slab");
  const filterCount = 1500;
  const matchCounts: number[] = [];
  for (let f = 0; f < filterCount; f++) {
    const raw = random() < 0.01 ? {} : randomFilter(random, 1);
    const expected: number[] = [];
    rows.forEach((metadata, row) => {
      if (referenceMatches(raw, metadata)) expected.push(row);
    });
    const parsed = parseFilter(raw);
    const predicate = compileFilter(parsed);
    const compiled: number[] = [];
    rows.forEach((metadata, row) => {
      if (predicate(metadata)) compiled.push(row);
    });
    using bitmap = index.evaluate(parsed, rowCount);
    const indexed = [...bitmap.toUint32Array()];
    if (!sameRows(compiled, expected) || !sameRows(indexed, expected)) {
      const describe = (label: string, got: number[]) => {
        const missing = expected.filter((row) => !got.includes(row));
        const extra = got.filter((row) => !expected.includes(row));
        return `${label}: missing rows ${missing.slice(0, 5)} extra rows ${extra.slice(0, 5)}`;
      };
      const example = [...expected, ...compiled, ...indexed].find(
        (row) => !(expected.includes(row) && compiled.includes(row) && indexed.includes(row)),
      );
      throw new Error(
        [
          `filter ${f} disagrees (seed=${seed}): ${JSON.stringify(raw)}`,
          describe("compileFilter", compiled),
          describe("MetadataIndex", indexed),
          example === undefined ? "" : `row ${example} metadata: ${JSON.stringify(rows[example])}`,
        ].join("\n"),
      );
    }
    matchCounts.push(expected.length);
  }
  // The generator must exercise both outcomes: filters that match nothing, everything, and
  // something in between; otherwise agreement would prove little.
  expect(matchCounts.filter((count) => count === 0).length).toBeGreaterThan(50);
  expect(matchCounts.filter((count) => count === rowCount).length).toBeGreaterThan(5);
  expect(matchCounts.filter((count) => count > 0 && count < rowCount).length).toBeGreaterThan(
    filterCount * 0.3,
  );
  console.log(
    `filters matching no rows ${matchCounts.filter((count) => count === 0).length}, all rows ${
      matchCounts.filter((count) => count === rowCount).length
    }, of ${filterCount}`,
  );
});

function sameRows(left: number[], right: number[]): boolean {
  return left.length === right.length && left.every((row, i) => row === right[i]);
}
