/** The configuration rules of index-config.ts, directly. */
import { describe, expect, test } from "bun:test";
import type { NeedleError } from "../storage/errors.ts";
import type { IndexConfig } from "./api.ts";
import { configAfterChange, configFromCatalog, configFromCreate } from "./index-config.ts";

const base = configFromCreate(
  { name: "i", dimension: 2, metric: "cosine", vectorType: "dense" },
  "2026-12-01T00:00:00Z",
);
const pod = configFromCreate(
  {
    name: "p",
    dimension: 2,
    metric: "cosine",
    vectorType: "dense",
    deployment: { type: "pod", environment: "e", podType: "p1.x2", pods: 2, replicas: 2, shards: 1 },
  },
  "2026-12-01T00:00:00Z",
);

function refusal(change: () => unknown): NeedleError {
  try {
    change();
  } catch (error) {
    return error as NeedleError;
  }
  throw new Error("expected a refusal");
}

describe("read capacity", () => {
  test("defaults to OnDemand; switching to Dedicated needs a node type and replicas", () => {
    expect(base.readCapacity).toEqual({ mode: "OnDemand" });
    expect(
      refusal(() => configAfterChange(base, { readCapacity: { mode: "Dedicated", replicas: 1 } })).field,
    ).toBe("readCapacity.dedicated.nodeType");
    expect(
      refusal(() => configAfterChange(base, { readCapacity: { mode: "Dedicated", nodeType: "b1" } })).field,
    ).toBe("readCapacity.dedicated.manual.replicas");
    const dedicated = configAfterChange(base, {
      readCapacity: { mode: "Dedicated", nodeType: "b1", replicas: 2 },
    });
    expect(dedicated.readCapacity).toEqual({
      mode: "Dedicated",
      nodeType: "b1",
      scaling: "Manual",
      replicas: 2,
      shards: 1,
    });
    // A change within Dedicated keeps what it does not name.
    expect(
      configAfterChange(dedicated, { readCapacity: { mode: "Dedicated", replicas: 5 } }).readCapacity,
    ).toEqual({
      mode: "Dedicated",
      nodeType: "b1",
      scaling: "Manual",
      replicas: 5,
      shards: 1,
    });
    expect(configAfterChange(dedicated, { readCapacity: { mode: "OnDemand" } }).readCapacity).toEqual({
      mode: "OnDemand",
    });
    expect(refusal(() => configAfterChange(pod, { readCapacity: { mode: "OnDemand" } })).field).toBe(
      "readCapacity",
    );
  });
});

describe("pod sizing", () => {
  test("replicas change pods; pod types grow within their family only", () => {
    const grown = configAfterChange(pod, { pod: { podType: "p1.x8", replicas: 3 } });
    expect(grown.deployment).toEqual({
      type: "pod",
      environment: "e",
      podType: "p1.x8",
      pods: 3,
      replicas: 3,
      shards: 1,
    });
    for (const podType of ["p1.x1", "s1.x2", "p2.x8"]) {
      const error = refusal(() => configAfterChange(pod, { pod: { podType } }));
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.field).toBe("podType");
    }
    expect(refusal(() => configAfterChange(base, { pod: { replicas: 2 } })).message).toBe(
      "Configuring replicas and pod type is not supported for serverless indexes",
    );
  });
});

test("configurations written before deployments had a type read as managed, OnDemand", () => {
  const stored = {
    ...base,
    deployment: { cloud: "aws", region: "r" },
    readCapacity: undefined,
  } as unknown as IndexConfig;
  const read = configFromCatalog(stored);
  expect(read.deployment).toEqual({ type: "managed", cloud: "aws", region: "r" });
  expect(read.readCapacity).toEqual({ mode: "OnDemand" });
});

test("creating from a collection is NOT_FOUND naming it", () => {
  const error = refusal(() =>
    configFromCreate(
      { name: "c", dimension: 2, metric: "cosine", vectorType: "dense", sourceCollection: "films" },
      "t",
    ),
  );
  expect(error.code).toBe("NOT_FOUND");
  expect(error.message).toBe("Resource films not found");
});
