/**
 * Direct evaluation of a validated filter against one record's metadata, used where there is
 * no index (the memtable, re-checks). `compileFilter` turns the AST into nested closures once
 * so the per-record cost is a few property reads and comparisons.
 *
 * Semantics (the same as the per-slab MetadataIndex; storage/DESIGN.md "Metadata filters"):
 *   - `$eq v`: the field's value is v with the same JSON type (1 never equals "1" or true); a
 *     list field matches when any element equals v.
 *   - `$ne v` is NOT `$eq v`: it matches records without the field, and a list matches only if
 *     no element equals v.
 *   - `$gt/$gte/$lt/$lte n`: the field holds a number that compares so; strings, booleans,
 *     lists and missing fields never match.
 *   - `$in [..]`: `$eq` for any listed value; `$nin [..]` is NOT `$in` (matches missing fields).
 *   - `$exists b`: whether the record has the field (an empty list counts as having it).
 *   - `and` with no clauses is true (the `{}` filter); `or` with no clauses is false.
 * Only own properties of the metadata object count, so keys like "constructor" or "toString"
 * are never read from Object.prototype.
 */
import type { FieldCondition, Filter, Metadata, MetadataValue } from "../types.ts";

export type MetadataPredicate = (metadata: Metadata | undefined) => boolean;

export function compileFilter(filter: Filter): MetadataPredicate {
  switch (filter.kind) {
    case "and": {
      const clauses = filter.clauses.map(compileFilter);
      if (clauses.length === 1) return clauses[0]!;
      return (metadata) => {
        for (const clause of clauses) if (!clause(metadata)) return false;
        return true;
      };
    }
    case "or": {
      const clauses = filter.clauses.map(compileFilter);
      if (clauses.length === 1) return clauses[0]!;
      return (metadata) => {
        for (const clause of clauses) if (clause(metadata)) return true;
        return false;
      };
    }
    case "field": {
      const field = filter.field;
      const test = compileCondition(filter.condition);
      return (metadata) =>
        test(metadata !== undefined && Object.hasOwn(metadata, field) ? metadata[field] : undefined);
    }
  }
}

/** A test of one field's value (undefined when the record lacks the field). */
type ValueTest = (value: MetadataValue | undefined) => boolean;

function compileCondition(condition: FieldCondition): ValueTest {
  switch (condition.op) {
    case "$eq":
      return equalsTest(condition.value);
    case "$ne": {
      const equals = equalsTest(condition.value);
      return (value) => !equals(value);
    }
    case "$gt": {
      const bound = condition.value;
      return (value) => typeof value === "number" && value > bound;
    }
    case "$gte": {
      const bound = condition.value;
      return (value) => typeof value === "number" && value >= bound;
    }
    case "$lt": {
      const bound = condition.value;
      return (value) => typeof value === "number" && value < bound;
    }
    case "$lte": {
      const bound = condition.value;
      return (value) => typeof value === "number" && value <= bound;
    }
    case "$in":
      return memberTest(condition.values);
    case "$nin": {
      const member = memberTest(condition.values);
      return (value) => !member(value);
    }
    case "$exists": {
      const wanted = condition.value;
      return (value) => (value !== undefined) === wanted;
    }
  }
}

function equalsTest(operand: string | number | boolean): ValueTest {
  if (typeof operand === "string") {
    return (value) => value === operand || (Array.isArray(value) && value.includes(operand));
  }
  // Lists hold strings only, so a number or boolean never matches a list element.
  return (value) => value === operand;
}

function memberTest(operands: readonly (string | number)[]): ValueTest {
  const strings = new Set<string>();
  const numbers = new Set<number>();
  for (const operand of operands) {
    if (typeof operand === "string") strings.add(operand);
    else numbers.add(operand);
  }
  return (value) => {
    if (typeof value === "string") return strings.has(value);
    if (typeof value === "number") return numbers.has(value);
    if (Array.isArray(value)) {
      for (const element of value) if (strings.has(element)) return true;
    }
    return false;
  };
}
