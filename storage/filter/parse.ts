/**
 * Parses a Pinecone metadata filter (JSON) into the validated Filter AST of storage/types.ts.
 *
 * Rules (Pinecone's, with Needle's decisions where Pinecone is silent; see storage/DESIGN.md):
 *   - `$eq`, `$ne` take a string, a finite number or a boolean.
 *   - `$gt`, `$gte`, `$lt`, `$lte` take a finite number.
 *   - `$in`, `$nin` take a non-empty array (at most filterInValuesMax) of strings and/or finite
 *     numbers. Booleans are not allowed (Pinecone documents string and number).
 *   - `$exists` takes a boolean.
 *   - `$and`, `$or` take a non-empty array of non-empty filter objects.
 *   - A bare string/number/boolean means `$eq`. Several keys in one object are an implicit
 *     AND; several operators on one field are an AND.
 *   - `{}` as the whole filter matches every record (`{kind: "and", clauses: []}`); an empty
 *     object anywhere else is refused, because it is almost certainly a bug in the caller.
 *   - Refused: unknown operators (`$regex`, `$not`, ...), null, lists as bare values (use
 *     `$in`), nested objects as values, NaN and ±Infinity, field names that start with `$` or
 *     are empty or longer than filterFieldNameLengthMax, and filters over the limits in
 *     limits.ts. Limits are checked while walking, before any work proportional to the
 *     excess is done.
 * Every error is INVALID_ARGUMENT naming the path (`filter.$or[2].genre.$in[3]`), the rule or
 * limit, and what was received.
 */
import { z } from "zod";
import { invalidArgument, type NeedleError } from "../errors.ts";
import { isPlainObject } from "../plain-object.ts";
import { isWellFormedText } from "../metadata.ts";
import type { FieldCondition, Filter } from "../types.ts";
import {
  filterClausesMax,
  filterDepthMax,
  filterFieldNameLengthMax,
  filterInValuesMax,
  filterInValuesTotalMax,
} from "./limits.ts";

// zod 4 numbers are finite by default, so NaN and ±Infinity fail these schemas.
const scalarOperandSchema = z.union([z.string(), z.number(), z.boolean()]);
const numberOperandSchema = z.number();
const listElementSchema = z.union([z.string(), z.number()]);
const listOperandSchema = z.array(listElementSchema);
const existsOperandSchema = z.boolean();

const fieldOperators = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"] as const;
type FieldOperator = (typeof fieldOperators)[number];
const fieldOperatorSet: ReadonlySet<string> = new Set(fieldOperators);
const operatorList = `${fieldOperators.join(", ")}, $and, $or`;

interface ParseState {
  clauses: number;
  inValues: number;
}

/** Parses and validates `raw`; `field` names the request field for error paths. */
export function parseFilter(raw: unknown, field = "filter"): Filter {
  if (!isPlainObject(raw)) {
    throw invalidArgument(field, `${field} must be a JSON object`, "an object of conditions", describe(raw));
  }
  if (Object.keys(raw).length === 0) return { kind: "and", clauses: [] };
  return parseObject(raw, field, 1, { clauses: 0, inValues: 0 });
}

function parseObject(
  object: Record<string, unknown>,
  path: string,
  depth: number,
  state: ParseState,
): Filter {
  const keys = Object.keys(object);
  if (keys.length === 0) {
    throw invalidArgument(
      path,
      `${path} is an empty filter object; only the whole filter may be {} (match everything)`,
      "at least one condition",
      "{}",
    );
  }
  checkClauses(state, keys.length, path);
  const parts: Filter[] = [];
  for (const key of keys) {
    const value = object[key];
    const keyPath = `${path}.${key}`;
    if (key === "$and" || key === "$or") {
      parts.push(parseLogical(key, value, keyPath, depth, state));
    } else if (key.startsWith("$")) {
      throw invalidArgument(
        keyPath,
        `${keyPath}: unknown operator ${key}; a filter object holds $and, $or or field names (field names cannot start with $)`,
        "$and, $or or a field name",
        key,
      );
    } else {
      parts.push(...parseField(key, value, keyPath, state));
    }
  }
  return parts.length === 1 ? parts[0]! : { kind: "and", clauses: parts };
}

