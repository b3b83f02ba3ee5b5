/**
 * Compactions built by separate compactor processes (issue 8 step e; actors/distribution/
 * DESIGN.md decision 17). A compaction's build (merging the source slabs' live rows into new
 * slab files, k-means for the IVF partitions of the large ones) is the CPU-heavy part, and a
 * pure function of its inputs (`encodeCompaction`): source files, their live bitsets, the
 * output headers. The index owner keeps every other step (snapshot, put, commit, swap,
 * retire), so the manifest stays the owner's alone; only the build moves.
 *
 * The exchange, for one job (the owner's side is `remoteCompactionBuilder`, the compactor's
 * `serveCompactions`):
 *   1. The owner uploads the source files (streamed from disk: a slab may be 4 GiB) and a spec
 *      (live bitsets, headers, options) to the
 *      `needle-compaction-files` Object Store bucket under `jobs/<job>/`, and asks
 *      `take` on the compactors' queue group with an inbox of its own for the result.
 *   2. One compactor answers at once with its member name (or OVERLOADED when its queue is
 *      full), then builds: downloads the inputs, runs the same build as the owner would on its
 *      builder thread, uploads the outputs and their row maps, and publishes the answer (or
 *      the typed error) to the inbox.
 *   3. The owner waits for that answer while the compactor stays a live member (heartbeats in
 *      KV), at most `jobMs` (30 minutes: a live compactor stuck on a stalled transfer), then
 *      downloads the outputs and removes the job's objects.
 * Whatever goes wrong on the way that is not the build's own verdict on the data (no
 * compactor, none taking the job, the compactor dying or stuck past `jobMs`, NATS failing), the
 * owner builds locally instead: a compaction never waits on a compactor that is gone, and the
 * bytes are the same either way (the build is deterministic). An error the build itself
 * raised (a CORRUPTION of a source) is the compaction's error, as it would be locally.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInbox, type Msg, type NatsConnection, type Subscription } from "nats";
import type { NatsObjectBlobStore } from "../../storage/blob/nats-object-store.ts";
import { asNeedleError, NeedleError } from "../../storage/errors.ts";
import type { RowMap } from "../namespace/compaction-edit.ts";
import type { CompactionSource } from "../namespace/compaction-job.ts";
import type { SlabBuildJob } from "../namespace/slab-build-job.ts";
import {
  buildCompaction,
  type CompactionBuilder,
  type CompactionBuildOptions,
  type CompactionOutputBytes,
} from "../namespace/slab-builder.ts";
import { address, addressSubjects } from "../runtime/address.ts";
import { NatsTransport } from "../runtime/nats-transport.ts";
import { decodeAnswer, decodeWire, encodeAnswer, encodeFailure, encodeWire } from "../runtime/wire.ts";
import type { Membership } from "./membership.ts";
import { respondTo } from "./engine-requests.ts";

/** The compactors' address: one queue group, any of them may take a job. */
const compactors = address("compactor", "cluster");
const takeQueue = "needle-compactors";
/**
 * How long a job's objects may live in the bucket (its TTL): a job lasts at most `jobMs` (30
 * minutes) and removes its objects at the end; this clears what an owner that crashed
 * mid-job left behind, with no sweep.
 */
export const compactionFilesTtlMs = 24 * 3_600_000;

/** Jobs a compactor accepts beyond the one it builds; more are refused (the owner builds). */
export const compactorQueueMax = 4;

export interface RemoteCompactionTimings {
  /** How long `take` may wait for a compactor's answer. Default 5 s. */
  takeMs?: number;
  /** How often the owner checks that the compactor building its job is still a member. Default 1 s. */
  livenessMs?: number;
  /**
   * The longest the owner waits for a job a live compactor took (one stuck, not dead: a
   * transfer stalled under a failing NATS node). Default 30 minutes.
   */
  jobMs?: number;
}

/** What an owner's compactions did (tests, logs). */
export interface RemoteCompactionStats {
  /** Builds a compactor did. */
  remote: number;
  /** Builds done here, with the reason of the latest. */
  local: number;
  lastLocalReason?: string;
}

