/**
 * Backup requests (issue 9): create a backup, create an index from one, list pages. The
 * wire's snake_case (`deletion_protection`) is accepted as well as camelCase.
 */
import { z } from "zod";
import { type ParseOptions, parseInput } from "./errors.ts";
import { deletionProtection, indexName, tags } from "./indexes.ts";

export const backupNameCharsMax = 256;
export const backupDescriptionCharsMax = 1024;
export const backupListLimitMax = 100;
export const backupListLimitDefault = 10;

const createBackup = z.strictObject({
  name: z.string().min(1).max(backupNameCharsMax).optional(),
  description: z.string().max(backupDescriptionCharsMax).optional(),
});

const createIndexFromBackup = z.strictObject({
  name: indexName,
  tags: tags.optional(),
  deletionProtection: deletionProtection.optional(),
  // Accepted and ignored: Needle indexes have one read capacity model at creation.
  readCapacity: z.unknown().optional(),
});

const listPageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(backupListLimitMax).default(backupListLimitDefault),
  paginationToken: z
    .string()
    .regex(/^\d{1,9}$/, "must be a token from an earlier page")
    .optional(),
});

export function parseCreateBackup(input: unknown, options: ParseOptions = {}) {
  return parseInput(createBackup, input ?? {}, options);
}

export function parseCreateIndexFromBackup(input: unknown, options: ParseOptions = {}) {
  const body = (input ?? {}) as Record<string, unknown>;
  const { deletion_protection, read_capacity, ...rest } = body;
  const renamed: Record<string, unknown> = { ...rest };
  if (deletion_protection !== undefined) renamed.deletionProtection = deletion_protection;
  if (read_capacity !== undefined) renamed.readCapacity = read_capacity;
  return parseInput(createIndexFromBackup, renamed, options);
}

/**
 * One page of `items`: `limit` of them after the offset the token names (tokens are offsets,
 * opaque to clients); `next` is the token of the page after, absent on the last.
 */
export function listPage<T>(
  items: readonly T[],
  input: { limit?: string | number; paginationToken?: string },
): { page: T[]; next?: string } {
  const parsed = parseInput(listPageQuery, input);
  const offset = parsed.paginationToken === undefined ? 0 : Number(parsed.paginationToken);
  const end = offset + parsed.limit;
  return { page: items.slice(offset, end), ...(end < items.length ? { next: String(end) } : {}) };
}

const frequency = z.enum(["daily", "weekly", "monthly"]);
const retention = z.strictObject({ expire_after_days: z.int().min(1).max(3650) });

const createBackupSchedule = z.strictObject({
  name: z.string().min(1).max(backupNameCharsMax),
  schedule: z.strictObject({ type: z.literal("time-based"), frequency }),
  retention,
});

const updateBackupSchedule = z.strictObject({
  frequency: frequency.optional(),
  retention: retention.optional(),
  enabled: z.boolean().optional(),
});

/** Pinecone's create-schedule body (snake_case on the wire). */
export function parseCreateBackupSchedule(input: unknown, options: ParseOptions = {}) {
  const parsed = parseInput(createBackupSchedule, input, options);
  return {
    name: parsed.name,
    frequency: parsed.schedule.frequency,
    retentionDays: parsed.retention.expire_after_days,
  };
}

export function parseUpdateBackupSchedule(input: unknown, options: ParseOptions = {}) {
  const parsed = parseInput(updateBackupSchedule, input, options);
  return {
    frequency: parsed.frequency,
    retentionDays: parsed.retention?.expire_after_days,
    enabled: parsed.enabled,
  };
}
