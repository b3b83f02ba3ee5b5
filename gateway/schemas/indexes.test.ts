import { describe, expect, test } from "bun:test";
import {
  checkDeletionProtection,
  defaultDeployment,
  parseConfigureIndex,
  parseCreateIndex,
  parseIndexName,
} from "./indexes.ts";
import { dimensionMax, indexNameCharsMax, tagsPerIndexMax } from "./limits.ts";
import { refused } from "./testing.ts";

describe("index names", () => {
  test("valid names pass", () => {
    for (const name of ["a", "docs-1", "0abc", "x".repeat(indexNameCharsMax)]) {
      expect(parseIndexName(name)).toBe(name);
    }
  });

  test("bad names are refused with the phrase 'alphanumeric character'", () => {
    for (const name of ["-docs", "docs-", "Docs", "doc_s", "doc s", "héllo"]) {
      const error = refused(() => parseIndexName(name));
      expect(error.field).toBe("name");
      expect(error.message).toContain("alphanumeric character");
    }
    expect(refused(() => parseIndexName("")).field).toBe("name");
    expect(refused(() => parseIndexName("x".repeat(indexNameCharsMax + 1))).limit).toBe(
      `at most ${indexNameCharsMax} characters`,
    );
  });
});

describe("deletion protection", () => {
  test("enabled, disabled and absent pass; anything else is refused in Pinecone's words", () => {
    for (const value of ["enabled", "disabled", undefined])
      checkDeletionProtection(value, "deletionProtection");
    for (const value of ["Enabled", "on", "", true, null, 1]) {
      const error = refused(() => checkDeletionProtection(value, "deletion_protection"));
      expect(error.field).toBe("deletion_protection");
      expect(error.message).toContain(
        "Invalid deletion_protection, value should be either enabled or disabled",
      );
      expect(error.limit).toBe("enabled | disabled");
    }
  });
});