interface JobSpec {
  sources: { key: string; live: Uint8Array }[];
  headers: SlabBuildJob["header"][];
  options: CompactionBuildOptions;
}

interface JobAnswer {
  outputs: { slabId: string; key: string }[];
  rowsKey: string;
}

const jobKey = (job: string, name: string) => `jobs/${job}/${name}`;

/** The owner's side: a CompactionBuilder that asks a compactor, and builds here when none can. */
export function remoteCompactionBuilder(options: {
  connection: NatsConnection;
  files: NatsObjectBlobStore;
  membership: Membership;
  timings?: RemoteCompactionTimings;
  log?: (line: string) => void;
}): { build: CompactionBuilder; stats: RemoteCompactionStats } {
  const stats: RemoteCompactionStats = { remote: 0, local: 0 };
  const transport = new NatsTransport(options.connection);
  const takeMs = options.timings?.takeMs ?? 5_000;
  const livenessMs = options.timings?.livenessMs ?? 1_000;
  const jobMs = options.timings?.jobMs ?? 30 * 60_000;
  const local = (
    reason: string,
    sources: readonly CompactionSource[],
    headers: SlabBuildJob["header"][],
    buildOptions: CompactionBuildOptions,
  ) => {
    stats.local++;
    stats.lastLocalReason = reason;
    options.log?.(`needle: compaction built here: ${reason}`);
    return buildCompaction(sources, headers, buildOptions);
  };

  const build: CompactionBuilder = async (sources, headers, buildOptions) => {
    const headerList = [...headers];
    if ((await options.membership.live("compactor").catch(() => [])).length === 0) {
      return local("no compactor is a member", sources, headerList, buildOptions);
    }
    const job = crypto.randomUUID();
    const inbox = createInbox();
    const subscription = options.connection.subscribe(inbox, { max: 1 });
    try {
      const spec: JobSpec = { sources: [], headers: headerList, options: buildOptions };
      for (const [i, source] of sources.entries()) {
        const key = jobKey(job, `source-${i}`);
        await options.files.putFile(key, source.path);
        spec.sources.push({ key, live: source.live });
      }
      await options.files.put(jobKey(job, "spec"), encodeWire(spec));
      const { compactor } = await transport.request<{ compactor: string }>(
        compactors,
        "take",
        { job, replyTo: inbox },
        { timeoutMs: takeMs },
      );
      const answer = await awaitAnswer(subscription, compactor);
      const outputs: CompactionOutputBytes[] = [];
      const rows = decodeWire(await options.files.get(answer.rowsKey), "a compaction's row maps") as RowMap[];
      for (const [i, output] of answer.outputs.entries()) {
        outputs.push({ slabId: output.slabId, bytes: await options.files.get(output.key), rows: rows[i]! });
      }
      stats.remote++;
      options.log?.(`needle: compaction built by compactor ${compactor}`);
      return outputs;
    } catch (error) {
      if (error instanceof BuildVerdict) throw error.cause;
      return local(asNeedleError(error).message, sources, headerList, buildOptions);
    } finally {
      subscription.unsubscribe();
      await removeJob(options.files, job);
    }
  };

  /** The compactor's answer, or an error once it is no longer a live member. */
  async function awaitAnswer(subscription: Subscription, compactor: string): Promise<JobAnswer> {
    const iterator = subscription[Symbol.asyncIterator]();
    const next = iterator.next();
    const deadline = performance.now() + jobMs;
    for (;;) {
      if (performance.now() > deadline) {
        throw new NeedleError("UNAVAILABLE", `compactor ${compactor} did not answer within ${jobMs} ms`);
      }
      const tick = Bun.sleep(livenessMs).then(() => "tick" as const);
      const settled = await Promise.race([next, tick]);
      if (settled !== "tick") {
        if (settled.done) throw new NeedleError("UNAVAILABLE", "the result subscription closed");
        try {
          return decodeAnswer((settled.value as Msg).data, `compactor ${compactor}'s answer`) as JobAnswer;
        } catch (error) {
          // The build's own error (the data's verdict) stands; anything else is the compactor's.
          const failure = asNeedleError(error);
          if (failure.code === "CORRUPTION" || failure.code === "INVALID_ARGUMENT")
            throw new BuildVerdict(failure);
          throw failure;
        }
      }
      const live = await options.membership.live("compactor").catch(() => undefined);
      if (live !== undefined && !live.includes(compactor)) {
        throw new NeedleError("UNAVAILABLE", `compactor ${compactor} left the cluster while building`);
      }
    }
  }

  return { build, stats };
}

