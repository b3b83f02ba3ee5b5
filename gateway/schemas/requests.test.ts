import { describe, expect, test } from "bun:test";
import type { NeedleError } from "../../storage/errors.ts";
import {
  fetchByMetadataLimitMax,
  idsPerRequestMax,
  listLimitDefault,
  listLimitMax,
  namespaceCharsMax,
  topKMax,
} from "./limits.ts";
import {
  parseDelete,
  parseFetch,
  parseFetchByMetadata,
  parseList,
  parseListNamespaces,
  parseNamespace,
  parseQuery,
  parseUpdate,
  parseUpsert,
} from "./requests.ts";
import { refused } from "./testing.ts";

const ids = (count: number) => Array.from({ length: count }, (_, i) => `id-${i}`);

describe("query", () => {
  test("defaults, vector conversion and a parsed filter", () => {
    const query = parseQuery({ topK: 3, vector: [1, 2], filter: { genre: "jazz" }, scanFactor: 2 });
    expect(query.includeValues).toBe(false);
    expect(query.includeMetadata).toBe(false);
    expect(query.vector).toBeInstanceOf(Float32Array);
    expect(query.filter).toEqual({ kind: "field", field: "genre", condition: { op: "$eq", value: "jazz" } });
  });

  test("topK 0 and 10001 are refused; 1 and 10000 accepted", () => {
    expect(refused(() => parseQuery({ topK: 0, vector: [1] })).field).toBe("topK");
    const over = refused(() => parseQuery({ topK: topKMax + 1, vector: [1] }));
    expect(over.field).toBe("topK");
    expect(over.limit).toBe(`at most ${topKMax}`);
    expect(over.received).toBe(String(topKMax + 1));
    expect(refused(() => parseQuery({ topK: 2.5, vector: [1] })).field).toBe("topK");
    expect(parseQuery({ topK: 1, vector: [1] }).topK).toBe(1);
    expect(parseQuery({ topK: topKMax, vector: [1] }).topK).toBe(topKMax);
  });

  test("id excludes vector and sparseVector; one of them is required", () => {
    expect(refused(() => parseQuery({ topK: 1, id: "a", vector: [1] })).field).toBe("id");
    expect(
      refused(() => parseQuery({ topK: 1, id: "a", sparseVector: { indices: [1], values: [1] } })).field,
    ).toBe("id");
    expect(refused(() => parseQuery({ topK: 1 })).field).toBe("vector");
    expect(parseQuery({ topK: 1, id: "a" }).id).toBe("a");
  });

  test("bad vectors and filters name their field", () => {
    expect(refused(() => parseQuery({ topK: 1, vector: [1, Number.NaN] })).field).toBe("vector[1]");
    const filter = refused(() => parseQuery({ topK: 1, vector: [1], filter: { year: { $gt: "x" } } }));
    expect(filter.field?.startsWith("filter")).toBe(true);
  });

  test("field names can be prefixed for a wire format", () => {
    const error = refused(() => parseQuery({ topK: 0, vector: [1] }, { fieldPrefix: "body" }));
    expect(error.field).toBe("body.topK");
  });
});

