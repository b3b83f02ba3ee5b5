/**
 * The official client's backup methods on the embedded database (`createBackup`,
 * `listBackups`, `describeBackup`, `deleteBackup`, `createIndexFromBackup`,
 * `listRestoreJobs`, `describeRestoreJob`, and the 9.x `backups.*` / `restoreJobs.*` forms),
 * over the engine's backups, with the client's result shapes (Dates, camelCase).
 */
import type { BackupDescription, Engine, RestoreJob } from "../../actors/api.ts";
import { parseCreateBackup, parseCreateIndexFromBackup, parseIndexName, listPage } from "../schemas/mod.ts";
import { deploymentOut, vectorFieldsOut } from "./shapes.ts";
import type { BackupList, BackupModel, RestoreJobList, RestoreJobModel } from "./types.ts";

/**
 * The fields every front door shows of a backup, camelCase, plain JSON values (the HTTP
 * gateway snake-cases them and adds its API version's index fields). Index ids are names.
 */
export function backupFieldsOut(backup: BackupDescription) {
  const deployment = deploymentOut(backup.index);
  return {
    backupId: backup.backupId,
    sourceIndexName: backup.sourceIndexName,
    sourceIndexId: backup.sourceIndexName,
    name: backup.name,
    description: backup.description,
    status: backup.status,
    cloud: deployment.deploymentType === "managed" ? deployment.cloud : "pod",
    region: deployment.deploymentType === "managed" ? deployment.region : deployment.environment,
    recordCount: backup.recordCount,
    namespaceCount: backup.namespaceCount,
    sizeBytes: backup.sizeBytes,
    createdAt: backup.createdAt,
  };
}

export function backupModelOut(backup: BackupDescription): BackupModel {
  const model: BackupModel = {
    ...backupFieldsOut(backup),
    schema: { fields: vectorFieldsOut(backup.index) },
    createdAt: new Date(backup.createdAt),
    lsn: backup.lsn,
  };
  if (Object.keys(backup.index.tags).length > 0) model.tags = { ...backup.index.tags };
  return model;
}

/** A restore job's fields, camelCase, plain JSON values (see backupFieldsOut). */
export function restoreJobFieldsOut(job: RestoreJob) {
  return {
    restoreJobId: job.restoreJobId,
    backupId: job.backupId,
    targetIndexName: job.targetIndexName,
    targetIndexId: job.targetIndexName,
    status: job.status,
    createdAt: job.createdAt,
    completedAt: job.completedAt,
    percentComplete: job.percentComplete,
  };
}

export function restoreJobOut(job: RestoreJob): RestoreJobModel {
  return {
    ...restoreJobFieldsOut(job),
    createdAt: new Date(job.createdAt),
    completedAt: new Date(job.completedAt),
  };
}

function page<T, U>(items: T[], options: { limit?: number; paginationToken?: string }, out: (item: T) => U) {
  const { page, next } = listPage(items, options);
  return { data: page.map(out), pagination: next === undefined ? null : { next } };
}

export interface ListOptions {
  limit?: number;
  paginationToken?: string;
}

/** The backup methods, bound to an engine (`live()` refuses after close). */
export class LibraryBackups {
  constructor(private readonly live: () => Engine) {}

  async create(options: { indexName: string; name?: string; description?: string }): Promise<BackupModel> {
    const index = parseIndexName(options.indexName, { fieldPrefix: "indexName" });
    const request = parseCreateBackup({ name: options.name, description: options.description });
    return backupModelOut(await this.live().createBackup(index, request));
  }

  async list(options: ListOptions & { indexName?: string } = {}): Promise<BackupList> {
    const index =
      options.indexName === undefined
        ? undefined
        : parseIndexName(options.indexName, { fieldPrefix: "indexName" });
    const engine = this.live();
    if (index !== undefined) await engine.describeIndex(index); // NOT_FOUND for an unknown index
    return page(await engine.listBackups(index), options, backupModelOut);
  }

  async describe(backupId: string): Promise<BackupModel> {
    return backupModelOut(await this.live().describeBackup(backupId));
  }

  delete(backupId: string): Promise<void> {
    return this.live().deleteBackup(backupId);
  }

  async createIndex(
    backupId: string,
    options: { name: string; tags?: Record<string, string>; deletionProtection?: string },
  ): Promise<{ restoreJobId: string; indexId: string }> {
    const request = parseCreateIndexFromBackup(options);
    const { job, index } = await this.live().createIndexFromBackup(backupId, request);
    return { restoreJobId: job.restoreJobId, indexId: index.name };
  }

  async listRestoreJobs(options: ListOptions = {}): Promise<RestoreJobList> {
    return page(await this.live().listRestoreJobs(), options, restoreJobOut);
  }

  async describeRestoreJob(restoreJobId: string): Promise<RestoreJobModel> {
    return restoreJobOut(await this.live().describeRestoreJob(restoreJobId));
  }
}
