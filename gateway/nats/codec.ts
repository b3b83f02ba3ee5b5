/**
 * Bodies of the NATS API: JSON unless the request's `Content-Type` header says
 * `application/msgpack`; the reply uses the request's encoding. JSON keeps negative zeros
 * (gateway/http/json-text.ts); msgpack maps are plain maps (no msgpackr records), so any
 * msgpack library reads them, and a Float32Array sent by a TypeScript caller arrives as one.
 */
import { Packr } from "msgpackr";
import { headers as natsHeaders, type MsgHdrs } from "nats";
import { NeedleError } from "../../storage/errors.ts";

export type BodyEncoding = "json" | "msgpack";

export const msgpackContentType = "application/msgpack";
export const jsonContentType = "application/json";

const packr = new Packr({ useRecords: false });
const textDecoder = new TextDecoder("utf-8", { fatal: true });
const textEncoder = new TextEncoder();

export function encodingOf(headers: MsgHdrs | undefined): BodyEncoding {
  const type = headers?.get("Content-Type") ?? "";
  return type.toLowerCase().startsWith(msgpackContentType) ? "msgpack" : "json";
}

/** The request body as an object; an empty body is `{}`. Anything else is INVALID_ARGUMENT. */
export function decodeBody(data: Uint8Array, encoding: BodyEncoding): Record<string, unknown> {
  if (data.length === 0) return {};
  let value: unknown;
  try {
    value = encoding === "msgpack" ? packr.unpack(data) : JSON.parse(textDecoder.decode(data));
  } catch (error) {
    throw new NeedleError(
      "INVALID_ARGUMENT",
      `body: not valid ${encoding === "msgpack" ? "msgpack" : "JSON"} (${(error as Error).message})`,
      {
        field: "body",
        received: `${data.length} bytes`,
      },
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw new NeedleError("INVALID_ARGUMENT", "body: must be an object with the operation's options", {
      field: "body",
      limit: "an object",
      received: value === null ? "null" : Array.isArray(value) ? `an array of ${value.length}` : typeof value,
    });
  }
  return value as Record<string, unknown>;
}

export function encodeBody(
  value: unknown,
  encoding: BodyEncoding,
  jsonText: (value: unknown) => string,
): Uint8Array {
  if (encoding === "msgpack") return new Uint8Array(packr.pack(value));
  return textEncoder.encode(jsonText(value));
}

export function replyHeaders(encoding: BodyEncoding, extra: Record<string, string> = {}): MsgHdrs {
  const out = natsHeaders();
  out.set("Content-Type", encoding === "msgpack" ? msgpackContentType : jsonContentType);
  for (const [key, value] of Object.entries(extra)) out.set(key, value);
  return out;
}
