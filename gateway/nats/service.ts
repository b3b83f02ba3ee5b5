/**
 * Needle's NATS front door (issue 8 decision 7): the micro service `needle` (the `nats`
 * client's services API, so `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS` find it and
 * `nats micro ls` lists it), one endpoint per operation:
 *
 *   needle.api.v1.control.<operation>       endpoint `<operation>`
 *   needle.api.v1.data.*.<operation>        endpoint `data-<operation>` (any index)
 *
 * Each request runs the library call of the same name on the engine this process serves
 * (operations.ts), so validation, limits and errors are those of the library and HTTP.
 * Errors answer with the framework's headers, `Nats-Service-Error-Code` (the status HTTP would
 * give, from gateway/http/errors.ts) and `Nats-Service-Error` (the message), and a body
 * `{error: {code, message, field?, limit?, received?}, status}`; retryable errors add
 * `Retry-After`. Faults are logged with a request id and never show files to the caller.
 * Several processes serving the API join one queue group, so each request is answered once.
 *
 * NATS carries at most the server's `max_payload` (1 MiB by default) in one message: a larger
 * request never reaches Needle (the client refuses to publish it), and a larger answer is
 * refused as PAYLOAD_TOO_LARGE naming the limit, so the caller can ask for less.
 */
import type { NatsConnection, Service, ServiceMsg } from "nats";
import type { Engine } from "../../actors/api.ts";
import { asNeedleError, NeedleError } from "../../storage/errors.ts";
import { httpErrorAnswer, type Plane } from "../http/errors.ts";
import { jsonText, shapedKeepingNegativeZeros } from "../http/json-text.ts";
import { negativeZerosShaped } from "../library/float32.ts";
import { Needle } from "../library/database.ts";
import { type BodyEncoding, decodeBody, encodeBody, encodingOf, replyHeaders } from "./codec.ts";
import { type Body, controlHandlers, dataHandlers, type Outcome } from "./operations.ts";
import {
  apiServiceName,
  controlOperations,
  controlSubject,
  dataOperations,
  dataSubject,
  indexOfDataSubject,
} from "./subjects.ts";

export const lsnHeader = "Needle-Lsn";
export const apiQueueGroup = "needle-api";

export interface ApiServiceOptions {
  /** Reported in `$SRV.INFO`. */
  version?: string;
  /** Called for every request that failed with a fault (status >= 500), with its request id. */
  log?: (entry: ApiLogEntry) => void;
}

export interface ApiLogEntry {
  requestId: string;
  subject: string;
  status: number;
  error: string;
}

export interface ApiService {
  readonly service: Service;
  stop(): Promise<void>;
}

/** Starts the `needle` service on `connection`, answering with `engine` (not closed by stop). */
export async function startApiService(
  connection: NatsConnection,
  engine: Engine,
  options: ApiServiceOptions = {},
): Promise<ApiService> {
  const db = new Needle(engine);
  const failures = new Map<string, { errors: number; lastError?: string }>();
  const service = await connection.services.add({
    name: apiServiceName,
    version: options.version ?? "0.1.0",
    description: "Needle vector database: Pinecone's operations over NATS (JSON or msgpack bodies)",
    queue: apiQueueGroup,
    statsHandler: async (endpoint) => failures.get(endpoint.subject) ?? { errors: 0 },
  });
  let requests = 0;
  const answer = (msg: ServiceMsg, plane: Plane, endpoint: string, run: (body: Body) => Promise<Outcome>) => {
    requests++;
    const requestId = `${service.info().id}-${requests}`;
    void respond(msg, plane, run, requestId, connection, (status, error) => {
      const entry = failures.get(endpoint) ?? { errors: 0 };
      entry.errors++;
      entry.lastError = `${status} ${error.message}`;
      failures.set(endpoint, entry);
      if (status >= 500) options.log?.({ requestId, subject: msg.subject, status, error: String(error) });
    });
  };

  for (const operation of controlOperations) {
    service.addEndpoint(operation, {
      subject: controlSubject(operation),
      metadata: { plane: "control" },
      handler: (error, msg) => {
        if (error !== null) return;
        answer(msg, "control", controlSubject(operation), (body) => controlHandlers[operation](db, body));
      },
    });
  }
  for (const operation of dataOperations) {
    service.addEndpoint(`data-${operation}`, {
      subject: dataSubject("*", operation),
      metadata: { plane: "data", operation },
      handler: (error, msg) => {
        if (error !== null) return;
        answer(msg, "data", dataSubject("*", operation), (body) =>
          dataHandlers[operation](db.index(indexOfDataSubject(msg.subject)), body),
        );
      },
    });
  }
  return {
    service,
    stop: async () => {
      await service.stop();
    },
  };
}

async function respond(
  msg: ServiceMsg,
  plane: Plane,
  run: (body: Body) => Promise<Outcome>,
  requestId: string,
  connection: NatsConnection,
  failed: (status: number, error: NeedleError) => void,
): Promise<void> {
  const encoding = encodingOf(msg.headers);
  let namespace: string | undefined;
  try {
    const body = decodeBody(msg.data, encoding);
    if (typeof body.namespace === "string") namespace = body.namespace;
    const before = negativeZerosShaped();
    const outcome = await run(body);
    // Shaping another request's -0 meanwhile only sends this one down the slower exact path.
    const value =
      negativeZerosShaped() === before
        ? outcome.value
        : shapedKeepingNegativeZeros(() => outcome.value as object);
    const data = encodeBody(value, encoding, jsonText);
    const limit = connection.info?.max_payload ?? Number.POSITIVE_INFINITY;
    if (data.length > limit) {
      throw new NeedleError(
        "PAYLOAD_TOO_LARGE",
        `the answer is ${data.length} bytes, over the NATS server's max_payload of ${limit} bytes: ask for fewer records (topK, limit, ids) or raise max_payload`,
        { field: "answer", limit, received: data.length },
      );
    }
    const extra: Record<string, string> = {};
    if (outcome.lsn !== undefined) extra[lsnHeader] = String(outcome.lsn);
    msg.respond(data, { headers: replyHeaders(encoding, extra) });
  } catch (thrown) {
    const error = asNeedleError(thrown);
    const index = plane === "data" ? indexOfDataSubject(msg.subject) : undefined;
    const http = httpErrorAnswer(error, plane, { requestId, index, namespace });
    const message = messageOf(http.body);
    failed(http.status, error);
    const body: Record<string, unknown> = { code: error.code, message };
    if (error.field !== undefined) body.field = error.field;
    if (error.limit !== undefined) body.limit = error.limit;
    if (error.received !== undefined) body.received = error.received;
    msg.respondError(
      http.status,
      message.replace(/[\r\n]+/g, " "),
      encodeBody({ error: body, status: http.status }, encoding, JSON.stringify),
      { headers: replyHeaders(encoding, http.headers) },
    );
  }
}

/** The client-facing message of an HTTP error body in either plane's shape. */
function messageOf(body: Record<string, unknown>): string {
  const nested = body.error as { message?: string } | undefined;
  return nested?.message ?? (body.message as string);
}

export type { BodyEncoding };
