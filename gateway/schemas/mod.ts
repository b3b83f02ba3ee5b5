/**
 * gateway/schemas: the one place where request input is validated, shared by every front door
 * (embedded library, HTTP, NATS). Limits live in limits.ts; every failure is a NeedleError
 * INVALID_ARGUMENT naming the field, the limit and what was received.
 *
 * The surface is what the front doors call: parse functions, index checks, `fail` for a front
 * door's own wording, and the limits. The zod schemas inside stay internal.
 */
export { fail, type ParseOptions, parseInput } from "./errors.ts";
export {
  parseCreateBackup,
  parseCreateBackupSchedule,
  parseCreateIndexFromBackup,
  listPage,
  parseUpdateBackupSchedule,
} from "./backups.ts";
export { parseStartImport } from "./imports.ts";
export { checkDeletionProtection, parseConfigureIndex, parseCreateIndex, parseIndexName } from "./indexes.ts";
export * as limits from "./limits.ts";
export { type NamespaceSchema, parseNamespaceSchema } from "./namespace-schema.ts";
export {
  parseDelete,
  parseFetch,
  parseFetchByMetadata,
  parseList,
  parseListNamespaces,
  parseNamespace,
  parseQuery,
  parseRecord,
  parseStatsFilter,
  parseUpdate,
  parseUpsert,
} from "./requests.ts";
export {
  checkQueryForIndex,
  checkRecordsForIndex,
  checkUpdateForIndex,
  type IndexShape,
  recordId,
} from "./vectors.ts";
