/**
 * Backups of indexes and the jobs that restore them, on the local volume:
 *
 *   <data>/backups/<id>/backup.json     what the backup is (source model, LSN, counts)
 *   <data>/backups/<id>/index/          the index's files at that LSN (slabs hard-linked)
 *   <data>/backups/.building-<id>/      a backup being made (removed at open)
 *   <data>/restore-jobs/<id>.json       one restore (they finish within the call)
 *
 * A backup appears only whole: it is built under a dot-name and renamed into place, the
 * parent directory fsynced (gateway/DESIGN.md, issue 9, invariant 5). Ids are UUIDs; an id
 * from a request is checked against that shape before it names any path.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { NeedleError } from "../storage/errors.ts";
import { readdir, readFile, removeTree, rename } from "../storage/files.ts";
import { ensureDirectoryDurably, fsyncDirectory, isNotFound, writeFileDurably } from "../storage/fsync.ts";
import type { BackupDescription, IndexConfig, RestoreJob } from "./api.ts";

const idPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const buildingPrefix = ".building-";

/** backup.json: the description plus the source's configuration, which a restore takes. */
interface StoredBackup extends Omit<BackupDescription, "lsn"> {
  lsn: string;
  config: IndexConfig;
}

export class BackupStore {
  private readonly backupsDir: string;
  private readonly jobsDir: string;

  constructor(dataDir: string) {
    this.backupsDir = join(dataDir, "backups");
    this.jobsDir = join(dataDir, "restore-jobs");
  }

  /** Removes backups left half-made by a crash. */
  async recover(): Promise<void> {
    const names = await readdir(this.backupsDir).catch((error: unknown) => {
      if (isNotFound(error)) return [] as string[];
      throw error;
    });
    const stale = names.filter((name) => name.startsWith(buildingPrefix));
    for (const name of stale) await removeTree(join(this.backupsDir, name));
    if (stale.length > 0) await fsyncDirectory(this.backupsDir);
  }

  newId(): string {
    return randomUUID();
  }

  /**
   * Makes backup `id`: `fill(dir)` writes the index's files into `dir` and answers the
   * description; it becomes visible once complete.
   */
  async create(
    id: string,
    config: IndexConfig,
    fill: (dir: string) => Promise<BackupDescription>,
  ): Promise<BackupDescription> {
    await ensureDirectoryDurably(this.backupsDir);
    const building = join(this.backupsDir, `${buildingPrefix}${id}`);
    await removeTree(building);
    try {
      await ensureDirectoryDurably(building);
      const description = await fill(join(building, "index"));
      const stored: StoredBackup = { ...description, lsn: description.lsn.toString(), config };
      await writeFileDurably(join(building, "backup.json"), new TextEncoder().encode(JSON.stringify(stored)));
      await rename(building, join(this.backupsDir, id));
      await fsyncDirectory(this.backupsDir);
      return description;
    } catch (error) {
      await removeTree(building).catch(() => undefined);
      throw error;
    }
  }

  private async read(id: string): Promise<StoredBackup> {
    if (!idPattern.test(id)) throw notFound("Backup", id);
    try {
      return JSON.parse(new TextDecoder().decode(await readFile(join(this.backupsDir, id, "backup.json"))));
    } catch (error) {
      if (isNotFound(error)) throw notFound("Backup", id);
      throw error;
    }
  }

  async describe(id: string): Promise<BackupDescription> {
    return describeStored(await this.read(id));
  }

  /** The backup's files and the configuration its source had. */
  async source(id: string): Promise<{ description: BackupDescription; config: IndexConfig; dir: string }> {
    const stored = await this.read(id);
    return {
      description: describeStored(stored),
      config: stored.config,
      dir: join(this.backupsDir, id, "index"),
    };
  }

  /** Every backup (of one index when named), newest first. */
  async list(index?: string): Promise<BackupDescription[]> {
    const names = await readdir(this.backupsDir).catch((error: unknown) => {
      if (isNotFound(error)) return [] as string[];
      throw error;
    });
    const backups: BackupDescription[] = [];
    for (const name of names.filter((candidate) => idPattern.test(candidate))) {
      const backup = await this.describe(name).catch(() => undefined); // deleted meanwhile
      if (backup !== undefined && (index === undefined || backup.sourceIndexName === index))
        backups.push(backup);
    }
    return backups.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  }

  async remove(id: string): Promise<void> {
    await this.read(id); // NOT_FOUND for an unknown id
    await removeTree(join(this.backupsDir, id));
    await fsyncDirectory(this.backupsDir);
  }

  async saveJob(job: RestoreJob): Promise<void> {
    await ensureDirectoryDurably(this.jobsDir);
    await writeFileDurably(
      join(this.jobsDir, `${job.restoreJobId}.json`),
      new TextEncoder().encode(JSON.stringify(job)),
    );
  }

  async job(id: string): Promise<RestoreJob> {
    if (!idPattern.test(id)) throw notFound("Restore job", id);
    try {
      return JSON.parse(new TextDecoder().decode(await readFile(join(this.jobsDir, `${id}.json`))));
    } catch (error) {
      if (isNotFound(error)) throw notFound("Restore job", id);
      throw error;
    }
  }

  /** Every restore job, newest first. */
  async jobs(): Promise<RestoreJob[]> {
    const names = await readdir(this.jobsDir).catch((error: unknown) => {
      if (isNotFound(error)) return [] as string[];
      throw error;
    });
    const jobs = await Promise.all(
      names.filter((name) => name.endsWith(".json")).map((name) => this.job(name.slice(0, -".json".length))),
    );
    return jobs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  }
}

function describeStored(stored: StoredBackup): BackupDescription {
  const { config: _config, lsn, ...rest } = stored;
  return { ...rest, lsn: BigInt(lsn) };
}

function notFound(what: string, id: string): NeedleError {
  return new NeedleError("NOT_FOUND", `${what} ${id} not found`, { received: id });
}