function parseLogical(
  operator: "$and" | "$or",
  value: unknown,
  path: string,
  depth: number,
  state: ParseState,
): Filter {
  countClause(state, path);
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidArgument(
      path,
      `${path}: ${operator} takes a non-empty array of filter objects`,
      "non-empty array of filter objects",
      describe(value),
    );
  }
  if (depth + 1 > filterDepthMax) {
    throw invalidArgument(
      path,
      `${path}: filter nests deeper than ${filterDepthMax} levels`,
      filterDepthMax,
      `depth ${depth + 1}`,
    );
  }
  checkClauses(state, value.length, path);
  const clauses = value.map((element, index) => {
    const elementPath = `${path}[${index}]`;
    if (!isPlainObject(element)) {
      throw invalidArgument(
        elementPath,
        `${elementPath}: ${operator} elements must be filter objects`,
        "a filter object",
        describe(element),
      );
    }
    return parseObject(element, elementPath, depth + 1, state);
  });
  return { kind: operator === "$and" ? "and" : "or", clauses };
}

function parseField(name: string, value: unknown, path: string, state: ParseState): Filter[] {
  if (name.length === 0 || name.length > filterFieldNameLengthMax) {
    throw invalidArgument(
      path,
      `${path}: field names are 1-${filterFieldNameLengthMax} characters`,
      `1-${filterFieldNameLengthMax} characters`,
      `${name.length} characters`,
    );
  }
  if (!isWellFormedText(name)) throw notWellFormed(path, "field names");
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    countClause(state, path);
    return [{ kind: "field", field: name, condition: parseOperand("$eq", value, path, state) }];
  }
  if (!isPlainObject(value)) throw badFieldValue(path, value);
  const operators = Object.keys(value);
  // An empty condition object is no condition on the field, as Pinecone reads it (clients
  // such as Mastra's send `{field: {}}` for "any value").
  if (operators.length === 0) return [];
  checkClauses(state, operators.length, path);
  state.clauses += operators.length;
  return operators.map((operator) => {
    const operatorPath = `${path}.${operator}`;
    if (!fieldOperatorSet.has(operator)) {
      const message = operator.startsWith("$")
        ? `${operatorPath}: unknown operator ${operator}; supported: ${operatorList}`
        : `${operatorPath}: metadata values do not nest; expected an operator such as $eq, got the key "${operator}"`;
      throw invalidArgument(operatorPath, message, operatorList, operator);
    }
    const condition = parseOperand(operator as FieldOperator, value[operator], operatorPath, state);
    return { kind: "field", field: name, condition } satisfies Filter;
  });
}

function badFieldValue(path: string, value: unknown): NeedleError {
  if (value === null) {
    return invalidArgument(
      path,
      `${path}: null is not a filter value; use {"$exists": false} for records without the field`,
      "string, number, boolean or an operator object",
      "null",
    );
  }
  if (Array.isArray(value)) {
    return invalidArgument(
      path,
      `${path}: a list is not a filter value; use {"$in": [...]} to match any of several values`,
      "string, number, boolean or an operator object",
      describe(value),
    );
  }
  return invalidArgument(
    path,
    `${path}: a filter value is a string, finite number, boolean or an operator object`,
    "string, number, boolean or an operator object",
    describe(value),
  );
}

