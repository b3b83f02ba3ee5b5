/**
 * gateway/schemas: the one place where request input is validated, shared by every front door
 * (embedded library, HTTP, NATS). Limits live in limits.ts; every failure is a NeedleError
 * INVALID_ARGUMENT naming the field, the limit and what was received.
 */
export {
  fail,
  fieldPath,
  formatMessage,
  needleErrorFromZod,
  type ParseOptions,
  parseInput,
  summarise,
} from "./errors.ts";
export {
  checkDeletionProtection,
  configureIndex,
  createIndexLegacy,
  createIndexNative,
  defaultDeployment,
  deletionProtection,
  indexName,
  metric,
  parseConfigureIndex,
  parseCreateIndex,
  parseIndexName,
  tags,
  vectorType,
} from "./indexes.ts";
export * as limits from "./limits.ts";
export {
  deleteRequest,
  fetchByMetadataRequest,
  fetchRequest,
  listNamespacesRequest,
  listRequest,
  namespaceName,
  parseDelete,
  parseFetch,
  parseFetchByMetadata,
  parseList,
  parseListNamespaces,
  parseNamespace,
  parseQuery,
  parseStatsFilter,
  parseUpdate,
  parseUpsert,
  queryRequest,
  updateRequest,
  upsertRequest,
} from "./requests.ts";
export {
  checkQueryForIndex,
  checkRecordsForIndex,
  checkUpdateForIndex,
  denseValues,
  type IndexShape,
  isAscii,
  metadata,
  record,
  recordId,
  sparseValues,
  utf8ByteLength,
} from "./vectors.ts";
export { type NamespaceSchema, namespaceSchema, parseNamespaceSchema } from "./namespace-schema.ts";
