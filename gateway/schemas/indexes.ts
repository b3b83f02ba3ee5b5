/**
 * Control-plane schemas: index names, tags, and the create / configure requests. Create accepts
 * both forms the official client 9.x accepts (camelCase):
 *   - 2026-07 form: `{name, schema: {fields: {_values: {type: "dense_vector", dimension,
 *     metric}}}, deployment?: {deploymentType: "managed", cloud, region}, ...}`, or a
 *     `_sparse_values: {type: "sparse_vector"}` field for a sparse index;
 *   - the older form: `{name, dimension?, metric?, vectorType?, spec?: {serverless: {cloud,
 *     region}}, ...}`.
 * Both produce actors/api.ts's CreateIndexRequest. Needle serves the vectors API only, so a
 * schema must hold exactly one dense vector field (plus, with dotproduct, one sparse field for
 * hybrid records) or exactly one sparse vector field.
 */
import { z } from "zod";
import type { ConfigureIndexRequest, CreateIndexRequest, Deployment } from "../../actors/api.ts";
import { NeedleError } from "../../storage/errors.ts";
import {
  podDeployment,
  podDeploymentOf,
  podSpec,
  podType,
  readCapacity,
  readCapacityChangeOf,
  readCapacityOf,
  readCapacityPatch,
  refuseReadCapacityOnPods,
} from "./capacity.ts";
import { described, fail, type ParseOptions, parseInput } from "./errors.ts";
import {
  dimensionMax,
  dimensionMin,
  indexNameCharsMax,
  indexNameCharsMin,
  podReplicasMax,
  tagKeyCharsMax,
  tagsPerIndexMax,
  tagValueCharsMax,
} from "./limits.ts";

const indexNameLimit = `${indexNameCharsMin}-${indexNameCharsMax} characters: lowercase alphanumerics or '-', starting and ending with an alphanumeric character`;
const indexNamePattern = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** An index name: 1-45 lowercase alphanumerics or '-', starting and ending alphanumeric. */
export const indexName = z
  .string()
  .min(indexNameCharsMin)
  .max(indexNameCharsMax)
  .refine((name) => indexNamePattern.test(name), {
    message:
      "must consist of lowercase alphanumeric characters or '-', and must start and end with an alphanumeric character",
    params: { limit: indexNameLimit },
  });

export const metric = z.enum(["cosine", "euclidean", "dotproduct"]);
export const deletionProtection = z.enum(["enabled", "disabled"]);
export const vectorType = z.enum(["dense", "sparse"]);

/**
 * Refuses a bad deletion protection value in Pinecone's own wording, which clients' tests
 * match on. Front doors call it before parsing, so it wins over any other issue in the request.
 */
export function checkDeletionProtection(value: unknown, field: string): void {
  if (value === undefined || deletionProtection.safeParse(value).success) return;
  fail(
    field,
    "Invalid deletion_protection, value should be either enabled or disabled",
    "enabled | disabled",
    value,
  );
}

const tagKeyPattern = /^[A-Za-z0-9_-]+$/;
const tagValuePattern = /^[A-Za-z0-9;@_\-.+ ]*$/;

/**
 * Tags: at most 20; keys 1-80 of [A-Za-z0-9_-]; values 0-120 of [A-Za-z0-9;@_-.+ ].
 * An empty value removes the key (configure) or is dropped (create).
 */
const tagRecord = z
  .record(
    z
      .string()
      .min(1)
      .max(tagKeyCharsMax)
      .refine((key) => tagKeyPattern.test(key), {
        message: "tag keys must be alphanumeric, '_' or '-'",
        params: { limit: `1-${tagKeyCharsMax} characters of A-Z a-z 0-9 _ -` },
      }),
    z
      .string()
      .max(tagValueCharsMax)
      .refine((value) => tagValuePattern.test(value), {
        message: "tag values must be alphanumeric, ';', '@', '_', '-', '.', '+' or ' '",
        params: { limit: `0-${tagValueCharsMax} characters of A-Z a-z 0-9 ; @ _ - . + space` },
      }),
  )
  .refine((record) => Object.keys(record).length <= tagsPerIndexMax, {
    message: "has too many tags",
    params: { limit: `at most ${tagsPerIndexMax} tags` },
  });

