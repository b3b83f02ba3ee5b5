/**
 * The subjects of Needle's NATS API (issue 8 decision 7): every operation of the library and
 * the HTTP API as a request to the micro service `needle`.
 *
 *   needle.api.v1.control.<operation>        createIndex, describeIndex, listIndexes, ...
 *   needle.api.v1.data.<index>.<operation>   upsert, query, fetch, ... of one index
 *
 * Index names are lower-case letters, digits and '-' (gateway/schemas), so a name is always
 * one subject token. Only this file spells these subjects.
 */

export const apiSubjectPrefix = "needle.api.v1";
export const apiServiceName = "needle";

export const controlOperations = [
  "createIndex",
  "describeIndex",
  "listIndexes",
  "configureIndex",
  "deleteIndex",
] as const;

export const dataOperations = [
  "upsert",
  "query",
  "fetch",
  "fetchByMetadata",
  "update",
  "deleteOne",
  "deleteMany",
  "deleteAll",
  "listPaginated",
  "describeIndexStats",
  "listNamespaces",
  "describeNamespace",
  "createNamespace",
  "deleteNamespace",
] as const;

export type ControlOperation = (typeof controlOperations)[number];
export type DataOperation = (typeof dataOperations)[number];

export function controlSubject(operation: ControlOperation): string {
  return `${apiSubjectPrefix}.control.${operation}`;
}

/** `index` "*" gives the wildcard subject an endpoint listens on. */
export function dataSubject(index: string, operation: DataOperation): string {
  return `${apiSubjectPrefix}.data.${index}.${operation}`;
}

/** The index token of a data subject (`needle.api.v1.data.<index>.<operation>`). */
export function indexOfDataSubject(subject: string): string {
  const tokens = subject.split(".");
  return tokens[tokens.length - 2] ?? "";
}
