/**
 * Reads a JSON request body with a byte limit enforced while the body streams in: the
 * Content-Length header is checked first, then every chunk is counted, and the read stops
 * (cancelling the stream) as soon as the running total passes the limit. The body is never
 * buffered beyond `bytesMax` bytes.
 *
 * Parsed JSON is checked for shape hazards the schemas should never see: nesting deeper
 * than `jsonDepthMax` (a hostile filter or array tower) is refused here.
 */
import { invalidArgument, NeedleError } from "../../storage/errors.ts";

/** Deepest JSON nesting accepted in any request body (a filter nests a few levels). */
const jsonDepthMax = 64;

export async function readJsonBody(request: Request, bytesMax: number): Promise<unknown> {
  const text = await readTextBody(request, bytesMax);
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

async function readTextBody(request: Request, bytesMax: number): Promise<string> {
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
    const { done, value } = await reader.read();
    if (done) break;
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