describe("create index", () => {
  test("legacy form: defaults to cosine, dense, disabled protection, local deployment", () => {
    expect(parseCreateIndex({ name: "a", dimension: 8 })).toEqual({
      name: "a",
      dimension: 8,
      metric: "cosine",
      vectorType: "dense",
      deletionProtection: "disabled",
      tags: {},
      deployment: { ...defaultDeployment },
    });
  });

  test("legacy form with spec, tags and every metric", () => {
    for (const metric of ["cosine", "euclidean", "dotproduct"] as const) {
      const parsed = parseCreateIndex({
        name: "a",
        dimension: 3,
        metric,
        spec: { serverless: { cloud: "aws", region: "us-east-1" } },
        tags: { team: "search", gone: "" },
        deletionProtection: "enabled",
        waitUntilReady: true,
      });
      expect(parsed.metric).toBe(metric);
      expect(parsed.deployment).toEqual({ type: "managed", cloud: "aws", region: "us-east-1" });
      expect(parsed.tags).toEqual({ team: "search" });
      expect(parsed.deletionProtection).toBe("enabled");
    }
  });

  test("2026-07 form: dense and sparse vector fields", () => {
    const dense = parseCreateIndex({
      name: "a",
      schema: { fields: { _values: { type: "dense_vector", dimension: 4, metric: "euclidean" } } },
      deployment: { deploymentType: "managed", cloud: "gcp", region: "eu" },
    });
    expect(dense).toMatchObject({ dimension: 4, metric: "euclidean", vectorType: "dense" });
    expect(dense.deployment).toEqual({ type: "managed", cloud: "gcp", region: "eu" });
    const sparse = parseCreateIndex({
      name: "s",
      schema: { fields: { _sparse_values: { type: "sparse_vector" } } },
    });
    expect(sparse).toMatchObject({ metric: "dotproduct", vectorType: "sparse" });
    expect(sparse.dimension).toBeUndefined();
  });

  test("2026-07 form: text fields and two dense fields are refused", () => {
    const text = refused(() =>
      parseCreateIndex({ name: "a", schema: { fields: { body: { type: "string", full_text_search: {} } } } }),
    );
    expect(text.field).toBe("schema.fields.body.type");
    const twoDense = refused(() =>
      parseCreateIndex({
        name: "a",
        schema: {
          fields: {
            a: { type: "dense_vector", dimension: 2, metric: "cosine" },
            b: { type: "dense_vector", dimension: 2, metric: "cosine" },
          },
        },
      }),
    );
    expect(twoDense.field).toBe("schema.fields");
  });

  test("dimension limits, sparse rules, unknown metric, bad protection", () => {
    expect(refused(() => parseCreateIndex({ name: "a", dimension: 0 })).field).toBe("dimension");
    expect(refused(() => parseCreateIndex({ name: "a", dimension: dimensionMax + 1 })).limit).toBe(
      `at most ${dimensionMax}`,
    );
    expect(refused(() => parseCreateIndex({ name: "a", dimension: 1.5 })).field).toBe("dimension");
    expect(refused(() => parseCreateIndex({ name: "a" })).field).toBe("dimension");
    expect(refused(() => parseCreateIndex({ name: "a", vectorType: "sparse", dimension: 3 })).field).toBe(
      "dimension",
    );
    expect(refused(() => parseCreateIndex({ name: "a", vectorType: "sparse", metric: "cosine" })).field).toBe(
      "metric",
    );
    expect(refused(() => parseCreateIndex({ name: "a", dimension: 3, metric: "manhattan" })).field).toBe(
      "metric",
    );
    expect(
      refused(() => parseCreateIndex({ name: "a", dimension: 3, deletionProtection: "maybe" })).field,
    ).toBe("deletionProtection");
    expect(refused(() => parseCreateIndex({ name: "Bad", dimension: 3 })).message).toContain(
      "alphanumeric character",
    );
    expect(refused(() => parseCreateIndex({ name: "a", dimension: 3, spec: { pod: {} } })).field).toBe(
      "spec.pod.environment",
    );
  });

  test("pod specs: sizing echoed, pods defaulted to replicas x shards, metadataConfig kept, bad pod types refused", () => {
    const parsed = parseCreateIndex({
      name: "p",
      dimension: 3,
      spec: {
        pod: {
          environment: "us-east-1-aws",
          podType: "p1.x2",
          replicas: 2,
          shards: 3,
          metadataConfig: { indexed: ["genre", "genre", "year"] },
        },
      },
    });
    expect(parsed.deployment).toEqual({
      type: "pod",
      environment: "us-east-1-aws",
      podType: "p1.x2",
      pods: 6,
      replicas: 2,
      shards: 3,
    });
    expect(parsed.metadataIndexed).toEqual(["genre", "year"]);
    const native = parseCreateIndex({
      name: "p",
      schema: { fields: { e: { type: "dense_vector", dimension: 3, metric: "cosine" } } },
      deployment: { deploymentType: "pod", environment: "us-east-1-aws", podType: "s1.x1" },
      sourceCollection: "films",
    });
    expect(native.deployment).toMatchObject({
      type: "pod",
      podType: "s1.x1",
      replicas: 1,
      shards: 1,
      pods: 1,
    });
    expect(native.sourceCollection).toBe("films");
    const badType = refused(() =>
      parseCreateIndex({ name: "p", dimension: 3, spec: { pod: { environment: "e", podType: "p9.x1" } } }),
    );
    expect(badType.field).toBe("spec.pod.podType");
    expect(badType.limit).toContain("p1.x1");
    const capacityOnPod = refused(() =>
      parseCreateIndex({
        name: "p",
        schema: { fields: { e: { type: "dense_vector", dimension: 3, metric: "cosine" } } },
        deployment: { deploymentType: "pod", environment: "e", podType: "p1.x1" },
        readCapacity: { mode: "OnDemand" },
      }),
    );
    expect(capacityOnPod.field).toBe("readCapacity");
  });

  test("read capacity: OnDemand and Dedicated round into the engine's shape; what Needle cannot honour is refused", () => {
    const dedicated = {
      mode: "Dedicated",
      dedicated: { nodeType: "b1", scaling: "Manual", manual: { replicas: 2, shards: 1 } },
    };
    const schema = { fields: { e: { type: "dense_vector", dimension: 3, metric: "cosine" } } };
    expect(parseCreateIndex({ name: "d", schema, readCapacity: dedicated }).readCapacity).toEqual({
      mode: "Dedicated",
      nodeType: "b1",
      scaling: "Manual",
      replicas: 2,
      shards: 1,
    });
    expect(
      parseCreateIndex({
        name: "d",
        dimension: 3,
        spec: { serverless: { cloud: "aws", region: "r", readCapacity: dedicated } },
      }).readCapacity?.mode,
    ).toBe("Dedicated");
    expect(parseCreateIndex({ name: "d", schema, readCapacity: { mode: "OnDemand" } }).readCapacity).toEqual({
      mode: "OnDemand",
    });
    const shards = refused(() =>
      parseCreateIndex({
        name: "d",
        schema,
        readCapacity: {
          ...dedicated,
          dedicated: { ...dedicated.dedicated, manual: { replicas: 1, shards: 2 } },
        },
      }),
    );
    expect(shards.field).toBe("readCapacity.dedicated.manual.shards");
    expect(shards.message).toContain("does not shard");
    const node = refused(() =>
      parseCreateIndex({
        name: "d",
        schema,
        readCapacity: { ...dedicated, dedicated: { ...dedicated.dedicated, nodeType: "x9" } },
      }),
    );
    expect(node.field).toBe("readCapacity.dedicated.nodeType");
    expect(
      refused(() => parseCreateIndex({ name: "d", schema, readCapacity: { mode: "Serverful" } })).field,
    ).toBe("readCapacity.mode");
  });

  test("more than 20 tags, bad tag keys and over-long values are refused", () => {
    const many = Object.fromEntries(Array.from({ length: tagsPerIndexMax + 1 }, (_, i) => [`k${i}`, "v"]));
    const error = refused(() => parseCreateIndex({ name: "a", dimension: 3, tags: many }));
    expect(error.field).toBe("tags");
    expect(error.limit).toBe(`at most ${tagsPerIndexMax} tags`);
    const exactly = Object.fromEntries(Array.from({ length: tagsPerIndexMax }, (_, i) => [`k${i}`, "v"]));
    expect(Object.keys(parseCreateIndex({ name: "a", dimension: 3, tags: exactly }).tags ?? {})).toHaveLength(
      tagsPerIndexMax,
    );
    expect(
      refused(() => parseCreateIndex({ name: "a", dimension: 3, tags: { "bad key!": "v" } })).field,
    ).toContain("tags");
    expect(
      refused(() => parseCreateIndex({ name: "a", dimension: 3, tags: { k: "x".repeat(121) } })).field,
    ).toBe("tags.k");
  });
});