/**
 * Tags live in plain objects and msgpack maps, where the key "__proto__" means the prototype
 * (zod's record drops it without a word): refused by name instead.
 */
export const tags = z
  .unknown()
  .refine((input) => !(typeof input === "object" && input !== null && Object.hasOwn(input, "__proto__")), {
    message: "the tag key __proto__ is reserved",
    params: { limit: "any tag key but __proto__" },
  })
  .pipe(tagRecord);

const dimension = z.int().min(dimensionMin).max(dimensionMax);

const denseField = z.object({
  type: z.literal("dense_vector"),
  dimension,
  metric: metric.default("cosine"),
  description: z.string().nullish(),
});
const sparseField = z.object({
  type: z.literal("sparse_vector"),
  description: z.string().nullish(),
});
const schemaField = z.discriminatedUnion("type", [denseField, sparseField], {
  error: "Needle serves the vectors API: a field must be of type dense_vector or sparse_vector",
});

const managedDeployment = z.strictObject({
  deploymentType: z.literal("managed"),
  cloud: z.string().min(1),
  region: z.string().min(1),
  environment: z.string().optional(),
});
const deployment = z.discriminatedUnion("deploymentType", [managedDeployment, podDeployment], {
  error: "deploymentType must be managed or pod",
});

const createCommon = {
  name: indexName,
  deletionProtection: deletionProtection.default("disabled"),
  tags: tags.nullish(),
  readCapacity: readCapacity.optional(),
  /** Accepted: Needle does not encrypt files, and says so in the docs. */
  cmekId: z.string().optional(),
  sourceCollection: z.string().min(1).max(512).optional(),
  // Library-level options of the client; the front door acts on them, the schema lets them pass.
  waitUntilReady: z.boolean().optional(),
  timeout: z.number().optional(),
  suppressConflicts: z.boolean().optional(),
};

export const createIndexNative = z.strictObject({
  ...createCommon,
  schema: z.object({ fields: z.record(z.string(), schemaField) }),
  deployment: deployment.optional(),
});

export const createIndexLegacy = z.strictObject({
  ...createCommon,
  dimension: dimension.optional(),
  metric: metric.optional(),
  vectorType: vectorType.default("dense"),
  spec: z
    .strictObject({
      serverless: z
        .object({
          cloud: z.string().min(1),
          region: z.string().min(1),
          readCapacity: readCapacity.optional(),
          sourceCollection: z.string().min(1).max(512).optional(),
        })
        .optional(),
      byoc: z.unknown().optional(),
      pod: podSpec.optional(),
    })
    .optional(),
});

/** Where an index lives when the caller does not say: Needle runs locally. */
export const defaultDeployment = { type: "managed", cloud: "local", region: "local" } as const;

function keptTags(raw: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw ?? {})) if (value !== "") out[key] = value;
  return out;
}

/** What both create forms share: name, protection, tags, where the index lives, its read capacity. */
function requestBase(
  parsed: {
    name: string;
    deletionProtection: CreateIndexRequest["deletionProtection"];
    tags?: Record<string, string> | null;
    readCapacity?: z.output<typeof readCapacity>;
    sourceCollection?: string;
  },
  deployment: Deployment,
  options: ParseOptions,
  extra: { readCapacity?: z.output<typeof readCapacity>; sourceCollection?: string } = {},
): Omit<CreateIndexRequest, "metric" | "vectorType"> {
  const capacity = parsed.readCapacity ?? extra.readCapacity;
  if (capacity !== undefined && deployment.type === "pod")
    refuseReadCapacityOnPods(field(options, "readCapacity"));
  const out: Omit<CreateIndexRequest, "metric" | "vectorType"> = {
    name: parsed.name,
    deletionProtection: parsed.deletionProtection,
    tags: keptTags(parsed.tags),
    deployment,
  };
  if (capacity !== undefined) out.readCapacity = readCapacityOf(capacity);
  const sourceCollection = parsed.sourceCollection ?? extra.sourceCollection;
  if (sourceCollection !== undefined) out.sourceCollection = sourceCollection;
  return out;
}

