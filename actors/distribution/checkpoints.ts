/**
 * Index checkpoints in NATS (cluster v1.5, actors/distribution/DESIGN.md decision 15): an
 * owner copies its quiesced index directory (every namespace flushed: the whole index through
 * LSN L) into the Object Store, then records `{incarnation, lsn: L, files}` in KV, and only
 * then may the stream be purged through L. A new owner restores the latest checkpoint of the
 * incarnation it claims into its empty working directory and replays the stream after L.
 *
 * Order matters: files first, record second, purge third, old files last, so at every moment
 * the recorded checkpoint's files exist and the stream holds everything after its LSN.
 *
 * The record is the index's manifest in KV and is committed by compare-and-set on the revision
 * read when the save began: an owner that lost its lease while uploading (a long upload
 * outlasting the lease) cannot overwrite a newer owner's record, nor delete that record's
 * files as "previous"; its save fails with FAILED_PRECONDITION and what it uploaded is left
 * to orphan collection. (Without it, the stale owner's older record over a stream the new
 * owner had purged past it lost the writes between the two LSNs.)
 *
 * Files are content-addressed (issue 8 step b): an object's key is
 * `<index>/<incarnation>/sha256/<hash>`, so a checkpoint uploads only the files that changed
 * since the one before (slabs are immutable: most of an index's bytes), and the index sits
 * quiesced only while those upload. Hashes of files seen before are kept by path, size and
 * modification time, so an unchanged slab is not read again. A restore takes files it has
 * from a local content cache (`<cacheDir>/.content-cache/<key>/<hash>`; a dot name no index
 * has) and downloads the rest, so a replica moving to a newer checkpoint fetches only what
 * changed.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import type { JetStreamManager, KV, NatsConnection, ObjectStore } from "nats";
import { NatsObjectBlobStore } from "../../storage/blob/nats-object-store.ts";
import { NeedleError } from "../../storage/errors.ts";
import { kvKeys } from "../../storage/nats/kv-keys.ts";
import { checkpointObjectsBucket, checkpointsBucket } from "../../storage/nats/names.ts";
import { isSlabFile } from "../layout.ts";

export interface CheckpointRecord {
  incarnation: string;
  /** Decimal: the LSN the files hold the index through. */
  lsn: string;
  files: { path: string; key: string; bytes: number }[];
  at: string;
}

/**
 * The longest one file's upload or download may take. An Object Store read is an ordered
 * consumer, which can stall for good when a NATS node fails under it (seen in the end-to-end
 * tests: a claim hung in its restore); a bounded wait turns that into a retry.
 */
export const checkpointFileMsMax = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What this host's checkpoints moved, since start (tests and logs). */
export interface CheckpointTraffic {
  uploaded: number;
  reused: number;
  downloaded: number;
  fromCache: number;
}

export class Checkpoints {
  readonly traffic: CheckpointTraffic = { uploaded: 0, reused: 0, downloaded: 0, fromCache: 0 };
  /** Content hash of a slab file, by path, while its size and modification time stay the same. */
  private readonly hashes = new Map<string, { bytes: number; modifiedMs: number; hash: string }>();

  private constructor(
    private readonly kv: KV,
    private readonly files: NatsObjectBlobStore,
    private readonly objects: ObjectStore,
    private readonly manager: JetStreamManager,
    private readonly cacheDir: string,
  ) {}

  static async open(
    connection: NatsConnection,
    options: { replicas?: number; cacheDir: string },
  ): Promise<Checkpoints> {
    const js = connection.jetstream();
    const replicas = options.replicas ?? 1;
    const kv = await js.views.kv(checkpointsBucket, { history: 1, replicas });
    const objects = await js.views.os(checkpointObjectsBucket, { replicas });
    return new Checkpoints(
      kv,
      new NatsObjectBlobStore(objects, options.cacheDir),
      objects,
      await connection.jetstreamManager(),
      options.cacheDir,
    );
  }

