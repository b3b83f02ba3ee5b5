/**
 * Pinecone's backup and restore-job routes (control plane) over the engine's backups
 * (actors/backups.ts). The backup model follows the request's API version like the index
 * model (control.ts): `schema` in 2026-07, `dimension` and `metric` before. Lists page with
 * `limit` and `paginationToken` (an offset, opaque to clients); `pagination.next` is absent on
 * the last page. Index ids are their names (Needle has no other id for an index).
 */
import type { BackupDescription, RestoreJob } from "../../actors/api.ts";
import type { BackupSchedule, ScheduledBackup } from "../schedules/backup-schedules.ts";
import { backupFieldsOut, restoreJobFieldsOut } from "../library/backups.ts";
import { vectorFieldsOut } from "../library/shapes.ts";
import * as schemas from "../schemas/mod.ts";
import { type IndexModelVersion, snakeKeys } from "./control.ts";
import type { JsonObject } from "./requests.ts";

export function backupJson(backup: BackupDescription, version: IndexModelVersion): JsonObject {
  const model = snakeKeys(backupFieldsOut(backup)) as JsonObject;
  // Needle's own: every write through this LSN is in the backup, none after it.
  model.lsn = backup.lsn.toString();
  if (Object.keys(backup.index.tags).length > 0) model.tags = { ...backup.index.tags };
  if (version === "2026-04") {
    model.metric = backup.index.metric;
    if (backup.index.dimension !== undefined) model.dimension = backup.index.dimension;
  } else model.schema = { fields: vectorFieldsOut(backup.index) };
  return model;
}

export function restoreJobJson(job: RestoreJob): JsonObject {
  return snakeKeys(restoreJobFieldsOut(job)) as JsonObject;
}

/** One page of `items` as Pinecone lists them: `{data, pagination?: {next}}`. */
export function pageJson<T>(
  items: readonly T[],
  query: { limit?: string; paginationToken?: string },
  render: (item: T) => JsonObject,
): JsonObject {
  const { page, next } = schemas.listPage(items, query);
  const out: JsonObject = { data: page.map(render) };
  if (next !== undefined) out.pagination = { next };
  return out;
}

export function backupScheduleJson(schedule: BackupSchedule): JsonObject {
  return {
    schedule_id: schedule.scheduleId,
    name: schedule.name,
    index_id: schedule.index,
    project_id: "local",
    schedule_type: "time-based",
    frequency: schedule.frequency,
    retention_expire_after_days: schedule.retentionDays,
    enabled: schedule.enabled,
    next_scheduled_run: schedule.nextRunAt,
    created_at: schedule.createdAt,
  };
}

/** One run of a schedule: the backup's model while it exists, else what is known of the run. */
export function scheduledBackupJson(
  schedule: BackupSchedule,
  run: ScheduledBackup,
  backup: BackupDescription | undefined,
  version: IndexModelVersion,
): JsonObject {
  const base: JsonObject =
    backup !== undefined
      ? backupJson(backup, version)
      : {
          backup_id: run.backupId,
          source_index_id: schedule.index,
          source_index_name: schedule.index,
          name: schedule.name,
          cloud: "local",
          region: "local",
          created_at: run.takenAt,
        };
  const out: JsonObject = { ...base, status: run.status, scheduled_execution_at: run.scheduledAt };
  if (run.error !== undefined) out.description = run.error;
  return out;
}