describe("configure index", () => {
  test("deletion protection and tags pass; empty tag values survive (they remove keys)", () => {
    expect(parseConfigureIndex({ deletionProtection: "enabled", tags: { a: "", b: "x" } })).toEqual({
      deletionProtection: "enabled",
      tags: { a: "", b: "x" },
    });
  });

  test("nothing to configure and unknown fields are refused", () => {
    expect(refused(() => parseConfigureIndex({})).message).toContain("at least one");
    expect(refused(() => parseConfigureIndex({ spec: {} })).message).toContain("at least one");
    expect(refused(() => parseConfigureIndex({ podReplicas: 2 })).message).toContain("podReplicas");
  });

  test("pod sizing and read capacity in either API version's spelling", () => {
    expect(parseConfigureIndex({ spec: { pod: { replicas: 3, podType: "p1.x2" } } })).toEqual({
      pod: { replicas: 3, podType: "p1.x2" },
    });
    expect(parseConfigureIndex({ deployment: { replicas: 2 } })).toEqual({ pod: { replicas: 2 } });
    expect(
      parseConfigureIndex({ readCapacity: { mode: "Dedicated", dedicated: { manual: { replicas: 3 } } } }),
    ).toEqual({
      readCapacity: { mode: "Dedicated", replicas: 3 },
    });
    expect(parseConfigureIndex({ spec: { serverless: { readCapacity: { mode: "OnDemand" } } } })).toEqual({
      readCapacity: { mode: "OnDemand" },
    });
    expect(refused(() => parseConfigureIndex({ deployment: { podType: "q1.x1" } })).field).toBe(
      "deployment.podType",
    );
  });
});
