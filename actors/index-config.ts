/**
 * Index configurations: how a created index's configuration is built, how a configure request
 * changes it (pure functions, tested directly), and how configurations written by earlier
 * versions are read.
 *
 * Rules that need the current configuration (the schemas cannot check them):
 *   - Read capacity belongs to serverless indexes; pod sizing (podType, replicas) to pod indexes.
 *   - Switching to Dedicated needs a node type and a replica count (nothing to keep from OnDemand);
 *     a change within Dedicated keeps what it does not name.
 *   - A pod type can grow within its family (p1.x1 -> p1.x2), never change family or shrink,
 *     as in Pinecone.
 */
import { invalidArgument, NeedleError } from "../storage/errors.ts";
import type {
  ConfigureIndexRequest,
  CreateIndexRequest,
  Deployment,
  IndexConfig,
  ReadCapacity,
  ReadCapacityChange,
} from "./api.ts";

export const onDemand: ReadCapacity = { mode: "OnDemand" };
const localDeployment: Deployment = { type: "managed", cloud: "local", region: "local" };

/** The configuration a create request makes (checks that need no other index included). */
export function configFromCreate(request: CreateIndexRequest, createdAt: string): IndexConfig {
  if (request.sourceCollection !== undefined) {
    // Collections (and so creating from one) come with backups; none exists yet.
    throw new NeedleError("NOT_FOUND", `Resource ${request.sourceCollection} not found`, {
      field: "sourceCollection",
      received: request.sourceCollection,
    });
  }
  if (request.vectorType === "dense" && !request.dimension) {
    throw invalidArgument("dimension", "dense indexes need a dimension", "1-20000", "none");
  }
  const deployment = request.deployment ?? localDeployment;
  if (deployment.type === "pod" && request.readCapacity !== undefined) {
    throw invalidArgument(
      "readCapacity",
      "read capacity applies to serverless indexes; a pod index is sized with replicas and podType",
      "no read capacity on a pod index",
      request.readCapacity.mode,
    );
  }
  const config: IndexConfig = {
    name: request.name,
    dimension: request.vectorType === "sparse" ? undefined : request.dimension,
    metric: request.metric,
    vectorType: request.vectorType,
    deletionProtection: request.deletionProtection ?? "disabled",
    tags: { ...(request.tags ?? {}) },
    deployment,
    readCapacity: request.readCapacity ?? onDemand,
    createdAt,
  };
  if (request.metadataIndexed !== undefined) config.metadataIndexed = [...request.metadataIndexed];
  return config;
}

/** The configuration after a configure request; throws INVALID_ARGUMENT naming the field. */
export function configAfterChange(current: IndexConfig, request: ConfigureIndexRequest): IndexConfig {
  const tags = { ...current.tags };
  for (const [key, value] of Object.entries(request.tags ?? {})) {
    if (value === "") delete tags[key];
    else tags[key] = value;
  }
  const next: IndexConfig = {
    ...current,
    deletionProtection: request.deletionProtection ?? current.deletionProtection,
    tags,
  };
  if (request.readCapacity !== undefined) {
    if (current.deployment.type === "pod") {
      throw invalidArgument(
        "readCapacity",
        "read capacity applies to serverless indexes; a pod index is sized with replicas and podType",
        "no read capacity on a pod index",
        request.readCapacity.mode,
      );
    }
    next.readCapacity = readCapacityAfter(current.readCapacity, request.readCapacity);
  }
  if (request.pod !== undefined) {
    const deployment = current.deployment;
    if (deployment.type !== "pod") {
      // Pinecone's words for the same refusal.
      throw invalidArgument(
        request.pod.podType !== undefined ? "podType" : "replicas",
        "Configuring replicas and pod type is not supported for serverless indexes",
        "deletionProtection, tags, readCapacity",
        "pod sizing",
      );
    }
    const podType = request.pod.podType ?? deployment.podType;
    checkPodTypeChange(deployment.podType, podType);
    const replicas = request.pod.replicas ?? deployment.replicas;
    next.deployment = { ...deployment, podType, replicas, pods: replicas * deployment.shards };
  }
  return next;
}

function readCapacityAfter(current: ReadCapacity, change: ReadCapacityChange): ReadCapacity {
  if (change.mode === "OnDemand") return onDemand;
  const base = current.mode === "Dedicated" ? current : undefined;
  const nodeType = change.nodeType ?? base?.nodeType;
  const replicas = change.replicas ?? base?.replicas;
  if (nodeType === undefined) {
    throw invalidArgument(
      "readCapacity.dedicated.nodeType",
      "is required when switching to Dedicated read capacity",
      "b1 | t1",
      "none",
    );
  }
  if (replicas === undefined) {
    throw invalidArgument(
      "readCapacity.dedicated.manual.replicas",
      "is required when switching to Dedicated read capacity",
      "an integer of at least 1",
      "none",
    );
  }
  return {
    mode: "Dedicated",
    nodeType,
    scaling: change.scaling ?? base?.scaling ?? "Manual",
    replicas,
    shards: change.shards ?? base?.shards ?? 1,
  };
}

const podSizes = ["x1", "x2", "x4", "x8"];

function checkPodTypeChange(from: string, to: string): void {
  const [fromFamily, fromSize] = from.split(".") as [string, string];
  const [toFamily, toSize] = to.split(".") as [string, string];
  if (fromFamily !== toFamily || podSizes.indexOf(toSize) < podSizes.indexOf(fromSize)) {
    throw invalidArgument(
      "podType",
      `a pod type can only grow within its family (${from} to ${fromFamily}.x8 at most); it cannot change family or shrink`,
      `${fromFamily}.${fromSize} or larger ${fromFamily} sizes`,
      to,
    );
  }
}

/**
 * A configuration as stored in the catalog: older Needles wrote `deployment: {cloud, region}`
 * and no read capacity.
 */
export function configFromCatalog(stored: IndexConfig): IndexConfig {
  const deployment = stored.deployment as Deployment | { cloud: string; region: string };
  return {
    ...stored,
    deployment: "type" in deployment ? deployment : { type: "managed", ...deployment },
    readCapacity: stored.readCapacity ?? onDemand,
  };
}
