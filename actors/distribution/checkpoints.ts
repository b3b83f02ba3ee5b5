/**
 * Index checkpoints in NATS (cluster v1.5, actors/distribution/DESIGN.md decision 15): an
 * owner copies its quiesced index directory (every namespace flushed: the whole index through
 * LSN L) into the Object Store, then records `{incarnation, lsn: L, files}` in KV, and only
 * then may the stream be purged through L. A new owner restores the latest checkpoint of the
 * incarnation it claims into its empty working directory and replays the stream after L.
 *
 * Order matters: files first, record second, purge third, old files last, so at every moment
 * the recorded checkpoint's files exist and the stream holds everything after its LSN.
 */
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import type { JetStreamManager, KV, NatsConnection, ObjectStore } from "nats";
import { NatsObjectBlobStore } from "../../storage/blob/nats-object-store.ts";
import { NeedleError } from "../../storage/errors.ts";
import { checkpointObjectsBucket, checkpointsBucket } from "../../storage/nats/names.ts";

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

export class Checkpoints {
  private constructor(
    private readonly kv: KV,
    private readonly files: NatsObjectBlobStore,
    private readonly objects: ObjectStore,
    private readonly manager: JetStreamManager,
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
    );
  }

  /** The latest checkpoint of this incarnation of the index, if any. */
  async latest(index: string, incarnation: string): Promise<CheckpointRecord | undefined> {
    const entry = await this.kv.get(index);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const record = JSON.parse(decoder.decode(entry.value)) as CheckpointRecord;
    return record.incarnation === incarnation ? record : undefined;
  }

  /** Uploads `dir` (temporary and log files left out) as the checkpoint at `lsn`; answers it. */
  async save(index: string, incarnation: string, lsn: bigint, dir: string): Promise<CheckpointRecord> {
    const previous = await this.latest(index, incarnation);
    const record: CheckpointRecord = {
      incarnation,
      lsn: lsn.toString(),
      files: [],
      at: new Date().toISOString(),
    };
    for (const path of await filesUnder(dir)) {
      const bytes = await readFile(join(dir, path));
      const key = `${index}/${incarnation}/${lsn}/${path}`;
      await bounded(this.files.put(key, bytes), `upload of ${key}`);
      record.files.push({ path, key, bytes: bytes.byteLength });
    }
    await this.kv.put(index, encoder.encode(JSON.stringify(record)));
    if (previous !== undefined && previous.lsn !== record.lsn) await this.deleteFiles(previous);
    return record;
  }

  /** Writes the checkpoint's files into `dir` (an index directory nothing has opened yet). */
  async restore(record: CheckpointRecord, dir: string): Promise<void> {
    for (const file of record.files) {
      const target = join(dir, file.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, await bounded(this.download(file.key), `download of ${file.key}`));
    }
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
    // Keys first (awaiting inside the keys() iteration ends it early), each once.
    const keys = new Set<string>();
    for await (const key of await this.kv.keys()) keys.add(key);
    for (const index of keys) {
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

  private async deleteFiles(record: CheckpointRecord): Promise<void> {
    for (const file of record.files) await this.files.delete(file.key).catch(() => {});
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