  /** The latest checkpoint of this incarnation of the index, if any. */
  async latest(index: string, incarnation: string): Promise<CheckpointRecord | undefined> {
    const entry = await this.kv.get(index);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const record = JSON.parse(decoder.decode(entry.value)) as CheckpointRecord;
    return record.incarnation === incarnation ? record : undefined;
  }

  /**
   * Uploads `dir` (temporary and log files left out) as the checkpoint at `lsn`; answers it.
   * FAILED_PRECONDITION when another save recorded a checkpoint of the index meanwhile.
   * `beforeRecord`: tests only, runs between the uploads and the record's commit.
   */
  async save(
    index: string,
    incarnation: string,
    lsn: bigint,
    dir: string,
    beforeRecord?: () => Promise<void>,
  ): Promise<CheckpointRecord> {
    const current = await this.kv.get(index);
    const previous = await this.latest(index, incarnation);
    const record: CheckpointRecord = {
      incarnation,
      lsn: lsn.toString(),
      files: [],
      at: new Date().toISOString(),
    };
    const stored = new Set((previous?.files ?? []).map((file) => file.key));
    for (const path of await filesUnder(dir)) {
      const { hash, bytes } = await this.hashOf(join(dir, path), isSlabFile(path));
      const key = `${index}/${incarnation}/sha256/${hash}`;
      if (stored.has(key) || (await this.exists(key))) this.traffic.reused++;
      else {
        await bounded(this.files.put(key, await readFile(join(dir, path))), `upload of ${key}`);
        this.traffic.uploaded++;
      }
      stored.add(key);
      record.files.push({ path, key, bytes });
    }
    await beforeRecord?.();
    const value = encoder.encode(JSON.stringify(record));
    try {
      if (current === null) await this.kv.create(index, value);
      else await this.kv.update(index, value, current.revision);
    } catch (error) {
      throw new NeedleError(
        "FAILED_PRECONDITION",
        `checkpoint of index ${index} at LSN ${lsn}: another checkpoint was recorded since this one began (revision ${current?.revision ?? "none"} read); not recorded`,
        { cause: error },
      );
    }
    if (previous !== undefined) await this.deleteFiles(previous, record);
    return record;
  }

  /**
   * Writes the checkpoint's files into `dir` (an index directory nothing has opened yet):
   * from the local content cache `cacheKey` where it holds them, else downloaded (and cached
   * there). Each user of a cache key restores one index at a time (an owner's, a replica's),
   * so pruning it to the restored checkpoint's files never removes a file another restore reads.
   */
  async restore(record: CheckpointRecord, dir: string, cacheKey?: string): Promise<void> {
    const index = cacheKey;
    const cache = join(this.cacheDir, ".content-cache", index ?? "_");
    await mkdir(cache, { recursive: true });
    for (const file of record.files) {
      const target = join(dir, file.path);
      await mkdir(dirname(target), { recursive: true });
      const cached = join(cache, file.key.slice(file.key.lastIndexOf("/") + 1));
      if (index !== undefined && (await stat(cached).catch(() => undefined))?.size === file.bytes) {
        await copyFile(cached, target);
        this.traffic.fromCache++;
        continue;
      }
      const bytes = await bounded(this.download(file.key), `download of ${file.key}`);
      this.traffic.downloaded++;
      await writeFile(target, bytes);
      if (index === undefined) continue;
      const temporary = `${cached}.${process.pid}.tmp`;
      await writeFile(temporary, bytes);
      await rename(temporary, cached);
    }
    if (index !== undefined) {
      // Keep only what this checkpoint names: the cache never grows past one copy of the index.
      const named = new Set(record.files.map((file) => file.key.slice(file.key.lastIndexOf("/") + 1)));
      for (const name of await readdir(cache))
        if (!named.has(name)) await rm(join(cache, name), { force: true });
    }
  }

  private async exists(key: string): Promise<boolean> {
    const info = await this.objects.info(key);
    return info !== null && !info.deleted;
  }

