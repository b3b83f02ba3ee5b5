/**
 * Names of what Needle keeps on NATS (issue 8, actors/distribution/DESIGN.md): streams,
 * subjects and buckets. The only place that spells them, besides actors/runtime/address.ts
 * for actor subjects. Index names are lower-case letters, digits and '-' (gateway/schemas),
 * valid in stream names and as one subject token.
 */

/** The JetStream stream holding one index's request log. */
export function logStreamName(index: string): string {
  return `needle-log-${index}`;
}

/** The subject an index's log records are published on. */
export function logSubject(index: string): string {
  return `needle.log.${index}`;
}
