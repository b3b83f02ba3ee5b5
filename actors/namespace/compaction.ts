/**
 * Compacting a namespace (storage/compaction/DESIGN.md, decision 2): the namespace's side of
 * one planned merge. The compactor actor decides when; this runs it.
 *
 * Steps:
 *   1. Snapshot (synchronous): the sources' rows live in the last committed manifest
 *      (invariant 1; memory holds deletions past its flushedLsn), and fresh output slab ids.
 *   2. Build on the slab-builder thread, which reads the source files itself (no copy of the
 *      rows through this event loop), and put every output. A crash here leaves the previous
 *      manifest valid; the outputs are orphans, removed at the next start.
 *   3. Commit under the manifest lock (invariant 2; refused, retryable, while a failed flush
 *      waits for its retry): the committed manifest with the sources replaced by the outputs
 *      (`editManifest`, invariant 3).
 *   4. Swap (under the swap lock, so no write is between its lookups and its apply): the
 *      outputs replace the sources in memory, their live bitsets mapped from the sources'
 *      current ones (`mapLive`), so rows killed while the compaction ran stay dead.
 *   5. Retire the sources once every read begun before the swap has ended (invariant 4).
 * Writes and reads never wait for steps 1-2; a commit waits at most for a running flush.
 */
import { assert, NeedleError } from "../../storage/errors.ts";
import type { CompactionPlan } from "../../storage/compaction/plan.ts";
import { namespaceKey, slabKey } from "../layout.ts";
import { address } from "../runtime/mod.ts";
import {
  type CompactionOutput,
  editManifest,
  mapLive,
  replaceSources,
  type SourceLive,
} from "./compaction-edit.ts";
import type { CompactionSource } from "./compaction-job.ts";
import { countLive, liveFromDeleted } from "./deletions.ts";
import type { FlushDeps } from "./flush.ts";
import type { NamespaceManifest, SlabEntry } from "./manifest.ts";
import type { SlabBuildJob } from "./slab-build-job.ts";
import type { CompactionBuilder, CompactionOutputBytes } from "./slab-builder.ts";
import type { NamespaceState } from "./state.ts";

export interface CompactionDeps extends FlushDeps {
  /** Runs the commit and swap while no flush is between its freeze and its swap. */
  withManifestLock<T>(work: () => Promise<T>): Promise<T>;
  /** Throws (retryable) when a commit must not happen now: a failed flush is pending. */
  checkCommit(): void;
  /** Deletes the sources' files once the reads that may still use them have ended (step 5). */
  retire(slabIds: string[]): void;
  /** The manifest's path, for errors naming it. */
  manifestFile: string;
  /** Called as each step begins (the compactor's log line; crash tests kill on it). */
  onStep(step: CompactionStep): void;
  /** Outputs of level 1 and above with at least this many rows get an IVF index. */
  indexRowsMin: number;
  /** Builds the outputs (step 2): this process's builder thread, or a cluster's compactors. */
  build: CompactionBuilder;
}

export type CompactionStep = "build" | "put" | "commit" | "swap" | "retire";

/** What one compaction did (the compactor's log and stats). */
export interface CompactionDone {
  reason: CompactionPlan["reason"];
  sources: string[];
  outputLevel: number;
  outputs: { id: string; rows: number; bytes: number }[];
}

