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
import type { KV, NatsConnection } from "nats";
import { NatsObjectBlobStore } from "../../storage/blob/nats-object-store.ts";
import { checkpointObjectsBucket, checkpointsBucket } from "../../storage/nats/names.ts";

export interface CheckpointRecord {
  incarnation: string;
  /** Decimal: the LSN the files hold the index through. */
  lsn: string;
  files: { path: string; key: string; bytes: number }[];
  at: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Checkpoints {
  private constructor(
    private readonly kv: KV,
    private readonly files: NatsObjectBlobStore,
  ) {}

  static async open(
    connection: NatsConnection,
    options: { replicas?: number; cacheDir: string },
  ): Promise<Checkpoints> {
    const js = connection.jetstream();
    const replicas = options.replicas ?? 1;
    const kv = await js.views.kv(checkpointsBucket, { history: 1, replicas });
    const objects = await js.views.os(checkpointObjectsBucket, { replicas });
    return new Checkpoints(kv, new NatsObjectBlobStore(objects, options.cacheDir));
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
      await this.files.put(key, bytes);
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
      await writeFile(target, await this.files.get(file.key));
    }
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
