/**
 * Backup schedules (Pinecone's `pc.backupSchedules.*`), run by the server: each enabled
 * schedule takes a backup of its index once per period (daily, weekly, monthly) and deletes
 * the backups it made once they are older than its retention.
 *
 * Each schedule is a JSON file `<data>/backup-schedules/<id>.json` (written durably on every
 * change, so a restart keeps the schedule, its next run and its history). A timer checks the
 * schedules every `tickMs`; a run missed while the server was down happens at the first tick
 * after it starts, once (not once per missed period), and the next run is a period after it.
 * `tick(now)` is public so tests drive the clock.
 */
import { randomUUID } from "node:crypto";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Engine } from "../../actors/api.ts";
import { NeedleError } from "../../storage/errors.ts";
import { ensureDirectoryDurably, writeFileDurably } from "../../storage/fsync.ts";

export const backupFrequencies = ["daily", "weekly", "monthly"] as const;
export type BackupFrequency = (typeof backupFrequencies)[number];

const periodMs: Record<BackupFrequency, number> = {
  daily: 24 * 3600_000,
  weekly: 7 * 24 * 3600_000,
  monthly: 30 * 24 * 3600_000,
};
const dayMs = 24 * 3600_000;
const idPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ScheduledBackup {
  /** "" when the run failed. */
  backupId: string;
  /** When the run was due. */
  scheduledAt: string;
  /** When it ran (retention counts from here). */
  takenAt: string;
  /** Ready; Failed with the reason (the index was gone, the volume full, ...); Expired once retention deleted it. */
  status: "Ready" | "Failed" | "Expired";
  error?: string;
}

export interface BackupSchedule {
  scheduleId: string;
  name: string;
  index: string;
  frequency: BackupFrequency;
  retentionDays: number;
  enabled: boolean;
  createdAt: string;
  /** ISO time of the next run (null while disabled). */
  nextRunAt: string | null;
  history: ScheduledBackup[];
}

export class BackupScheduler {
  private readonly schedules = new Map<string, BackupSchedule>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking: Promise<void> = Promise.resolve();

  private constructor(
    private readonly engine: Engine,
    private readonly dir: string,
  ) {}

  static async open(engine: Engine, dataDir: string, tickMs = 60_000): Promise<BackupScheduler> {
    const scheduler = new BackupScheduler(engine, join(dataDir, "backup-schedules"));
    await ensureDirectoryDurably(scheduler.dir);
    for (const name of await readdir(scheduler.dir)) {
      if (!name.endsWith(".json")) continue;
      const schedule = JSON.parse(await readFile(join(scheduler.dir, name), "utf8")) as BackupSchedule;
      scheduler.schedules.set(schedule.scheduleId, schedule);
    }
    if (tickMs > 0) {
      scheduler.timer = setInterval(() => void scheduler.tick(Date.now()), tickMs);
      scheduler.timer.unref?.();
    }
    return scheduler;
  }

  async create(
    index: string,
    request: { name: string; frequency: BackupFrequency; retentionDays: number },
    now = Date.now(),
  ): Promise<BackupSchedule> {
    await this.engine.describeIndex(index); // NOT_FOUND for an unknown index
    const schedule: BackupSchedule = {
      scheduleId: randomUUID(),
      name: request.name,
      index,
      frequency: request.frequency,
      retentionDays: request.retentionDays,
      enabled: true,
      createdAt: new Date(now).toISOString(),
      nextRunAt: new Date(now + periodMs[request.frequency]).toISOString(),
      history: [],
    };
    await this.save(schedule);
    return schedule;
  }

  describe(scheduleId: string): BackupSchedule {
    const schedule = idPattern.test(scheduleId) ? this.schedules.get(scheduleId) : undefined;
    if (schedule === undefined)
      throw new NeedleError("NOT_FOUND", `Backup schedule ${scheduleId} not found`, { received: scheduleId });
    return schedule;
  }

  list(index: string): BackupSchedule[] {
    return [...this.schedules.values()]
      .filter((schedule) => schedule.index === index)
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  }

  async update(
    scheduleId: string,
    change: { frequency?: BackupFrequency; retentionDays?: number; enabled?: boolean },
    now = Date.now(),
  ): Promise<BackupSchedule> {
    const schedule = structuredClone(this.describe(scheduleId));
    if (change.frequency !== undefined) schedule.frequency = change.frequency;
    if (change.retentionDays !== undefined) schedule.retentionDays = change.retentionDays;
    if (change.enabled !== undefined) schedule.enabled = change.enabled;
    if (!schedule.enabled) schedule.nextRunAt = null;
    else if (schedule.nextRunAt === null || change.frequency !== undefined)
      schedule.nextRunAt = new Date(now + periodMs[schedule.frequency]).toISOString();
    await this.save(schedule);
    return schedule;
  }

  async remove(scheduleId: string): Promise<void> {
    this.describe(scheduleId);
    await rm(join(this.dir, `${scheduleId}.json`), { force: true });
    this.schedules.delete(scheduleId);
  }

  /** Runs what is due at `now` and applies retention; ticks never overlap. */
  tick(now: number): Promise<void> {
    this.ticking = this.ticking.then(() => this.runDue(now)).catch(() => {});
    return this.ticking;
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return this.ticking;
  }

  private async runDue(now: number): Promise<void> {
    for (const current of [...this.schedules.values()]) {
      const schedule = structuredClone(current);
      let changed = await this.expire(schedule, now);
      if (schedule.enabled && schedule.nextRunAt !== null && Date.parse(schedule.nextRunAt) <= now) {
        const scheduledAt = schedule.nextRunAt;
        const at = new Date(now).toISOString();
        try {
          const backup = await this.engine.createBackup(schedule.index, {
            name: `${schedule.name}-${at.replace(/[:.]/g, "-")}`,
            description: `backup schedule ${schedule.name} (${schedule.frequency})`,
          });
          schedule.history.push({ backupId: backup.backupId, scheduledAt, takenAt: at, status: "Ready" });
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          schedule.history.push({ backupId: "", scheduledAt, takenAt: at, status: "Failed", error: reason });
        }
        schedule.nextRunAt = new Date(now + periodMs[schedule.frequency]).toISOString();
        changed = true;
      }
      if (changed && this.schedules.has(schedule.scheduleId)) await this.save(schedule);
    }
  }

  /** Deletes this schedule's backups older than its retention; true when any went. */
  private async expire(schedule: BackupSchedule, now: number): Promise<boolean> {
    const cutoff = now - schedule.retentionDays * dayMs;
    let changed = false;
    for (const run of schedule.history) {
      if (run.status !== "Ready" || Date.parse(run.takenAt) > cutoff) continue;
      await this.engine.deleteBackup(run.backupId).catch((error: unknown) => {
        if ((error as { code?: string }).code !== "NOT_FOUND") throw error; // deleted by hand: fine
      });
      run.status = "Expired";
      changed = true;
    }
    return changed;
  }

  private async save(schedule: BackupSchedule): Promise<void> {
    await writeFileDurably(
      join(this.dir, `${schedule.scheduleId}.json`),
      new TextEncoder().encode(JSON.stringify(schedule)),
    );
    this.schedules.set(schedule.scheduleId, schedule);
  }
}
