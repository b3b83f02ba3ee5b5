/**
 * Needle's typed errors. Every error that crosses a module boundary is a NeedleError with a
 * kind (whose fault, and whether a retry helps) and a stable code. Only gateway/ turns kinds
 * and codes into HTTP status codes.
 *
 * Kinds:
 *   - "user":      the request is wrong (bad field, limit exceeded, unknown index). Do not retry.
 *   - "retryable": a transient condition (full mailbox, actor restarting). Retry with backoff.
 *   - "fault":     Needle is broken here (corrupt slab, I/O failure). Report; do not retry blindly.
 */

export type ErrorKind = "user" | "retryable" | "fault";

export type ErrorCode =
  | "INVALID_ARGUMENT" // a field breaks a rule or limit
  | "NOT_FOUND" // index or namespace that does not exist
  | "ALREADY_EXISTS" // create of something that exists
  | "FAILED_PRECONDITION" // e.g. deletion protection
  | "PAYLOAD_TOO_LARGE" // request body over its byte limit
  | "REQUEST_TIMEOUT" // the client stopped sending its request
  | "UNIMPLEMENTED" // a Pinecone feature Needle does not serve yet
  | "OVERLOADED" // a bounded mailbox is full
  | "UNAVAILABLE" // transient: actor restarting, shutting down, LSN wait timed out
  | "STORAGE_FULL" // the data volume is full (ENOSPC, EDQUOT) or below the free-space watermark
  | "STORAGE_FAILED" // the device failed an operation (EIO on write or fsync, read-only volume)
  | "CORRUPTION" // a checksum or bound check failed on stored bytes
  | "IO" // the operating system refused an I/O operation for another reason
  | "INTERNAL"; // an invariant broke: a bug

const kindOfCode: Record<ErrorCode, ErrorKind> = {
  INVALID_ARGUMENT: "user",
  NOT_FOUND: "user",
  ALREADY_EXISTS: "user",
  FAILED_PRECONDITION: "user",
  PAYLOAD_TOO_LARGE: "user",
  REQUEST_TIMEOUT: "user",
  UNIMPLEMENTED: "user",
  OVERLOADED: "retryable",
  UNAVAILABLE: "retryable",
  STORAGE_FULL: "retryable",
  STORAGE_FAILED: "retryable",
  CORRUPTION: "fault",
  IO: "fault",
  INTERNAL: "fault",
};

export interface NeedleErrorOptions {
  /** The request field at fault, as a dotted path (`vectors[3].values`). */
  field?: string;
  /** The limit that was exceeded, in words or as a number (`1000`, `1-512 ASCII characters`). */
  limit?: string | number;
  /** What was received, summarised (`1001 vectors`, `"foo"`). */
  received?: string | number;
  /** The file or object at fault (corruption, I/O). */
  file?: string;
  /** Seconds a client should wait before retrying (retryable errors). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class NeedleError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly field?: string;
  readonly limit?: string | number;
  readonly received?: string | number;
  readonly file?: string;
  readonly retryAfterSeconds?: number;

  /** True when the same request may succeed later (after the Retry-After hint). */
  get retryable(): boolean {
    return this.kind === "retryable";
  }

  constructor(code: ErrorCode, message: string, options: NeedleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NeedleError";
    this.code = code;
    this.kind = kindOfCode[code];
    this.field = options.field;
    this.limit = options.limit;
    this.received = options.received;
    this.file = options.file;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** A plain object that survives msgpack/JSON, for transports. */
  toWire(): WireError {
    return {
      code: this.code,
      message: this.message,
      field: this.field,
      limit: this.limit,
      received: this.received,
      file: this.file,
      retryAfterSeconds: this.retryAfterSeconds,
    };
  }

  static fromWire(wire: WireError): NeedleError {
    return new NeedleError(wire.code, wire.message, wire);
  }
}

export interface WireError {
  code: ErrorCode;
  message: string;
  field?: string;
  limit?: string | number;
  received?: string | number;
  file?: string;
  retryAfterSeconds?: number;
}

/** A bad-input error naming the field, the limit and what was received. */
export function invalidArgument(
  field: string,
  message: string,
  limit?: string | number,
  received?: string | number,
): NeedleError {
  return new NeedleError("INVALID_ARGUMENT", message, { field, limit, received });
}

export function corruption(file: string, message: string, cause?: unknown): NeedleError {
  return new NeedleError("CORRUPTION", `${file}: ${message}`, { file, cause });
}

/**
 * Wraps anything thrown into a NeedleError, keeping NeedleErrors as they are. An allocation
 * the runtime could not serve (a RangeError about memory) is UNAVAILABLE, retryable: the
 * request is refused, the process goes on.
 */
export function asNeedleError(error: unknown): NeedleError {
  if (error instanceof NeedleError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RangeError && /memory|allocat/i.test(message)) {
    return new NeedleError("UNAVAILABLE", `out of memory: ${message}`, {
      retryAfterSeconds: memoryRetryAfterSeconds,
      cause: error,
    });
  }
  return new NeedleError("INTERNAL", message, { cause: error });
}

/** What a client refused for memory is told to wait. */
const memoryRetryAfterSeconds = 2;

/** Throws an INTERNAL error when an invariant does not hold. One condition per call. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new NeedleError("INTERNAL", `assertion failed: ${message}`);
}