/** The build's own error, passed through the fallback untouched. */
class BuildVerdict extends Error {
  constructor(override readonly cause: NeedleError) {
    super(cause.message);
  }
}

async function removeJob(files: NatsObjectBlobStore, job: string): Promise<void> {
  const keys = await files.list(`jobs/${job}/`).catch(() => [] as string[]);
  for (const key of keys) await files.delete(key).catch(() => {});
}

/** What a compactor did since start (tests, logs). */
export interface CompactorStats {
  built: number;
  failed: number;
  refused: number;
}

/**
 * The compactor's side: takes jobs from the queue group, one build at a time, in `dir`'s
 * `compactions/` for the inputs. Returns its stats and a stop that waits for the build in
 * progress.
 */
export function serveCompactions(options: {
  connection: NatsConnection;
  files: NatsObjectBlobStore;
  name: string;
  dir: string;
  log?: (line: string) => void;
}): { stats: CompactorStats; stop(): Promise<void> } {
  const stats: CompactorStats = { built: 0, failed: 0, refused: 0 };
  const queue: { job: string; replyTo: string }[] = [];
  let running: Promise<void> | undefined;
  const subscription = options.connection.subscribe(addressSubjects(compactors), {
    queue: takeQueue,
    callback: (error, msg) => {
      if (error !== null) return;
      void respondTo(msg, async () => {
        const { job, replyTo } = decodeWire(msg.data, "a compaction job") as { job: string; replyTo: string };
        if (queue.length >= compactorQueueMax) {
          stats.refused++;
          throw new NeedleError("OVERLOADED", `compactor ${options.name} has ${queue.length} jobs waiting`, {
            limit: String(compactorQueueMax),
            received: String(queue.length),
            retryAfterSeconds: 1,
          });
        }
        queue.push({ job, replyTo });
        running ??= drain();
        return { compactor: options.name };
      });
    },
  });

  async function drain(): Promise<void> {
    try {
      for (let next = queue.shift(); next !== undefined; next = queue.shift())
        await run(next.job, next.replyTo);
    } finally {
      running = undefined;
    }
  }

  async function run(job: string, replyTo: string): Promise<void> {
    const work = join(options.dir, "compactions", job);
    try {
      const spec = decodeWire(await options.files.get(jobKey(job, "spec")), "a compaction spec") as JobSpec;
      await mkdir(work, { recursive: true });
      const sources: CompactionSource[] = [];
      for (const [i, source] of spec.sources.entries()) {
        const path = join(work, `source-${i}.slab`);
        await options.files.getFile(source.key, path);
        sources.push({ path, live: source.live });
      }
      const built = await buildCompaction(sources, spec.headers, spec.options);
      const answer: JobAnswer = { outputs: [], rowsKey: jobKey(job, "rows") };
      for (const [i, output] of built.entries()) {
        const key = jobKey(job, `output-${i}`);
        await options.files.put(key, output.bytes);
        answer.outputs.push({ slabId: output.slabId, key });
      }
      await options.files.put(answer.rowsKey, encodeWire(built.map((output) => output.rows)));
      options.connection.publish(replyTo, encodeAnswer(answer));
      stats.built++;
      options.log?.(`needle: compactor ${options.name} built job ${job} (${built.length} outputs)`);
    } catch (error) {
      stats.failed++;
      options.connection.publish(replyTo, encodeFailure(error));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  return {
    stats,
    async stop() {
      subscription.unsubscribe();
      queue.length = 0;
      await running;
    },
  };
}
