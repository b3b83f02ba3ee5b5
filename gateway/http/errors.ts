/**
 * Turns NeedleErrors into HTTP answers in Pinecone's two error shapes. This file (with the
 * rest of gateway/http) is the only place in Needle that knows HTTP status codes; the NATS
 * door (gateway/nats) asks it for the status and client message it puts in its error headers.
 *
 * - Control plane (`/indexes...`): `{"error":{"code":"INVALID_ARGUMENT","message":"..."},"status":400}`.
 * - Data plane (index host): gRPC-gateway status `{"code":3,"message":"...","details":[]}`.
 *
 * The official client reads `error.message`, else `message`, so both shapes surface the text.
 * Needle adds what it knows (field, limit, received) to `details` so tools can act on it.
 */
import { asNeedleError, type ErrorCode, type NeedleError } from "../../storage/errors.ts";

export type Plane = "control" | "data";

/** Seconds a client is told to wait when a retryable error carries no hint of its own. */
const retryAfterDefaultSeconds = 1;

interface StatusInfo {
  status: number;
  /** The upper-case code Pinecone's control plane uses. */
  controlCode: string;
  /** The gRPC status number Pinecone's data plane uses. */
  grpcCode: number;
}

const statusOfCode: Record<ErrorCode, StatusInfo> = {
  INVALID_ARGUMENT: { status: 400, controlCode: "INVALID_ARGUMENT", grpcCode: 3 },
  NOT_FOUND: { status: 404, controlCode: "NOT_FOUND", grpcCode: 5 },
  ALREADY_EXISTS: { status: 409, controlCode: "ALREADY_EXISTS", grpcCode: 6 },
  // Pinecone answers a refused delete of a protected index with 403 FORBIDDEN; the data
  // plane's preconditions (e.g. a namespace being deleted) use 412.
  FAILED_PRECONDITION: { status: 412, controlCode: "FAILED_PRECONDITION", grpcCode: 9 },
  PAYLOAD_TOO_LARGE: { status: 413, controlCode: "PAYLOAD_TOO_LARGE", grpcCode: 8 },
  // A body that stopped arriving: 408, logged as 408 (the client's doing, not a server fault).
  REQUEST_TIMEOUT: { status: 408, controlCode: "DEADLINE_EXCEEDED", grpcCode: 4 },
  UNIMPLEMENTED: { status: 501, controlCode: "UNIMPLEMENTED", grpcCode: 12 },
  // 429 is never retried by the official client: the caller backs off on Retry-After.
  OVERLOADED: { status: 429, controlCode: "RESOURCE_EXHAUSTED", grpcCode: 8 },
  // 503 is retried by the client (3 times with backoff): only for conditions a retry cures.
  UNAVAILABLE: { status: 503, controlCode: "UNAVAILABLE", grpcCode: 14 },
  // A full volume: 507 Insufficient Storage (the client retries >= 500), with Retry-After.
  STORAGE_FULL: { status: 507, controlCode: "RESOURCE_EXHAUSTED", grpcCode: 8 },
  // A failing device: the log reopens from its last durable point; a retry may succeed.
  STORAGE_FAILED: { status: 503, controlCode: "UNAVAILABLE", grpcCode: 14 },
  CORRUPTION: { status: 500, controlCode: "DATA_LOSS", grpcCode: 15 },
  IO: { status: 500, controlCode: "INTERNAL", grpcCode: 13 },
  INTERNAL: { status: 500, controlCode: "INTERNAL", grpcCode: 13 },
};

export interface HttpErrorAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** What a client is told instead of a fault's own message, which may name files and errnos. */
const publicReasonOfCode: Partial<Record<ErrorCode, string>> = {
  STORAGE_FULL: "the data volume is full: writes are refused until space is freed (reads and deletes go on)",
  STORAGE_FAILED: "the data volume failed an operation: this write was not applied, and a retry may succeed",
  IO: "a storage operation failed",
  CORRUPTION: "stored data failed an integrity check",
  INTERNAL: "internal error",
};

/** Where the request was, for a message that names it without naming files. */
export interface ErrorContext {
  requestId?: string;
  index?: string;
  namespace?: string;
}

/**
 * The message a client sees. Faults, and any error naming a file, are replaced by a reason in
 * words plus the index, namespace and request id: the full error goes to the server's log
 * under the same request id (no file system layout reaches clients).
 */
function clientMessage(error: NeedleError, context: ErrorContext): string {
  if (error.kind !== "fault" && error.file === undefined) return error.message;
  const where = [
    context.index !== undefined ? `index ${context.index}` : undefined,
    context.namespace !== undefined ? `namespace ${context.namespace}` : undefined,
  ].filter((part) => part !== undefined);
  const reason = publicReasonOfCode[error.code] ?? "the request failed";
  const request =
    context.requestId !== undefined ? `; request id ${context.requestId} in the server log` : "";
  return `${where.length > 0 ? `${where.join(", ")}: ` : ""}${reason}${request}`;
}

/** The HTTP answer for any thrown value on the given plane. */
export function httpErrorAnswer(thrown: unknown, plane: Plane, context: ErrorContext = {}): HttpErrorAnswer {
  const error = asNeedleError(thrown);
  const info = statusOfCode[error.code];
  let status = info.status;
  let controlCode = info.controlCode;
  if (plane === "control" && error.code === "FAILED_PRECONDITION") {
    status = 403;
    controlCode = "FORBIDDEN";
  }
  const headers: Record<string, string> = {};
  if (error.kind === "retryable") {
    headers["Retry-After"] = String(
      Math.max(1, Math.ceil(error.retryAfterSeconds ?? retryAfterDefaultSeconds)),
    );
  }
  const details = detailsOf(error);
  const message = clientMessage(error, context);
  const body =
    plane === "control"
      ? { error: { code: controlCode, message, details }, status }
      : { code: info.grpcCode, message, details };
  return { status, body, headers };
}

function detailsOf(error: NeedleError): Record<string, unknown>[] {
  if (error.field === undefined && error.limit === undefined && error.received === undefined) return [];
  const info: Record<string, unknown> = { "@type": "needle.ErrorInfo", reason: error.code };
  if (error.field !== undefined) info.field = error.field;
  if (error.limit !== undefined) info.limit = error.limit;
  if (error.received !== undefined) info.received = error.received;
  return [info];
}
