import { describe, expect, test } from "bun:test";
import { NeedleError } from "../errors.ts";
import type { Filter } from "../types.ts";
import { filterClausesMax, filterDepthMax, filterInValuesMax, filterInValuesTotalMax } from "./limits.ts";
import { parseFilter } from "./parse.ts";

function parseError(raw: unknown, field?: string): NeedleError {
  try {
    parseFilter(raw, field);
  } catch (error) {
    expect(error).toBeInstanceOf(NeedleError);
    return error as NeedleError;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
}

function field(name: string, condition: Extract<Filter, { kind: "field" }>["condition"]): Filter {
  return { kind: "field", field: name, condition };
}

describe("parseFilter: valid forms", () => {
  const cases: [string, unknown, Filter][] = [
    ["{} matches everything", {}, { kind: "and", clauses: [] }],
    ["bare string is $eq", { genre: "drama" }, field("genre", { op: "$eq", value: "drama" })],
    ["bare number is $eq", { year: 2020 }, field("year", { op: "$eq", value: 2020 })],
    ["bare boolean is $eq", { done: false }, field("done", { op: "$eq", value: false })],
    ["$ne boolean", { done: { $ne: true } }, field("done", { op: "$ne", value: true })],
    ["$gt fractional", { price: { $gt: -1.5 } }, field("price", { op: "$gt", value: -1.5 })],
    ["$in mixed", { tag: { $in: ["a", 2] } }, field("tag", { op: "$in", values: ["a", 2] })],
    ["$nin", { tag: { $nin: ["a"] } }, field("tag", { op: "$nin", values: ["a"] })],
    ["$exists", { tag: { $exists: false } }, field("tag", { op: "$exists", value: false })],
    [
      "several keys are an AND",
      { genre: "drama", year: { $gte: 2000, $lt: 2010 } },
      {
        kind: "and",
        clauses: [
          field("genre", { op: "$eq", value: "drama" }),
          field("year", { op: "$gte", value: 2000 }),
          field("year", { op: "$lt", value: 2010 }),
        ],
      },
    ],
    [
      "nested $or/$and",
      { $or: [{ a: 1 }, { $and: [{ b: { $lte: 3 } }, { c: { $exists: true } }] }] },
      {
        kind: "or",
        clauses: [
          field("a", { op: "$eq", value: 1 }),
          {
            kind: "and",
            clauses: [field("b", { op: "$lte", value: 3 }), field("c", { op: "$exists", value: true })],
          },
        ],
      },
    ],
    [
      "field named like a prototype key",
      { constructor: "x" },
      field("constructor", { op: "$eq", value: "x" }),
    ],
  ];
  for (const [name, raw, expected] of cases) {
    test(name, () => {
      const parsed = parseFilter(raw);
      expect(parsed).toEqual(expected);
      // Round trip through JSON: the AST is plain data and parses the same after transport.
      expect(JSON.parse(JSON.stringify(parsed))).toEqual(expected);
    });
  }

  test("$and of one element is kept as an and of one clause", () => {
    expect(parseFilter({ $and: [{ a: "x" }] })).toEqual({
      kind: "and",
      clauses: [field("a", { op: "$eq", value: "x" })],
    });
  });

  test("an empty condition object is no condition on that field (as Pinecone reads it)", () => {
    expect(parseFilter({ genre: {} })).toEqual({ kind: "and", clauses: [] });
    expect(parseFilter({ genre: {}, year: 2020 })).toEqual(field("year", { op: "$eq", value: 2020 }));
    expect(parseFilter({ $or: [{ genre: {} }, { year: 2020 }] })).toEqual({
      kind: "or",
      clauses: [{ kind: "and", clauses: [] }, field("year", { op: "$eq", value: 2020 })],
    });
    // Unknown operators are still refused; an empty object in $and/$or still is too.
    expect(() => parseFilter({ genre: { $regex: "x" } })).toThrow("unknown operator");
    expect(() => parseFilter({ $and: [{}] })).toThrow("empty filter object");
  });

  test("__proto__ from JSON is an ordinary field name", () => {
    expect(parseFilter(JSON.parse('{"__proto__": {"$eq": "x"}}'))).toEqual(
      field("__proto__", { op: "$eq", value: "x" }),
    );
  });
});

describe("parseFilter: refusals are INVALID_ARGUMENT naming the field", () => {
  const cases: [string, unknown, string, RegExp][] = [
    ["not an object", "genre", "filter", /must be a JSON object/],
    ["array at top", [{ a: 1 }], "filter", /must be a JSON object/],
    ["null at top", null, "filter", /must be a JSON object/],
    [
      "unknown field operator",
      { genre: { $regex: "dr.*" } },
      "filter.genre.$regex",
      /unknown operator \$regex/,
    ],
    ["unknown top-level operator", { $not: { a: 1 } }, "filter.$not", /unknown operator \$not/],
    ["$gt on a string", { genre: { $gt: "a" } }, "filter.genre.$gt", /finite number/],
    ["$lte on a boolean", { year: { $lte: true } }, "filter.year.$lte", /finite number/],
    ["$eq null", { genre: { $eq: null } }, "filter.genre.$eq", /string, finite number or boolean/],
    ["$eq list", { genre: { $eq: ["a"] } }, "filter.genre.$eq", /string, finite number or boolean/],
    ["$eq object", { genre: { $eq: { a: 1 } } }, "filter.genre.$eq", /string, finite number or boolean/],
    ["bare null", { genre: null }, "filter.genre", /\$exists/],
    ["bare list", { genre: ["a", "b"] }, "filter.genre", /\$in/],
    ["nested object value", { genre: { sub: "a" } }, "filter.genre.sub", /do not nest/],
    ["NaN", { year: Number.NaN }, "filter.year", /.+/],
    ["$gt Infinity", { year: { $gt: Number.POSITIVE_INFINITY } }, "filter.year.$gt", /finite number/],
    ["$ne -Infinity", { year: { $ne: Number.NEGATIVE_INFINITY } }, "filter.year.$ne", /finite/],
    ["$in not array", { tag: { $in: "a" } }, "filter.tag.$in", /array/],
    ["$in empty", { tag: { $in: [] } }, "filter.tag.$in", /1-10000 values/],
    ["$in boolean element", { tag: { $in: ["a", true] } }, "filter.tag.$in[1]", /strings or finite numbers/],
    ["$nin null element", { tag: { $nin: [1, 2, null] } }, "filter.tag.$nin[2]", /strings or finite numbers/],
    ["$nin NaN element", { tag: { $nin: [Number.NaN] } }, "filter.tag.$nin[0]", /strings or finite numbers/],
    ["$exists string", { tag: { $exists: "yes" } }, "filter.tag.$exists", /true or false/],
    ["$and not array", { $and: { a: 1 } }, "filter.$and", /non-empty array/],
    ["$or empty", { $or: [] }, "filter.$or", /non-empty array/],
    ["$or element not object", { $or: [{ a: 1 }, "b"] }, "filter.$or[1]", /filter objects/],
    ["empty object inside $and", { $and: [{ a: 1 }, {}] }, "filter.$and[1]", /empty filter object/],
    ["empty field name", { "": 1 }, "filter.", /1-512 characters/],
    [
      "deep path is named",
      { $or: [{ a: 1 }, { $and: [{ b: { $in: [1, {}] } }] }] },
      "filter.$or[1].$and[0].b.$in[1]",
      /./,
    ],
    ["undefined value", { genre: undefined }, "filter.genre", /string, finite number, boolean/],
    ["class instance value", { when: new Date(0) }, "filter.when", /string, finite number, boolean/],
  ];
  for (const [name, raw, path, message] of cases) {
    test(name, () => {
      const error = parseError(raw);
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.kind).toBe("user");
      expect(error.field).toBe(path);
      expect(error.message).toMatch(message);
      expect(error.message).toContain(path);
      expect(error.limit).toBeDefined();
      expect(error.received).toBeDefined();
    });
  }

  test("the received value is described", () => {
    expect(parseError({ genre: { $gt: "abc" } }).received).toBe('"abc"');
    expect(parseError({ year: { $gt: Number.NaN } }).received).toBe("NaN");
    expect(parseError({ tag: { $in: [] } }).received).toBe("0 values");
  });

  test("the caller's field name prefixes every path", () => {
    expect(parseError({ genre: { $gt: "a" } }, "queries[2].filter").field).toBe(
      "queries[2].filter.genre.$gt",
    );
  });
});

