/**
 * A TypeScript client for Needle's NATS API: the library's method names and option objects,
 * each a request to `needle.api.v1...` (subjects.ts). Errors come back as the NeedleError the
 * server raised (code, field, limit, received), so callers handle them as with the library.
 * Answers carry the `Needle-Lsn` reply header as a non-enumerable `lsn`, as library reads do;
 * bigints in options (`minLsn`) are sent as decimal strings.
 *
 *     const nc = await connect({ servers: "nats://127.0.0.1:4222" });
 *     const needle = new NeedleNatsClient(nc);
 *     const { matches } = await needle.index("docs").query({ vector: [0.1, 0.2, 0.3], topK: 3 });
 */
import type { NatsConnection } from "nats";
import { NeedleError, type ErrorCode } from "../../storage/errors.ts";
import { withLsn } from "../library/shapes.ts";
import type {
  CreateIndexOptions,
  DeleteAllOptions,
  DeleteManyOptions,
  DeleteOneOptions,
  DescribeIndexStatsOptions,
  FetchByMetadataOptions,
  FetchByMetadataResponse,
  FetchOptions,
  FetchResponse,
  IndexList,
  IndexModel,
  IndexStatsDescription,
  ListNamespacesOptions,
  ListNamespacesResponse,
  ListOptions,
  ListResponse,
  NamespaceDescription,
  QueryOptions,
  QueryResponse,
  UpdateOptions,
  UpsertOptions,
} from "../library/types.ts";
import { type BodyEncoding, decodeBody, encodeBody, jsonContentType, msgpackContentType } from "./codec.ts";
import { lsnHeader } from "./service.ts";
import { type ControlOperation, controlSubject, type DataOperation, dataSubject } from "./subjects.ts";
import { headers as natsHeaders } from "nats";

export interface NatsClientOptions {
  /** Body encoding of requests and answers (default JSON). */
  encoding?: BodyEncoding;
  /** How long one request waits for its answer (default 30 s). */
  timeoutMs?: number;
}

const timeoutMsDefault = 30_000;

export class NeedleNatsClient {
  readonly #connection: NatsConnection;
  readonly #encoding: BodyEncoding;
  readonly #timeoutMs: number;

  constructor(connection: NatsConnection, options: NatsClientOptions = {}) {
    this.#connection = connection;
    this.#encoding = options.encoding ?? "json";
    this.#timeoutMs = options.timeoutMs ?? timeoutMsDefault;
  }

  createIndex(options: CreateIndexOptions): Promise<IndexModel> {
    return this.control("createIndex", options) as Promise<IndexModel>;
  }
  describeIndex(name: string): Promise<IndexModel> {
    return this.control("describeIndex", { name }) as Promise<IndexModel>;
  }
  listIndexes(): Promise<IndexList> {
    return this.control("listIndexes", {}) as Promise<IndexList>;
  }
  configureIndex(name: string, options: object): Promise<IndexModel> {
    return this.control("configureIndex", { ...options, name }) as Promise<IndexModel>;
  }
  async deleteIndex(name: string): Promise<void> {
    await this.control("deleteIndex", { name });
  }

  index(name: string): NeedleNatsIndex {
    return new NeedleNatsIndex((operation, body) => this.request(dataSubject(name, operation), body));
  }

  control(operation: ControlOperation, body: object): Promise<unknown> {
    return this.request(controlSubject(operation), body);
  }

  /** One request: the decoded answer, or the server's error thrown as a NeedleError. */
  async request(subject: string, body: object): Promise<unknown> {
    const headers = natsHeaders();
    headers.set("Content-Type", this.#encoding === "msgpack" ? msgpackContentType : jsonContentType);
    const data = encodeBody(body, this.#encoding, (value) =>
      JSON.stringify(value, (_key, field) => (typeof field === "bigint" ? String(field) : field)),
    );
    const reply = await this.#connection.request(subject, data, { timeout: this.#timeoutMs, headers });
    const answer = decodeBody(reply.data, this.#encoding);
    const status = reply.headers?.get("Nats-Service-Error-Code");
    if (status !== undefined && status !== "") {
      const error = (answer.error ?? {}) as Record<string, unknown>;
      const retryAfter = reply.headers?.get("Retry-After");
      throw new NeedleError(
        (error.code ?? "INTERNAL") as ErrorCode,
        String(error.message ?? reply.headers?.get("Nats-Service-Error")),
        {
          field: error.field as string | undefined,
          limit: error.limit as string | number | undefined,
          received: error.received as string | number | undefined,
          retryAfterSeconds: retryAfter ? Number(retryAfter) : undefined,
        },
      );
    }
    const lsn = reply.headers?.get(lsnHeader);
    return lsn ? withLsn(answer, BigInt(lsn)) : answer;
  }
}

type Call = (operation: DataOperation, body: object) => Promise<unknown>;

/** One index's data operations; `namespace` goes in each call's options, as in the library. */
export class NeedleNatsIndex {
  constructor(private readonly call: Call) {}

  upsert(options: UpsertOptions): Promise<{ upsertedCount: number }> {
    return this.call("upsert", options) as Promise<{ upsertedCount: number }>;
  }
  update(options: UpdateOptions): Promise<{ matchedRecords?: number }> {
    return this.call("update", options) as Promise<{ matchedRecords?: number }>;
  }
  async deleteOne(options: DeleteOneOptions): Promise<void> {
    await this.call("deleteOne", options);
  }
  async deleteMany(options: DeleteManyOptions): Promise<void> {
    await this.call("deleteMany", options);
  }
  async deleteAll(options: DeleteAllOptions = {}): Promise<void> {
    await this.call("deleteAll", options);
  }
  query(options: QueryOptions): Promise<QueryResponse> {
    return this.call("query", options) as Promise<QueryResponse>;
  }
  fetch(options: FetchOptions): Promise<FetchResponse> {
    return this.call("fetch", options) as Promise<FetchResponse>;
  }
  fetchByMetadata(options: FetchByMetadataOptions): Promise<FetchByMetadataResponse> {
    return this.call("fetchByMetadata", options) as Promise<FetchByMetadataResponse>;
  }
  listPaginated(options: ListOptions = {}): Promise<ListResponse> {
    return this.call("listPaginated", options) as Promise<ListResponse>;
  }
  describeIndexStats(options?: DescribeIndexStatsOptions): Promise<IndexStatsDescription> {
    return this.call("describeIndexStats", options ?? {}) as Promise<IndexStatsDescription>;
  }
  listNamespaces(options: ListNamespacesOptions = {}): Promise<ListNamespacesResponse> {
    return this.call("listNamespaces", options) as Promise<ListNamespacesResponse>;
  }
  describeNamespace(namespace: string): Promise<NamespaceDescription> {
    return this.call("describeNamespace", { namespace }) as Promise<NamespaceDescription>;
  }
  createNamespace(options: { name: string; schema?: object }): Promise<NamespaceDescription> {
    return this.call("createNamespace", options) as Promise<NamespaceDescription>;
  }
  async deleteNamespace(namespace: string): Promise<void> {
    await this.call("deleteNamespace", { namespace });
  }
}