/** Validates either create form and returns the engine's CreateIndexRequest. */
export function parseCreateIndex(input: unknown, options: ParseOptions = {}): CreateIndexRequest {
  const isNative = typeof input === "object" && input !== null && "schema" in input;
  if (isNative) return fromNative(parseInput(createIndexNative, input, options), options);
  return fromLegacy(parseInput(createIndexLegacy, input, options), options);
}

function field(options: ParseOptions, path: string): string {
  return options.fieldPrefix ? `${options.fieldPrefix}.${path}` : path;
}

function deploymentOf(parsed: z.output<typeof deployment> | undefined): Deployment {
  if (parsed === undefined) return { ...defaultDeployment };
  if (parsed.deploymentType === "pod") return podDeploymentOf(parsed);
  return { type: "managed", cloud: parsed.cloud, region: parsed.region };
}

function fromNative(parsed: z.output<typeof createIndexNative>, options: ParseOptions): CreateIndexRequest {
  const fields = Object.entries(parsed.schema.fields);
  const dense = fields.filter(
    (entry): entry is [string, z.output<typeof denseField>] => entry[1].type === "dense_vector",
  );
  const sparse = fields.filter(([, value]) => value.type === "sparse_vector");
  const base = requestBase(parsed, deploymentOf(parsed.deployment), options);
  const limit =
    "one dense_vector field (plus one sparse_vector field with dotproduct), or one sparse_vector field";
  if (dense.length > 1 || sparse.length > 1 || fields.length === 0) {
    fail(
      field(options, "schema.fields"),
      "must describe one vector index",
      limit,
      described(`${fields.length} fields`),
    );
  }
  const [denseEntry] = dense;
  if (denseEntry !== undefined) {
    const [name, value] = denseEntry;
    if (sparse.length === 1 && value.metric !== "dotproduct") {
      fail(
        field(options, `schema.fields.${name}.metric`),
        "must be dotproduct when a sparse field is present",
        "dotproduct",
        value.metric,
      );
    }
    return { ...base, dimension: value.dimension, metric: value.metric, vectorType: "dense" };
  }
  return { ...base, metric: "dotproduct", vectorType: "sparse" };
}

function fromLegacy(parsed: z.output<typeof createIndexLegacy>, options: ParseOptions): CreateIndexRequest {
  const spec = parsed.spec;
  if (spec?.byoc !== undefined) {
    fail(
      field(options, "spec"),
      "BYOC specs are not served",
      "spec.serverless or spec.pod",
      described("spec.byoc"),
    );
  }
  if (spec?.pod !== undefined && spec.serverless !== undefined) {
    fail(
      field(options, "spec"),
      "takes one of serverless and pod",
      "spec.serverless or spec.pod",
      described("both"),
    );
  }
  const deployment: Deployment =
    spec?.pod !== undefined
      ? podDeploymentOf(spec.pod)
      : spec?.serverless !== undefined
        ? { type: "managed", cloud: spec.serverless.cloud, region: spec.serverless.region }
        : { ...defaultDeployment };
  const base = requestBase(parsed, deployment, options, {
    readCapacity: spec?.serverless?.readCapacity,
    sourceCollection: spec?.pod?.sourceCollection ?? spec?.serverless?.sourceCollection,
  });
  const indexed = spec?.pod?.metadataConfig?.indexed;
  if (indexed !== undefined) base.metadataIndexed = [...new Set(indexed)];
  if (parsed.vectorType === "sparse") {
    if (parsed.dimension !== undefined) {
      fail(field(options, "dimension"), "is not allowed on a sparse index", "no dimension", parsed.dimension);
    }
    if (parsed.metric !== undefined && parsed.metric !== "dotproduct") {
      fail(field(options, "metric"), "must be dotproduct on a sparse index", "dotproduct", parsed.metric);
    }
    return { ...base, metric: "dotproduct", vectorType: "sparse" };
  }
  if (parsed.dimension === undefined) {
    fail(
      field(options, "dimension"),
      "is required for a dense index",
      `${dimensionMin}-${dimensionMax}`,
      undefined,
    );
  }
  return { ...base, dimension: parsed.dimension, metric: parsed.metric ?? "cosine", vectorType: "dense" };
}

