/**
 * Turns NeedleErrors into HTTP answers in Pinecone's two error shapes. This file (with the
 * rest of gateway/http) is the only place in Needle that knows HTTP status codes.
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
  UNIMPLEMENTED: { status: 501, controlCode: "UNIMPLEMENTED", grpcCode: 12 },
  // 429 is never retried by the official client: the caller backs off on Retry-After.
  OVERLOADED: { status: 429, controlCode: "RESOURCE_EXHAUSTED", grpcCode: 8 },
  // 503 is retried by the client (3 times with backoff): only for conditions a retry cures.
  UNAVAILABLE: { status: 503, controlCode: "UNAVAILABLE", grpcCode: 14 },
  CORRUPTION: { status: 500, controlCode: "DATA_LOSS", grpcCode: 15 },
  IO: { status: 500, controlCode: "INTERNAL", grpcCode: 13 },
  INTERNAL: { status: 500, controlCode: "INTERNAL", grpcCode: 13 },
};

export interface HttpErrorAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The HTTP answer for any thrown value on the given plane. */
export function httpErrorAnswer(thrown: unknown, plane: Plane): HttpErrorAnswer {
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
  const body =
    plane === "control"
      ? { error: { code: controlCode, message: error.message, details }, status }
      : { code: info.grpcCode, message: error.message, details };
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