describe("parseFilter: limits", () => {
  function nested(depth: number): unknown {
    let filter: unknown = { leaf: 1 };
    for (let i = 1; i < depth; i++) filter = { $and: [filter] };
    return filter;
  }

  test(`depth ${filterDepthMax} is accepted, ${filterDepthMax + 1} refused`, () => {
    expect(() => parseFilter(nested(filterDepthMax))).not.toThrow();
    const error = parseError(nested(filterDepthMax + 1));
    expect(error.limit).toBe(filterDepthMax);
    expect(error.message).toMatch(/deeper than 8/);
  });

  test("a 100,000-deep filter is refused without overflowing the stack", () => {
    const error = parseError(nested(100_000));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.limit).toBe(filterDepthMax);
  });

  test(`${filterClausesMax} clauses accepted, one more refused`, () => {
    const wide = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${i}`, i]));
    expect(() => parseFilter(wide(filterClausesMax))).not.toThrow();
    expect(parseError(wide(filterClausesMax + 1)).limit).toBe(filterClausesMax);
    const orWide = (count: number) => ({ $or: Array.from({ length: count }, (_, i) => ({ a: i })) });
    expect(() => parseFilter(orWide(filterClausesMax - 1))).not.toThrow(); // + the $or itself
    expect(parseError(orWide(filterClausesMax)).limit).toBe(filterClausesMax);
    const manyOperators = { $or: [{ a: { $gt: 1, $lt: 2 } }] };
    expect(() => parseFilter(manyOperators)).not.toThrow();
  });

  test("a hostile 100,000-clause filter is refused by counting, before any clause is parsed", () => {
    let operandsRead = 0;
    const clauses = Array.from({ length: 100_000 }, () => ({
      get a() {
        operandsRead++;
        return 1;
      },
    }));
    const error = parseError({ $or: clauses });
    expect(error.limit).toBe(filterClausesMax);
    expect(error.field).toBe("filter.$or");
    expect(operandsRead).toBe(0);
    // Spread across many small $or lists the count still stops it partway.
    const spread = { $and: Array.from({ length: 1000 }, () => ({ $or: [{ a: 1 }, { b: 2 }] })) };
    expect(parseError(spread).limit).toBe(filterClausesMax);
  });

  test("$in list sizes", () => {
    const list = (count: number) => Array.from({ length: count }, (_, i) => i);
    expect(() => parseFilter({ a: { $in: list(filterInValuesMax) } })).not.toThrow();
    const tooLong = parseError({ a: { $in: list(filterInValuesMax + 1) } });
    expect(tooLong.field).toBe("filter.a.$in");
    expect(tooLong.received).toBe(`${filterInValuesMax + 1} values`);
    const total = parseError({
      a: { $in: list(filterInValuesMax) },
      b: { $nin: list(filterInValuesMax) },
      c: { $in: [1] },
    });
    expect(total.field).toBe("filter.c.$in");
    expect(total.limit).toBe(filterInValuesTotalMax);
  });
});
