/**
 * What each API operation does with its body: the library call of the same name, with the
 * body as the call's options (gateway/library validates it with the shared zod schemas, so
 * the NATS door accepts and refuses exactly what the library and HTTP do).
 *
 * Bodies: control operations that take an index name take it as `name`
 * (`{name}` for describeIndex and deleteIndex, `{name, ...options}` for configureIndex);
 * data operations take the library's options with `namespace` in the body ("" or no
 * `namespace` is the default namespace). `minLsn` may be a decimal string or an integer
 * (JSON has no bigint). Answers are the library's result shapes; writes answer
 * `{upsertedCount}`, `{matchedRecords}` or `{}`. The LSN a read reflects or a write made
 * durable travels in the `Needle-Lsn` reply header.
 */
import { NeedleError } from "../../storage/errors.ts";
import type { Needle } from "../library/database.ts";
import type { NeedleIndex } from "../library/index-handle.ts";
import type { ControlOperation, DataOperation } from "./subjects.ts";

export type Body = Record<string, unknown>;

export interface Outcome {
  value: unknown;
  lsn?: bigint;
}

type ControlHandler = (db: Needle, body: Body) => Promise<Outcome>;
type DataHandler = (index: NeedleIndex, body: Body) => Promise<Outcome>;

// The library takes these option objects as they are; its schemas check every field.
// biome-ignore lint/suspicious/noExplicitAny: the body is validated by the library's schemas
type Options = any;

export const controlHandlers: Record<ControlOperation, ControlHandler> = {
  createIndex: async (db, body) => ({ value: (await db.createIndex(body as Options)) ?? {} }),
  describeIndex: async (db, body) => ({ value: await db.describeIndex(body.name as string) }),
  listIndexes: async (db) => ({ value: await db.listIndexes() }),
  configureIndex: async (db, body) => ({ value: await db.configureIndex(body as Options) }),
  deleteIndex: async (db, body) => {
    await db.deleteIndex(body.name as string);
    return { value: {} };
  },
};

export const dataHandlers: Record<DataOperation, DataHandler> = {
  upsert: (index, body) =>
    write(
      index,
      () => index.upsert(body as Options),
      (r) => ({ upsertedCount: r.upsertedCount }),
    ),
  update: (index, body) =>
    write(
      index,
      () => index.update(body as Options),
      (r) => ({ matchedRecords: r.matchedRecords }),
    ),
  deleteOne: (index, body) =>
    write(
      index,
      () => index.deleteOne(body as Options),
      () => ({}),
    ),
  deleteMany: (index, body) =>
    write(
      index,
      () => index.deleteMany(body as Options),
      () => ({}),
    ),
  deleteAll: (index, body) =>
    write(
      index,
      () => index.deleteAll(body as Options),
      () => ({}),
    ),
  deleteNamespace: (index, body) =>
    write(
      index,
      () => index.deleteNamespace(namespaceOf(body)),
      () => ({}),
    ),
  query: (index, body) => read(index.query(withFreshness(body))),
  fetch: (index, body) => read(index.fetch(withFreshness(body))),
  fetchByMetadata: (index, body) => read(index.fetchByMetadata(withFreshness(body))),
  listPaginated: (index, body) => read(index.listPaginated(withFreshness(body))),
  describeIndexStats: (index, body) => read(index.describeIndexStats(body as Options)),
  listNamespaces: (index, body) => read(index.listNamespaces(body as Options)),
  describeNamespace: (index, body) => read(index.describeNamespace(namespaceOf(body))),
  createNamespace: (index, body) =>
    read(index.createNamespace({ ...body, name: body.name ?? body.namespace } as Options)),
};

async function write(
  index: NeedleIndex,
  call: () => Promise<void>,
  shape: (receipt: { upsertedCount?: number; matchedRecords?: number }) => object,
): Promise<Outcome> {
  await call();
  const receipt = index.lastWrite;
  return { value: shape(receipt ?? {}), lsn: receipt?.lsn };
}

async function read(result: Promise<object>): Promise<Outcome> {
  const value = await result;
  const lsn = (value as { lsn?: unknown }).lsn;
  return { value, lsn: typeof lsn === "bigint" ? lsn : undefined };
}

/** `namespace` of a body for the calls that take it as an argument; absent means "". */
function namespaceOf(body: Body): string {
  return (body.namespace ?? "") as string;
}

/** The body with `minLsn` as the library's bigint when given as a decimal string or integer. */
function withFreshness(body: Body): Options {
  const minLsn = body.minLsn;
  if (minLsn === undefined || typeof minLsn === "bigint") return body;
  const valid =
    (typeof minLsn === "string" && /^\d{1,20}$/.test(minLsn)) ||
    (typeof minLsn === "number" && Number.isSafeInteger(minLsn) && minLsn >= 0);
  if (!valid) {
    throw new NeedleError("INVALID_ARGUMENT", "minLsn: must be a non-negative integer or a decimal string", {
      field: "minLsn",
      limit: "a non-negative integer",
      received: typeof minLsn === "string" ? JSON.stringify(minLsn.slice(0, 60)) : String(minLsn),
    });
  }
  return { ...body, minLsn: BigInt(minLsn as string | number) };
}
