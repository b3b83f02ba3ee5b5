/**
 * Reads a JSON request body with a byte limit enforced while the body streams in: the
 * Content-Length header is checked first, then every chunk is counted, and the read stops
 * (cancelling the stream) as soon as the running total passes the limit. The body is never
 * buffered beyond `bytesMax` bytes.
 *
 * Parsed JSON is checked for shape hazards the schemas should never see: nesting deeper
 * than `jsonDepthMax` (a hostile filter or array tower) is refused here.
 *
 * A body that stops arriving (no bytes for `bodyIdleMsDefault`) is answered 408 before the
 * gateway's request timeout or the server's idle timeout would cut the connection: the client
 * learns what happened, and the log says 408, not 500.
 */
import { invalidArgument, NeedleError } from "../../storage/errors.ts";

/** Deepest JSON nesting accepted in any request body (a filter nests a few levels). */
const jsonDepthMax = 64;

/** Longest pause between two chunks of a request body. */
export const bodyIdleMsDefault = 10_000;

export async function readJsonBody(
  request: Request,
  bytesMax: number,
  idleMs: number = bodyIdleMsDefault,
): Promise<unknown> {
  const text = await readTextBody(request, bytesMax, idleMs);
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new NeedleError("INVALID_ARGUMENT", `request body is not valid JSON: ${messageOf(error)}`, {
      field: "body",
      limit: "a JSON document",
      received: `${text.length} bytes`,
    });
  }
  checkDepth(parsed);
  return parsed;
}

/** The next chunk, or REQUEST_TIMEOUT when none arrives within `idleMs` (the read is cancelled). */
interface BodyReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(): Promise<void>;
}

async function readWithin(
  reader: BodyReader,
  idleMs: number,
  receivedBytes: number,
): Promise<{ done: boolean; value?: Uint8Array }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Reject before cancelling: a cancel settles the pending read as "done", which must not
      // win the race and pass for the end of the body.
      reject(
        new NeedleError("REQUEST_TIMEOUT", `request body stopped arriving: no bytes for ${idleMs} ms`, {
          field: "body",
          limit: `a chunk at least every ${idleMs} ms`,
          received: `${receivedBytes} bytes, then nothing`,
        }),
      );
      reader.cancel().catch(() => {});
    }, idleMs);
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

async function readTextBody(request: Request, bytesMax: number, idleMs: number): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    const declaredBytes = Number(declared);
    if (Number.isFinite(declaredBytes) && declaredBytes > bytesMax)
      throw tooLarge(bytesMax, `${declared} bytes`);
  }
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let totalBytes = 0;
  for (;;) {
    const { done, value } = await readWithin(reader, idleMs, totalBytes);
    if (done || value === undefined) break;
    totalBytes += value.byteLength;
    if (totalBytes > bytesMax) {
      // Stop reading: the rest of the upload is never pulled into memory.
      reader.cancel().catch(() => {});
      throw tooLarge(bytesMax, `more than ${bytesMax} bytes`);
    }
    chunks.push(value);
  }
  const joined = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(joined);
  } catch {
    throw invalidArgument("body", "request body is not valid UTF-8", "UTF-8 JSON", `${totalBytes} bytes`);
  }
}

function tooLarge(bytesMax: number, received: string): NeedleError {
  return new NeedleError(
    "PAYLOAD_TOO_LARGE",
    `request body exceeds ${bytesMax} bytes (received ${received})`,
    {
      field: "body",
      limit: `${bytesMax} bytes`,
      received,
    },
  );
}

/** Iterative so a hostile document cannot blow the stack here. */
function checkDepth(root: unknown): void {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (depth > jsonDepthMax) {
      throw invalidArgument(
        "body",
        `JSON nesting exceeds ${jsonDepthMax} levels`,
        jsonDepthMax,
        `>${jsonDepthMax}`,
      );
    }
    const children = Array.isArray(value) ? value : Object.values(value);
    for (const child of children)
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
