/**
 * How an index is deployed and sized: serverless read capacity (OnDemand or Dedicated) and
 * pod specs, in the official client's camelCase. Needle serves both deployments with the same
 * engine; what a value means in Needle (and what it refuses because it cannot honour it) is
 * in gateway/DESIGN.md, "Deployments and read capacity".
 */
import { z } from "zod";
import type { PodDeployment, ReadCapacity, ReadCapacityChange } from "../../actors/api.ts";
import { fail } from "./errors.ts";
import {
  dedicatedReplicasMax,
  dedicatedShardsMax,
  metadataIndexedFieldsMax,
  podCountMax,
  podReplicasMax,
  podShardsMax,
} from "./limits.ts";

/** Pinecone's pod types: a family and a size. */
const podTypePattern = /^(s1|p1|p2)\.(x1|x2|x4|x8)$/;
const podTypeLimit = "s1, p1 or p2, then .x1, .x2, .x4 or .x8 (e.g. p1.x1)";

export const podType = z.string().refine((value) => podTypePattern.test(value), {
  message: "must be a pod type",
  params: { limit: podTypeLimit },
});

const fieldName = z.string().min(1).max(512);

/** `spec.pod` (2026-04 and older clients). */
export const podSpec = z.strictObject({
  environment: z.string().min(1).max(128),
  podType,
  pods: z.int().min(1).max(podCountMax).optional(),
  replicas: z.int().min(1).max(podReplicasMax).optional(),
  shards: z.int().min(1).max(podShardsMax).optional(),
  metadataConfig: z
    .strictObject({ indexed: z.array(fieldName).max(metadataIndexedFieldsMax).optional() })
    .optional(),
  sourceCollection: z.string().min(1).max(512).optional(),
});

/** `deployment` with `deploymentType: "pod"` (the 2026-07 spelling of the same thing). */
export const podDeployment = z.strictObject({
  deploymentType: z.literal("pod"),
  environment: z.string().min(1).max(128),
  podType,
  pods: z.int().min(1).max(podCountMax).optional(),
  replicas: z.int().min(1).max(podReplicasMax).optional(),
  shards: z.int().min(1).max(podShardsMax).optional(),
});

export function podDeploymentOf(parsed: {
  environment: string;
  podType: string;
  pods?: number;
  replicas?: number;
  shards?: number;
}): PodDeployment {
  const replicas = parsed.replicas ?? 1;
  const shards = parsed.shards ?? 1;
  return {
    type: "pod",
    environment: parsed.environment,
    podType: parsed.podType,
    pods: parsed.pods ?? replicas * shards,
    replicas,
    shards,
  };
}

const nodeType = z.enum(["b1", "t1"]);
const scaling = z.literal("Manual");
const dedicatedReplicas = z.int().min(1).max(dedicatedReplicasMax);
const dedicatedShards = z
  .int()
  .min(1)
  .refine((shards) => shards <= dedicatedShardsMax, {
    message: "must be 1: Needle does not shard an index (its slabs are spread over executors instead)",
    params: { limit: dedicatedShardsMax },
  });

/** A read capacity on create: all of Dedicated's parts are required, as Pinecone requires them. */
export const readCapacity = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("OnDemand") }),
  z.strictObject({
    mode: z.literal("Dedicated"),
    dedicated: z.strictObject({
      nodeType,
      scaling,
      manual: z.strictObject({ replicas: dedicatedReplicas, shards: dedicatedShards }),
    }),
  }),
]);

/** A read capacity change on configure: Dedicated's parts may be partial (the rest is kept). */
export const readCapacityPatch = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("OnDemand") }),
  z.strictObject({
    mode: z.literal("Dedicated"),
    dedicated: z
      .strictObject({
        nodeType: nodeType.optional(),
        scaling: scaling.optional(),
        manual: z
          .strictObject({ replicas: dedicatedReplicas.optional(), shards: dedicatedShards.optional() })
          .optional(),
      })
      .nullish(),
  }),
]);

export function readCapacityOf(parsed: z.output<typeof readCapacity>): ReadCapacity {
  if (parsed.mode === "OnDemand") return { mode: "OnDemand" };
  return {
    mode: "Dedicated",
    nodeType: parsed.dedicated.nodeType,
    scaling: parsed.dedicated.scaling,
    replicas: parsed.dedicated.manual.replicas,
    shards: parsed.dedicated.manual.shards,
  };
}

export function readCapacityChangeOf(parsed: z.output<typeof readCapacityPatch>): ReadCapacityChange {
  if (parsed.mode === "OnDemand") return { mode: "OnDemand" };
  const change: ReadCapacityChange = { mode: "Dedicated" };
  const dedicated = parsed.dedicated ?? undefined;
  if (dedicated?.nodeType !== undefined) change.nodeType = dedicated.nodeType;
  if (dedicated?.scaling !== undefined) change.scaling = dedicated.scaling;
  if (dedicated?.manual?.replicas !== undefined) change.replicas = dedicated.manual.replicas;
  if (dedicated?.manual?.shards !== undefined) change.shards = dedicated.manual.shards;
  return change;
}

/** Read capacity belongs to serverless indexes; a pod index sizes with replicas and pod type. */
export function refuseReadCapacityOnPods(field: string): never {
  return fail(
    field,
    "applies to serverless indexes; a pod index is sized with replicas and pod_type",
    "no read capacity on a pod index",
    "read capacity",
  );
}
