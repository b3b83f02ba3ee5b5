/**
 * The control plane's two index models.
 *
 * - API version `2026-07` (client 9.x): `deployment` + `schema.fields` with the reserved
 *   vector fields `_values` (dense) and `_sparse_values` (sparse).
 * - `2026-04` and older (client <= 8.x): top-level `dimension`, `metric`, `vector_type`
 *   and `spec.serverless`.
 *
 * The response model follows the request's `X-Pinecone-Api-Version` header (newest when
 * absent). Request bodies arrive in snake_case; they are renamed to the camelCase the shared
 * schemas validate (which accept either create form), and error field names are renamed back.
 */
import type { ConfigureIndexRequest, CreateIndexRequest, IndexDescription } from "../../actors/api.ts";
import { NeedleError } from "../../storage/errors.ts";
import { deploymentOut, legacySpecOut, readCapacityOut, vectorFieldsOut } from "../library/shapes.ts";
import * as schemas from "../schemas/mod.ts";
import type { JsonObject } from "./requests.ts";

const apiVersionNewest = "2026-07";
export type IndexModelVersion = "2026-07" | "2026-04";

/** `YYYY-MM` strings compare correctly as text; anything older than 2026-07 gets the old model. */
export function indexModelVersion(header: string | undefined): IndexModelVersion {
  const trimmed = header?.trim() ?? "";
  if (!/^\d{4}-\d{2}$/.test(trimmed)) return "2026-07";
  return trimmed < apiVersionNewest ? "2026-04" : "2026-07";
}

/** Wire (snake_case) key -> schema (camelCase) key, for every control-plane key that differs. */
const camelOfSnake: Readonly<Record<string, string>> = {
  deletion_protection: "deletionProtection",
  read_capacity: "readCapacity",
  vector_type: "vectorType",
  deployment_type: "deploymentType",
  cmek_id: "cmekId",
  source_collection: "sourceCollection",
  pod_replicas: "podReplicas",
  pod_type: "podType",
  node_type: "nodeType",
  metadata_config: "metadataConfig",
};
const snakeOfCamel: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(camelOfSnake).map(([snake, camel]) => [camel, snake]),
);

/**
 * Renames known snake_case keys to camelCase, recursively, except inside `tags` and
 * `schema.fields`, whose keys are the user's own names.
 */
function camelizeControlBody(value: unknown, userKeyed = false): unknown {
  if (Array.isArray(value)) return value.map((item) => camelizeControlBody(item));
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value as JsonObject)) {
    const renamed = userKeyed ? key : (camelOfSnake[key] ?? key);
    if (!userKeyed && key === "tags") out[renamed] = child;
    else if (!userKeyed && key === "fields") {
      // Field names are the user's; each field's own properties are renamed normally.
      const fields: JsonObject = {};
      if (child !== null && typeof child === "object" && !Array.isArray(child)) {
        for (const [name, definition] of Object.entries(child as JsonObject))
          fields[name] = camelizeControlBody(definition);
        out[renamed] = fields;
      } else out[renamed] = child;
    } else out[renamed] = camelizeControlBody(child);
  }
  return out;
}

const wireFieldNames = { fieldNames: snakeOfCamel };

export function parseCreateIndex(raw: unknown): CreateIndexRequest {
  checkDeletionProtection(raw);
  return schemas.parseCreateIndex(camelizeControlBody(raw), wireFieldNames);
}

/** The shared check in Pinecone's wording, on the raw body (either casing), before renaming. */
function checkDeletionProtection(raw: unknown): void {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return;
  const value = (raw as JsonObject).deletion_protection ?? (raw as JsonObject).deletionProtection;
  schemas.checkDeletionProtection(value, "deletion_protection");
}

export function parseConfigureIndex(raw: unknown): ConfigureIndexRequest {
  checkDeletionProtection(raw);
  const body = camelizeControlBody(raw) as JsonObject;
  if (body !== null && typeof body === "object" && Object.keys(body).length === 0) {
    // Said here, not left to the shared schema, so the message names the wire's snake_case fields.
    schemas.fail(
      "deletion_protection",
      "at least one configuration option is required",
      "deletion_protection, tags, read_capacity or (pod indexes) replicas / pod_type",
    );
  }
  return schemas.parseConfigureIndex(body, wireFieldNames);
}

/** A valid index name, or NOT_FOUND: a malformed name can name no index. */
export function indexNameOrNotFound(name: string, field: string): string {
  try {
    return schemas.parseIndexName(name, { fieldPrefix: field });
  } catch {
    throw new NeedleError("NOT_FOUND", `Resource ${name} not found`, { field, received: name.slice(0, 60) });
  }
}

/** camelCase keys to snake_case, recursively, for objects that hold no user-chosen keys. */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    out[key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)] = snakeKeys(child);
  }
  return out;
}

/** The IndexModel JSON for the client's API version. */
export function indexModelJson(
  index: IndexDescription,
  host: string,
  version: IndexModelVersion,
): JsonObject {
  const status = { ready: index.status.ready, state: index.status.state };
  if (version === "2026-04") {
    const spec = snakeKeys(legacySpecOut(index)) as JsonObject;
    if (index.deployment.type === "pod" && index.metadataIndexed !== undefined) {
      (spec.pod as JsonObject).metadata_config = { indexed: [...index.metadataIndexed] };
    }
    const model: JsonObject = {
      name: index.name,
      metric: index.metric,
      host,
      deletion_protection: index.deletionProtection,
      spec,
      status,
      vector_type: index.vectorType,
    };
    if (index.dimension !== undefined) model.dimension = index.dimension;
    return withTags(model, index.tags);
  }
  const model: JsonObject = {
    name: index.name,
    host,
    status,
    deployment: snakeKeys(deploymentOut(index)),
    schema: { fields: vectorFieldsOut(index) },
    deletion_protection: index.deletionProtection,
  };
  const readCapacity = readCapacityOut(index);
  if (readCapacity !== undefined) model.read_capacity = snakeKeys(readCapacity);
  return withTags(model, index.tags);
}

/** Pinecone leaves `tags` out when an index has none (the client then reports undefined). */
function withTags(model: JsonObject, tags: Readonly<Record<string, string>>): JsonObject {
  if (Object.keys(tags).length > 0) model.tags = { ...tags };
  return model;
}
