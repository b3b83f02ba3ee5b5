/**
 * The keys of a KV bucket, read from its stream's subject list (one STREAM.INFO request,
 * paged by the client) instead of the client's `kv.keys()`.
 *
 * Why: `kv.keys()` (nats.js 2.29) runs an ordered consumer over the last message of each key
 * and ends only when a delivered message says nothing is pending; it has no timeout. In a
 * bucket whose messages go away while the listing runs (a TTL expiring a member's heartbeat,
 * a put superseding a key's previous message with history 1), or when the ordered consumer
 * resets under a stalled event loop, nothing bounds that wait. The membership test hung for
 * its whole 30 s in a full suite run on two busy cores with only listings and gets in its
 * loop; the hang did not reproduce in isolation (200 listings under churn returned), so the
 * consumer is the suspect, not a proven cause. A subject list is one request, bounded by the
 * client's request timeout, and whatever happened, it cannot wait for good.
 *
 * Keys whose last message is a delete or purge marker are listed too: callers read each key
 * and keep those whose last operation is a put.
 */
import type { JetStreamManager } from "nats";

export async function kvKeys(manager: JetStreamManager, bucket: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  const info = await manager.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
  return Object.keys(info.state.subjects ?? {})
    .filter((subject) => subject.startsWith(prefix))
    .map((subject) => subject.slice(prefix.length))
    .sort();
}
