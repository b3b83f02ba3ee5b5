/**
 * Collects what deleted indexes left on NATS (issue 8, step d): log streams and checkpoints of
 * an index, or of an earlier incarnation of its name, that the cluster catalog no longer
 * names. A gateway deletes them when it deletes the index; a gateway that died in between,
 * or a delete while NATS failed over, leaves them behind, holding disk until collected.
 *
 * Each host with the namespace role sweeps every `sweepMs` (idempotent: two hosts sweeping
 * at once delete the same things). What goes:
 *   - a stream `needle-log-<index>-<incarnation>` whose index is not in the catalog, or is
 *     there with another incarnation;
 *   - a checkpoint record of such an index or incarnation, with its files;
 *   - a checkpoint file no record names, once older than `graceMs`: a checkpoint being saved
 *     uploads its files before it records them, so a young unnamed file may be one of those.
 */
import type { NatsConnection } from "nats";
import { parseLogStreamName } from "../../storage/nats/names.ts";
import { removeLogStream } from "../../storage/log/jetstream-logs.ts";
import type { Checkpoints } from "./checkpoints.ts";
import type { ClusterCatalog } from "./cluster-catalog.ts";

export interface OrphanReport {
  streams: string[];
  checkpoints: string[];
  files: string[];
}

export const orphanSweepMsDefault = 5 * 60_000;
/** Longer than any checkpoint upload (each file is bounded to 30 s; big indexes have many). */
export const orphanFileGraceMsDefault = 60 * 60_000;

export async function collectOrphans(
  connection: NatsConnection,
  catalog: ClusterCatalog,
  checkpoints: Checkpoints,
  options: { graceMs?: number; now?: number } = {},
): Promise<OrphanReport> {
  const report: OrphanReport = { streams: [], checkpoints: [], files: [] };
  const live = new Map((await catalog.list()).map((index) => [index.config.name, index.incarnation]));
  const manager = await connection.jetstreamManager();
  const streams: string[] = [];
  for await (const name of manager.streams.names()) streams.push(name);
  for (const stream of streams) {
    const parsed = parseLogStreamName(stream);
    if (parsed === undefined || live.get(parsed.index) === parsed.incarnation) continue;
    await removeLogStream(connection, stream);
    report.streams.push(stream);
  }
  const records = await checkpoints.all();
  const named = new Set<string>();
  for (const [index, record] of records) {
    if (live.get(index) === record.incarnation) {
      for (const file of record.files) named.add(file.key);
      continue;
    }
    await checkpoints.remove(index);
    report.checkpoints.push(index);
  }
  const cutoff = (options.now ?? Date.now()) - (options.graceMs ?? orphanFileGraceMsDefault);
  for (const file of await checkpoints.storedFiles()) {
    if (named.has(file.key) || file.modifiedMs > cutoff) continue;
    await checkpoints.deleteObject(file.key);
    report.files.push(file.key);
  }
  return report;
}

/** Sweeps every `sweepMs` until stopped; reports what each sweep collected. */
export function startOrphanSweeps(
  connection: NatsConnection,
  catalog: ClusterCatalog,
  checkpoints: Checkpoints,
  options: { sweepMs?: number; graceMs?: number; log?: (line: string) => void } = {},
): { stop(): Promise<void> } {
  let sweeping: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    sweeping = sweeping.then(async () => {
      try {
        const report = await collectOrphans(connection, catalog, checkpoints, options);
        const total = report.streams.length + report.checkpoints.length + report.files.length;
        if (total > 0) options.log?.(JSON.stringify({ event: "orphans collected", ...report }));
      } catch (error) {
        options.log?.(`needle: orphan sweep failed (the next one retries): ${(error as Error).message}`);
      }
    });
  }, options.sweepMs ?? orphanSweepMsDefault);
  timer.unref?.();
  return {
    stop: async () => {
      clearInterval(timer);
      await sweeping;
    },
  };
}
