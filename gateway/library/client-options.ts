/**
 * What the official client does to option objects before it sends them, done here for the
 * embedded library so the same calls work unchanged: the flat spelling of Dedicated read
 * capacity (`{nodeType, manual}`) becomes the API's `{mode, dedicated: {...}}`, and the
 * deprecated `podReplicas` / `podType` of configure become `deployment: {replicas, podType}`.
 * Anything else passes through for the shared schemas to check.
 */
import { fail } from "../schemas/mod.ts";

type Options = Record<string, unknown>;

function isObject(value: unknown): value is Options {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The API shape of a read capacity given in either spelling. */
export function apiReadCapacity(value: unknown): unknown {
  if (!isObject(value) || !("nodeType" in value || "manual" in value)) return value;
  const { mode, nodeType, manual, ...rest } = value;
  return { ...rest, mode: mode ?? "Dedicated", dedicated: { nodeType, scaling: "Manual", manual } };
}

export function apiCreateOptions<T>(options: T): T {
  if (!isObject(options)) return options;
  const out: Options = { ...options };
  if (out.readCapacity !== undefined) out.readCapacity = apiReadCapacity(out.readCapacity);
  const spec = out.spec;
  if (isObject(spec) && isObject(spec.serverless) && spec.serverless.readCapacity !== undefined) {
    out.spec = {
      ...spec,
      serverless: { ...spec.serverless, readCapacity: apiReadCapacity(spec.serverless.readCapacity) },
    };
  }
  return out as T;
}

export function apiConfigureOptions<T>(options: T): T {
  if (!isObject(options)) return options;
  const { podReplicas, podType, ...out } = options as Options;
  if (out.readCapacity !== undefined) out.readCapacity = apiReadCapacity(out.readCapacity);
  if (podReplicas !== undefined || podType !== undefined) {
    if (out.deployment !== undefined) {
      fail(
        "podReplicas",
        "cannot be combined with deployment",
        "one of podReplicas/podType, deployment",
        podReplicas,
      );
    }
    const deployment: Options = {};
    if (podReplicas !== undefined) deployment.replicas = podReplicas;
    if (podType !== undefined) deployment.podType = podType;
    out.deployment = deployment;
  }
  return out as T;
}