describe("fetch, delete, list", () => {
  test("more than 1000 fetch ids are refused", () => {
    const error = refused(() => parseFetch({ ids: ids(idsPerRequestMax + 1) }));
    expect(error.field).toBe("ids");
    expect(error.limit).toBe(`at most ${idsPerRequestMax} items`);
    expect(parseFetch({ ids: ids(idsPerRequestMax) })).toHaveLength(idsPerRequestMax);
    expect(refused(() => parseFetch({ ids: [] })).field).toBe("ids");
    expect(refused(() => parseFetch({ ids: ["ok", "nön-ascii"] })).field).toBe("ids[1]");
  });

  test("delete takes exactly one of ids, filter, deleteAll", () => {
    expect(parseDelete({ ids: ["a"] })).toEqual({ ids: ["a"] });
    expect(parseDelete({ deleteAll: true })).toEqual({ deleteAll: true });
    expect(parseDelete({ filter: { n: { $lt: 3 } } })).toEqual({
      filter: { kind: "field", field: "n", condition: { op: "$lt", value: 3 } },
    });
    expect(refused(() => parseDelete({ ids: ["a"], deleteAll: true })).message).toContain("exclude");
    expect(refused(() => parseDelete({})).field).toBe("ids");
    expect(refused(() => parseDelete({ ids: ids(idsPerRequestMax + 1) })).field).toBe("ids");
  });

  test("list limit defaults to 100; 0 and 101 are refused", () => {
    expect(parseList({})).toEqual({ limit: listLimitDefault });
    expect(parseList(undefined).limit).toBe(listLimitDefault);
    expect(refused(() => parseList({ limit: listLimitMax + 1 })).field).toBe("limit");
    expect(refused(() => parseList({ limit: 0 })).field).toBe("limit");
    expect(parseList({ prefix: "doc#", limit: 5, paginationToken: "t" })).toEqual({
      prefix: "doc#",
      limit: 5,
      paginationToken: "t",
    });
  });

  test("fetch by metadata limit is 1-10000, default 100", () => {
    expect(parseFetchByMetadata({ filter: { a: 1 } }).limit).toBe(100);
    expect(
      refused(() => parseFetchByMetadata({ filter: { a: 1 }, limit: fetchByMetadataLimitMax + 1 })).field,
    ).toBe("limit");
  });

  test("namespace lists take limit <= 100", () => {
    expect(parseListNamespaces(undefined).limit).toBe(100);
    expect(refused(() => parseListNamespaces({ limit: 101 })).field).toBe("limit");
  });
});

describe("update and upsert", () => {
  test("update needs exactly one of id and filter", () => {
    expect(refused(() => parseUpdate({ values: [1] })).field).toBe("id");
    expect(refused(() => parseUpdate({ id: "a", filter: { a: 1 } })).field).toBe("id");
    const update = parseUpdate({ id: "a", values: [1, 2], setMetadata: { k: "v" }, dryRun: true });
    expect(update.values).toBeInstanceOf(Float32Array);
    expect(update.setMetadata).toEqual({ k: "v" });
    expect(update.dryRun).toBe(true);
    expect(refused(() => parseUpdate({ id: "a", setMetadata: { k: null } })).field).toBe("setMetadata.k");
  });

  test("wire names can rename fields in errors", () => {
    const error = refused(() =>
      parseUpsert({ records: [{ id: "", values: [1] }] }, { fieldNames: { records: "vectors" } }),
    );
    expect(error.field).toBe("vectors[0].id");
  });
});

describe("namespace names", () => {
  test('"" and ordinary names pass; NUL, non-ASCII and over-long names are refused', () => {
    expect(parseNamespace("")).toBe("");
    expect(parseNamespace("__default__")).toBe("__default__");
    expect(refused(() => parseNamespace("a\0b")).message).toContain("NUL");
    expect(refused(() => parseNamespace("naïve")).field).toBe("namespace");
    expect(refused(() => parseNamespace("n".repeat(namespaceCharsMax + 1))).limit).toBe(
      `at most ${namespaceCharsMax} characters`,
    );
  });
});

test("searchEffort: passed through when within 0.1..100, refused naming the field otherwise", () => {
  expect(parseQuery({ topK: 3, vector: [1, 2], searchEffort: 2.5 }).searchEffort).toBe(2.5);
  expect(parseQuery({ topK: 3, vector: [1, 2] }).searchEffort).toBeUndefined();
  for (const bad of [0, 0.05, 101, "2", Number.NaN]) {
    let caught: unknown;
    try {
      parseQuery({ topK: 3, vector: [1, 2], searchEffort: bad });
    } catch (error) {
      caught = error;
    }
    expect((caught as NeedleError).code).toBe("INVALID_ARGUMENT");
    expect((caught as NeedleError).field).toBe("searchEffort");
  }
});
