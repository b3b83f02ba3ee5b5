/**
 * Actor addresses and the ONE place that turns them into NATS subjects and back.
 *
 * An address is `{kind, key}`. Its subject for a verb is `needle.<kind>.<key-token>.<verb>`,
 * where the key token is the key in base64url (keys hold index and namespace names, which may
 * contain dots, spaces and other characters NATS subjects reserve). Nothing else in Needle
 * builds subjects.
 */
import { NeedleError } from "../../storage/errors.ts";

export const actorKinds = [
  "index",
  "namespace",
  "writer",
  "slab",
  "executor",
  "router",
  "compactor",
  // Cluster mode (actors/distribution): the host owning an index, and the read replicas of
  // an index on executors (a queue group per index); key = the index name.
  "owner",
  "replica",
  // Every index-owner host at once (no queue group: each answers), key "all": what the
  // metrics of a cluster gateway gather (`observe`).
  "member",
] as const;
export type ActorKind = (typeof actorKinds)[number];

export interface Address {
  kind: ActorKind;
  key: string;
}

const subjectPrefix = "needle";
const verbPattern = /^[a-zA-Z][a-zA-Z0-9_-]*$/;
const keyBytesMax = 2048;

export function address(kind: ActorKind, key: string): Address {
  return { kind, key };
}

/** A stable string for maps keyed by address. */
export function addressText(address: Address): string {
  return `${address.kind}:${address.key}`;
}

export function subjectOf(target: Address, verb: string): string {
  if (!actorKinds.includes(target.kind)) {
    throw new NeedleError("INTERNAL", `unknown actor kind "${target.kind}"`);
  }
  if (!verbPattern.test(verb)) throw new NeedleError("INTERNAL", `invalid actor verb "${verb}"`);
  const keyBytes = Buffer.from(target.key, "utf8");
  if (keyBytes.length > keyBytesMax) {
    throw new NeedleError("INTERNAL", `actor key is ${keyBytes.length} bytes; at most ${keyBytesMax}`);
  }
  const token = keyBytes.length === 0 ? "_" : keyBytes.toString("base64url");
  return `${subjectPrefix}.${target.kind}.${token}.${verb}`;
}

/** The subject matching every key and verb of a kind: what a host of that kind subscribes to. */
export function kindSubjects(kind: ActorKind): string {
  if (!actorKinds.includes(kind)) throw new NeedleError("INTERNAL", `unknown actor kind "${kind}"`);
  return `${subjectPrefix}.${kind}.*.*`;
}

/** The subject matching every verb of one address: what its owner subscribes to. */
export function addressSubjects(target: Address): string {
  return subjectOf(target, "verb").replace(/\.verb$/, ".*");
}

export function parseSubject(subject: string): { address: Address; verb: string } {
  const parts = subject.split(".");
  if (parts.length !== 4 || parts[0] !== subjectPrefix) {
    throw new NeedleError("INVALID_ARGUMENT", `not a Needle actor subject: "${subject}"`);
  }
  const [, kind, token, verb] = parts as [string, string, string, string];
  if (!(actorKinds as readonly string[]).includes(kind)) {
    throw new NeedleError("INVALID_ARGUMENT", `unknown actor kind "${kind}" in subject`);
  }
  if (!verbPattern.test(verb)) throw new NeedleError("INVALID_ARGUMENT", `invalid verb "${verb}" in subject`);
  const key = token === "_" ? "" : Buffer.from(token, "base64url").toString("utf8");
  return { address: { kind: kind as ActorKind, key }, verb };
}