/**
 * Configure, in the client's camelCase. Both API versions' spellings are accepted:
 * `readCapacity` (2026-07) or `spec.serverless.readCapacity` (2026-04) for read capacity, and
 * `deployment: {replicas, podType}` (2026-07) or `spec.pod: {replicas, podType}` (2026-04)
 * for a pod index. Whether the index is serverless or pod is the engine's to check.
 */
export const configureIndex = z.strictObject({
  deletionProtection: deletionProtection.optional(),
  tags: tags.nullish(),
  readCapacity: readCapacityPatch.optional(),
  deployment: z
    .strictObject({ replicas: z.int().min(1).max(podReplicasMax).optional(), podType: podType.optional() })
    .optional(),
  spec: z
    .strictObject({
      serverless: z.strictObject({ readCapacity: readCapacityPatch.optional() }).optional(),
      pod: z
        .strictObject({
          replicas: z.int().min(1).max(podReplicasMax).optional(),
          podType: podType.optional(),
        })
        .optional(),
    })
    .optional(),
  schema: z.unknown().optional(),
  embed: z.unknown().optional(),
});

/** Validates a configure request (name excluded) and returns the engine's ConfigureIndexRequest. */
export function parseConfigureIndex(input: unknown, options: ParseOptions = {}): ConfigureIndexRequest {
  const parsed = parseInput(configureIndex, input ?? {}, options);
  for (const unsupported of ["schema", "embed"] as const) {
    if (parsed[unsupported] !== undefined) {
      throw new NeedleError(
        "UNIMPLEMENTED",
        `Needle does not serve configuring ${unsupported}; deletion_protection, tags, read_capacity and pod sizing can be configured`,
        { field: field(options, unsupported), received: unsupported },
      );
    }
  }
  const out: ConfigureIndexRequest = {};
  if (parsed.deletionProtection !== undefined) out.deletionProtection = parsed.deletionProtection;
  if (parsed.tags !== undefined && parsed.tags !== null) out.tags = parsed.tags;
  const capacity = parsed.readCapacity ?? parsed.spec?.serverless?.readCapacity;
  if (capacity !== undefined) out.readCapacity = readCapacityChangeOf(capacity);
  const pod = parsed.deployment ?? parsed.spec?.pod;
  if (pod !== undefined && (pod.replicas !== undefined || pod.podType !== undefined)) {
    out.pod = {};
    if (pod.replicas !== undefined) out.pod.replicas = pod.replicas;
    if (pod.podType !== undefined) out.pod.podType = pod.podType;
  }
  if (
    out.deletionProtection === undefined &&
    out.tags === undefined &&
    out.readCapacity === undefined &&
    out.pod === undefined
  ) {
    fail(
      field(options, "deletionProtection"),
      "at least one configuration option is required",
      "deletionProtection, tags, readCapacity or pod replicas / podType",
      described("none"),
    );
  }
  return out;
}

/** Validates an index name given on its own (describe, delete, index handle). */
export function parseIndexName(input: unknown, options: ParseOptions = {}): string {
  return parseInput(indexName, input, { fieldPrefix: options.fieldPrefix ?? "name" });
}
