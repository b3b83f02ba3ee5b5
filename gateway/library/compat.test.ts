/**
 * The embedded library must look like the official client 9.0.0. The type-level checks below
 * fail `tsc --noEmit` when a method name or a result key drifts; the runtime tests compare the
 * real client prototypes with ours, so a client upgrade that adds a method shows up here.
 */
import { describe, expect, test } from "bun:test";
import type * as Client from "@pinecone-database/pinecone";
import { Index as ClientIndex, Pinecone as ClientPinecone } from "@pinecone-database/pinecone";
import type { Needle } from "./database.ts";
import { NeedleIndex } from "./index-handle.ts";
import type * as Ours from "./types.ts";

// --- type-level machinery --------------------------------------------------------------

type MethodNames<T> = {
  [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never;
}[keyof T];
/** Public methods of the client's Index (underscored members are its internals). */
type ClientIndexMethods = Exclude<MethodNames<ClientIndex>, `_${string}`>;
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
type Result<T, K extends keyof T> = T[K] extends (...args: never[]) => Promise<infer R> ? R : never;

// Every public method of the client's Index exists on ours (unserved ones throw UNIMPLEMENTED).
type MissingIndexMethods = Exclude<ClientIndexMethods, keyof NeedleIndex>;
export type IndexMethodsPresent = Assert<Equal<MissingIndexMethods, never>>;

// The control-plane subset of the Pinecone class that Needle serves.
type ServedControlMethods =
  | "createIndex"
  | "describeIndex"
  | "listIndexes"
  | "configureIndex"
  | "deleteIndex"
  | "index"
  | "Index"
  | "indexes";
export type ControlMethodsAreClientMethods = Assert<
  Equal<Exclude<ServedControlMethods, keyof ClientPinecone>, never>
>;
export type ControlMethodsPresent = Assert<Equal<Exclude<ServedControlMethods, keyof Needle>, never>>;
export type IndexesMethodsPresent = Assert<
  Equal<Exclude<"list" | "create" | "describe" | "delete" | "configure", keyof Needle["indexes"]>, never>
>;

// Results: same keys as the client's, and assignable to the client's types.
type SameKeys<A, B> = Equal<keyof A, keyof B>;
type Fits<A, B> = [A] extends [B] ? true : false;

type OurQuery = Result<NeedleIndex, "query">;
export type QueryKeys = Assert<SameKeys<OurQuery, Client.QueryResponse>>;
export type QueryFits = Assert<Fits<OurQuery, Client.QueryResponse>>;
export type MatchKeys = Assert<SameKeys<OurQuery["matches"][number], Client.ScoredPineconeRecord>>;

type OurFetch = Result<NeedleIndex, "fetch">;
export type FetchKeys = Assert<SameKeys<OurFetch, Client.FetchResponse>>;
export type FetchFits = Assert<Fits<OurFetch, Client.FetchResponse>>;

type OurFetchByMetadata = Result<NeedleIndex, "fetchByMetadata">;
export type FetchByMetadataKeys = Assert<SameKeys<OurFetchByMetadata, Client.FetchByMetadataResponse>>;
export type FetchByMetadataFits = Assert<Fits<OurFetchByMetadata, Client.FetchByMetadataResponse>>;

type OurList = Result<NeedleIndex, "listPaginated">;
export type ListKeys = Assert<SameKeys<OurList, Client.ListResponse>>;
export type ListFits = Assert<Fits<OurList, Client.ListResponse>>;

type OurStats = Result<NeedleIndex, "describeIndexStats">;
export type StatsKeys = Assert<SameKeys<OurStats, Client.IndexStatsDescription>>;
export type StatsFits = Assert<Fits<OurStats, Client.IndexStatsDescription>>;

type OurNamespaces = Result<NeedleIndex, "listNamespaces">;
export type NamespacesKeys = Assert<SameKeys<OurNamespaces, Client.ListNamespacesResponse>>;
export type NamespacesFits = Assert<Fits<OurNamespaces, Client.ListNamespacesResponse>>;
// Ours is a subset of the client's NamespaceDescription (no schema/indexedFields/sizeBytes).
export type NamespaceFits = Assert<
  Fits<Result<NeedleIndex, "describeNamespace">, Client.NamespaceDescription>
>;

// Writes resolve to exactly what the client's resolve to (nothing).
type WriteMethods = "upsert" | "update" | "deleteOne" | "deleteMany" | "deleteAll" | "deleteNamespace";
export type WritesResolveLikeClient = Assert<
  Equal<{ [K in WriteMethods]: Result<NeedleIndex, K> }, { [K in WriteMethods]: Result<ClientIndex, K> }>
>;

type OurModel = Result<Needle, "describeIndex">;
export type ModelKeys = Assert<Equal<Exclude<keyof OurModel, keyof Client.IndexModel>, never>>;
export type ModelFits = Assert<Fits<OurModel, Client.IndexModel>>;
export type IndexListFits = Assert<Fits<Result<Needle, "listIndexes">, Client.IndexList>>;

// Options: what compiles against the client compiles against us.
export type UpsertOptionsAccepted = Assert<Fits<Client.UpsertOptions, Ours.UpsertOptions>>;
export type QueryOptionsAccepted = Assert<Fits<Client.QueryOptions, Ours.QueryOptions>>;
export type FetchOptionsAccepted = Assert<Fits<Client.FetchOptions, Ours.FetchOptions>>;
export type FetchByMetadataOptionsAccepted = Assert<
  Fits<Client.FetchByMetadataOptions, Ours.FetchByMetadataOptions>
>;
export type UpdateOptionsAccepted = Assert<Fits<Client.UpdateOptions, Ours.UpdateOptions>>;
export type DeleteOneOptionsAccepted = Assert<Fits<Client.DeleteOneOptions, Ours.DeleteOneOptions>>;
export type DeleteManyOptionsAccepted = Assert<Fits<Client.DeleteManyOptions, Ours.DeleteManyOptions>>;
export type DeleteAllOptionsAccepted = Assert<Fits<Client.DeleteAllOptions, Ours.DeleteAllOptions>>;
export type ListOptionsAccepted = Assert<Fits<Client.ListOptions, Ours.ListOptions>>;
export type StatsOptionsAccepted = Assert<
  Fits<Client.DescribeIndexStatsOptions, Ours.DescribeIndexStatsOptions>
>;
export type ListNamespacesOptionsAccepted = Assert<
  Fits<Client.ListNamespacesOptions, Ours.ListNamespacesOptions>
>;
export type LegacyCreateAccepted = Assert<
  Fits<
    Client.LegacyCreateIndexOptions & { spec: { serverless: Client.CreateIndexServerlessSpec } },
    Ours.CreateIndexOptions
  >
>;
export type ConfigureAccepted = Assert<
  Fits<Pick<Client.ConfigureIndexOptions, "name" | "deletionProtection">, Ours.ConfigureIndexOptions>
>;
export type IndexOptionsAccepted = Assert<Fits<Client.IndexOptions, Ours.IndexOptions>>;

// --- runtime checks against the real client ----------------------------------------------

function publicMethods(prototype: object): string[] {
  return Object.getOwnPropertyNames(prototype).filter(
    (name) =>
      name !== "constructor" &&
      !name.startsWith("_") &&
      typeof Object.getOwnPropertyDescriptor(prototype, name)?.value === "function",
  );
}

describe("the library mirrors the official client 9.0.0", () => {
  test("every public method of the client's Index exists on NeedleIndex", () => {
    const clientMethods = publicMethods(ClientIndex.prototype);
    expect(clientMethods.length).toBeGreaterThan(20);
    const ours = new Set(publicMethods(NeedleIndex.prototype));
    expect(clientMethods.filter((name) => !ours.has(name))).toEqual([]);
  });

  test("the served control-plane methods exist on the client's Pinecone class", () => {
    const client = new Set(publicMethods(ClientPinecone.prototype));
    for (const name of [
      "createIndex",
      "describeIndex",
      "listIndexes",
      "configureIndex",
      "deleteIndex",
      "index",
      "Index",
    ]) {
      expect(client.has(name)).toBe(true);
    }
  });
});