function parseOperand(
  operator: FieldOperator,
  operand: unknown,
  path: string,
  state: ParseState,
): FieldCondition {
  switch (operator) {
    case "$eq":
    case "$ne": {
      const parsed = scalarOperandSchema.safeParse(operand);
      if (!parsed.success) {
        throw invalidArgument(
          path,
          `${path}: ${operator} takes a string, finite number or boolean`,
          "string, finite number or boolean",
          describe(operand),
        );
      }
      if (typeof parsed.data === "string" && !isWellFormedText(parsed.data)) {
        throw notWellFormed(path, `${operator} strings`);
      }
      return { op: operator, value: parsed.data };
    }
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte": {
      const parsed = numberOperandSchema.safeParse(operand);
      if (!parsed.success) {
        throw invalidArgument(
          path,
          `${path}: ${operator} takes a finite number`,
          "finite number",
          describe(operand),
        );
      }
      return { op: operator, value: parsed.data };
    }
    case "$in":
    case "$nin":
      return { op: operator, values: parseList(operator, operand, path, state) };
    case "$exists": {
      const parsed = existsOperandSchema.safeParse(operand);
      if (!parsed.success) {
        throw invalidArgument(path, `${path}: $exists takes true or false`, "boolean", describe(operand));
      }
      return { op: operator, value: parsed.data };
    }
  }
}

function parseList(
  operator: "$in" | "$nin",
  operand: unknown,
  path: string,
  state: ParseState,
): (string | number)[] {
  const limit = `1-${filterInValuesMax} strings or finite numbers`;
  if (!Array.isArray(operand)) {
    throw invalidArgument(
      path,
      `${path}: ${operator} takes an array of strings or numbers`,
      limit,
      describe(operand),
    );
  }
  if (operand.length === 0 || operand.length > filterInValuesMax) {
    throw invalidArgument(
      path,
      `${path}: ${operator} takes 1-${filterInValuesMax} values`,
      limit,
      `${operand.length} values`,
    );
  }
  state.inValues += operand.length;
  if (state.inValues > filterInValuesTotalMax) {
    throw invalidArgument(
      path,
      `${path}: the filter's $in/$nin lists hold more than ${filterInValuesTotalMax} values in total`,
      filterInValuesTotalMax,
      `${state.inValues} values so far`,
    );
  }
  const parsed = listOperandSchema.safeParse(operand);
  if (!parsed.success) {
    const index = Number(parsed.error.issues[0]?.path[0] ?? 0);
    const elementPath = `${path}[${index}]`;
    throw invalidArgument(
      elementPath,
      `${elementPath}: ${operator} values are strings or finite numbers`,
      "string or finite number",
      describe(operand[index]),
    );
  }
  const malformed = parsed.data.findIndex((item) => typeof item === "string" && !isWellFormedText(item));
  if (malformed >= 0) throw notWellFormed(`${path}[${malformed}]`, `${operator} strings`);
  return parsed.data;
}

/** Stored text is well formed (the schemas refuse lone surrogates), so a filter must be too. */
function notWellFormed(path: string, what: string): NeedleError {
  return invalidArgument(
    path,
    `${path}: ${what} must be well-formed Unicode text (no unpaired UTF-16 surrogate)`,
    "well-formed Unicode text",
    "a string with an unpaired surrogate",
  );
}

function countClause(state: ParseState, path: string): void {
  checkClauses(state, 1, path);
  state.clauses += 1;
}

/**
 * Refuses as soon as `more` clauses would pass the limit; does not count them (callers check
 * a lower bound before walking an object or array, then count each clause as it is made).
 */
function checkClauses(state: ParseState, more: number, path: string): void {
  if (state.clauses + more > filterClausesMax) {
    throw invalidArgument(
      path,
      `${path}: the filter has more than ${filterClausesMax} clauses`,
      filterClausesMax,
      `at least ${state.clauses + more} clauses`,
    );
  }
}

/** A short description of what was received, for error messages. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case "string": {
      const quoted = JSON.stringify(value);
      return quoted.length > 66 ? `${quoted.slice(0, 64)}..."` : quoted;
    }
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "object": {
      const keys = Object.keys(value);
      if (keys.length === 0) return "{}";
      const shown = keys.slice(0, 3).join(", ");
      return `an object with keys ${shown}${keys.length > 3 ? ", ..." : ""}`;
    }
    default:
      return typeof value;
  }
}