/** Steps 1 to 5. Undefined when the plan no longer fits the namespace (a source left). */
export async function compactNamespace(
  state: NamespaceState,
  plan: CompactionPlan,
  deps: CompactionDeps,
): Promise<CompactionDone | undefined> {
  // Step 1.
  const sources = plan.sources.map((id) => state.slabs.find((slab) => slab.id === id));
  if (sources.some((slab) => slab === undefined)) return undefined;
  const committed = state.committed;
  assert(committed !== undefined, "a namespace with slabs has a committed manifest");
  const snapshot = (sources as SlabEntry[]).map((slab) => {
    const entry = committed.slabs.find((listed) => listed.id === slab.id);
    // A slab missing from the committed manifest had no live row when it was committed.
    return entry === undefined
      ? new Uint8Array((slab.rowCount + 7) >> 3)
      : liveFromDeleted(entry.deleted, entry.rowCount, deps.manifestFile);
  });
  // The plan counts rows live in memory; the outputs hold the snapshot's. A source whose rows
  // all died after the last commit still needs an output: replaying the writes that killed
  // them (an update) must find them after a crash.
  const snapshotLive = snapshot.reduce((sum, live, i) => sum + countLive(live, sources[i]!.rowCount), 0);
  const outputCount = snapshotLive === 0 ? 0 : Math.max(1, plan.outputCount);
  const headers = outputHeaders(state, sources as SlabEntry[], plan, outputCount, deps.slabIdPrefix);

  // Step 2.
  deps.onStep("build");
  const inputs: CompactionSource[] = [];
  for (const [i, slab] of (sources as SlabEntry[]).entries()) {
    inputs.push({ path: await deps.blobs.localPath(slabKey(state.index.name, slab.id)), live: snapshot[i]! });
  }
  let built: CompactionOutputBytes[];
  try {
    built =
      headers.length === 0 ? [] : await deps.build(inputs, headers, { indexRowsMin: deps.indexRowsMin });
  } catch (error) {
    // A flush may have dropped a source (every row dead) and deleted its file meanwhile.
    if (plan.sources.some((id) => !state.slabs.some((slab) => slab.id === id))) return undefined;
    throw error;
  }
  deps.onStep("put");
  const stored: string[] = [];
  try {
    for (const output of built) {
      await deps.blobs.put(slabKey(state.index.name, output.slabId), output.bytes);
      stored.push(output.slabId);
    }
  } catch (error) {
    for (const id of stored) await deps.blobs.delete(slabKey(state.index.name, id)).catch(() => {});
    throw error;
  }
  const byId = new Map(headers.map((header) => [header.slabId, header]));
  const outputs: (CompactionOutput & { bytes: number })[] = built.map((output) => {
    const header = byId.get(output.slabId)!;
    return {
      id: output.slabId,
      level: header.level,
      minLsn: header.minLsn,
      maxLsn: header.maxLsn,
      rows: output.rows,
      bytes: output.bytes.byteLength,
    };
  });

  await deps.withManifestLock(async () => {
    // Step 3. A failure past this point leaves the outputs in place: the commit may have
    // reached the disk even when it reports an error (a failed directory fsync), and then the
    // manifest names them. Unnamed ones are removed at the next start.
    deps.checkCommit();
    deps.onStep("commit");
    const edited = editManifest(state.committed!, plan.sources, outputs, deps.manifestFile);
    const sizes = new Map(outputs.map((output) => [output.id, output.bytes]));
    const manifest: NamespaceManifest = {
      ...edited,
      nextSlabSeq: state.nextSlabSeq,
      slabs: edited.slabs.map((slab) => (sizes.has(slab.id) ? { ...slab, bytes: sizes.get(slab.id) } : slab)),
    };
    state.committedVersion = await deps.manifests.commit(manifest);
    state.committed = manifest;

    // Step 4.
    deps.onStep("swap");
    await state.withSwapLock(async () => swap(state, plan.sources, outputs));
  });

  // Step 5.
  deps.onStep("retire");
  deps.retire(plan.sources);
  return {
    reason: plan.reason,
    sources: plan.sources,
    outputLevel: plan.outputLevel,
    outputs: outputs.map((output) => ({ id: output.id, rows: output.rows.row.length, bytes: output.bytes })),
  };
}

/** One header per planned output, with fresh ids (step 1). */
function outputHeaders(
  state: NamespaceState,
  sources: SlabEntry[],
  plan: CompactionPlan,
  outputCount: number,
  slabIdPrefix: string,
): SlabBuildJob["header"][] {
  if (outputCount === 0 || sources.length === 0) return [];
  let minLsn = sources[0]!.minLsn;
  let maxLsn = sources[0]!.maxLsn;
  for (const slab of sources) {
    if (slab.minLsn < minLsn) minLsn = slab.minLsn;
    if (slab.maxLsn > maxLsn) maxLsn = slab.maxLsn;
  }
  return Array.from({ length: outputCount }, () => ({
    slabId: `${slabIdPrefix}-${String(state.nextSlabSeq++).padStart(8, "0")}`,
    namespace: state.namespace,
    level: plan.outputLevel,
    dim: state.dim,
    metric: state.index.metric,
    minLsn,
    maxLsn,
    sourceSlabs: sources.map((slab) => slab.id),
  }));
}

/** Step 4 (synchronous, under the swap lock): outputs in, in the newest source's place. */
function swap(
  state: NamespaceState,
  sourceIds: readonly string[],
  outputs: readonly (CompactionOutput & { bytes: number })[],
): void {
  const current: SourceLive = sourceIds.map((id) => state.slabs.find((slab) => slab.id === id)?.live);
  const entries: SlabEntry[] = outputs.map((output) => {
    const { live, liveCount } = mapLive(output.rows, current);
    return {
      id: output.id,
      level: output.level,
      rowCount: output.rows.row.length,
      minLsn: output.minLsn,
      maxLsn: output.maxLsn,
      live,
      liveCount,
      bytes: output.bytes,
      address: address("slab", namespaceKey(state.index.name, output.id)),
    };
  });
  state.slabs = replaceSources(state.slabs, sourceIds, entries);
  state.slabGeneration++;
}

/** The retryable refusal of a commit while a failed flush is pending (invariant 2). */
export function commitRefused(namespace: string): NeedleError {
  return new NeedleError(
    "UNAVAILABLE",
    `namespace ${namespace}: a compaction cannot commit while a failed flush waits for its retry`,
    { retryAfterSeconds: 1 },
  );
}