  /**
   * The file's sha256. A slab's is remembered (written once under a new name, never changed);
   * every other file is small and may be rewritten in place, so it is hashed each time.
   */
  private async hashOf(path: string, immutable: boolean): Promise<{ hash: string; bytes: number }> {
    const info = await stat(path);
    const known = immutable ? this.hashes.get(path) : undefined;
    if (known !== undefined && known.bytes === info.size && known.modifiedMs === info.mtimeMs)
      return { hash: known.hash, bytes: known.bytes };
    const hash = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
    if (immutable) this.hashes.set(path, { bytes: info.size, modifiedMs: info.mtimeMs, hash });
    return { hash, bytes: info.size };
  }

  /**
   * One object's bytes by direct message gets of its chunks, one request each: the Object
   * Store's own read is an ordered consumer, which stalled for good after a NATS node failed
   * and came back (a claim then hung in its restore). A request that gets no answer times out.
   */
  private async download(key: string): Promise<Uint8Array> {
    const info = await this.objects.info(key);
    if (info === null || info.deleted) {
      throw new NeedleError("CORRUPTION", `checkpoint file ${key} is missing from the Object Store`, {
        file: key,
      });
    }
    const out = new Uint8Array(info.size);
    const stream = `OBJ_${checkpointObjectsBucket}`;
    const subject = `$O.${checkpointObjectsBucket}.C.${info.nuid}`;
    let filled = 0;
    let seq = 1;
    while (filled < info.size) {
      // The stream message API takes next_by_subj too (the client types list it for direct
      // gets only).
      const query = { next_by_subj: subject, seq } as unknown as { seq: number };
      const chunk = await this.manager.streams.getMessage(stream, query);
      out.set(chunk.data, filled);
      filled += chunk.data.byteLength;
      seq = chunk.seq + 1;
    }
    return out;
  }

  /** Every index's latest checkpoint record (orphan collection). */
  async all(): Promise<Map<string, CheckpointRecord>> {
    const records = new Map<string, CheckpointRecord>();
    for (const index of await kvKeys(this.manager, checkpointsBucket)) {
      const entry = await this.kv.get(index);
      if (entry !== null && entry.operation === "PUT")
        records.set(index, JSON.parse(decoder.decode(entry.value)) as CheckpointRecord);
    }
    return records;
  }

  /** Every checkpoint file in the Object Store, with when it was written. */
  async storedFiles(): Promise<{ key: string; modifiedMs: number }[]> {
    const infos = await this.objects.list();
    return infos
      .filter((info) => !info.deleted)
      .map((info) => ({ key: info.name, modifiedMs: Date.parse(info.mtime) }));
  }

  async deleteObject(key: string): Promise<void> {
    // Through the blob store, which also drops its local cache copy.
    await this.files.delete(key);
  }

  /** Removes the index's checkpoint (the index was deleted). */
  async remove(index: string): Promise<void> {
    const entry = await this.kv.get(index);
    if (entry === null || entry.operation !== "PUT") return;
    await this.kv.delete(index);
    await this.deleteFiles(JSON.parse(decoder.decode(entry.value)) as CheckpointRecord);
  }

  /** Deletes the record's files, except those `kept` (the newer checkpoint) names too. */
  private async deleteFiles(record: CheckpointRecord, kept?: CheckpointRecord): Promise<void> {
    const keep = new Set((kept?.files ?? []).map((file) => file.key));
    for (const file of record.files)
      if (!keep.has(file.key)) await this.files.delete(file.key).catch(() => {});
  }
}

function bounded<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new NeedleError("UNAVAILABLE", `${what} took over ${checkpointFileMsMax} ms (NATS failing over?)`, {
            retryAfterSeconds: 1,
          }),
        ),
      checkpointFileMsMax,
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Regular files under `dir`, relative, sorted; hidden (temporary) names and `log/` skipped. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string) => {
    for (const name of await readdir(at)) {
      if (name.startsWith(".")) continue;
      const path = join(at, name);
      const info = await stat(path);
      if (info.isDirectory()) {
        if (at === dir && name === "log") continue; // the local WAL: unused with JetStream logs
        await walk(path);
      } else if (info.isFile()) out.push(relative(dir, path));
    }
  };
  await walk(dir);
  return out.sort();
}
