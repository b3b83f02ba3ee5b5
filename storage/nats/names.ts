/**
 * Names of what Needle keeps on NATS (issue 8, actors/distribution/DESIGN.md): streams,
 * subjects and buckets. The only place that spells them, besides actors/runtime/address.ts
 * for actor subjects. Index names are lower-case letters, digits and '-' (gateway/schemas),
 * valid in stream names and as one subject token.
 */

/**
 * The JetStream stream holding one index's request log. In a cluster each creation of an index
 * gets its own incarnation (a nuid), so a stream a crashed delete left behind is never read
 * by a new index of the same name.
 */
export function logStreamName(index: string, incarnation?: string): string {
  return incarnation === undefined ? `needle-log-${index}` : `needle-log-${index}-${incarnation}`;
}

/** Incarnations are nuids: 22 letters and digits. */
const logStreamPattern = /^needle-log-([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)-([A-Za-z0-9]{22})$/;

/** The index and incarnation a cluster's log stream belongs to; undefined for other streams. */
export function parseLogStreamName(stream: string): { index: string; incarnation: string } | undefined {
  const match = logStreamPattern.exec(stream);
  return match === null ? undefined : { index: match[1]!, incarnation: match[2]! };
}

/** The subject an index's log records are published on. */
export function logSubject(index: string, incarnation?: string): string {
  return incarnation === undefined ? `needle.log.${index}` : `needle.log.${index}.${incarnation}`;
}

/** KV bucket of live hosts (heartbeats; the bucket's TTL drops a silent host). */
export const membersBucket = "needle-members";
/** KV bucket of ownership leases. */
export const leasesBucket = "needle-leases";
/** KV bucket of the cluster's indexes (key = index name, value = its configuration). */
export const catalogBucket = "needle-catalog";

/** The lease key of an index's owner. */
export function indexLeaseKey(index: string): string {
  return `index.${index}`;
}

/** KV bucket of each index's latest checkpoint (key = index name). */
export const checkpointsBucket = "needle-checkpoints";
/** Object Store bucket holding checkpoint files. */
export const checkpointObjectsBucket = "needle-checkpoint-files";

/**
 * Object Store bucket through which index owners and compactors exchange a compaction's
 * inputs and outputs (actors/distribution/remote-compaction.ts; objects live for one job).
 */
export const compactionFilesBucket = "needle-compaction-files";
