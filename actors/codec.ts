/** msgpack for log payloads and manifests: typed arrays and bigints round-trip exactly. */
import { Packr } from "msgpackr";
import type { WriteOp } from "../storage/types.ts";

const packr = new Packr({ useRecords: false, moreTypes: true });

export interface LogBody {
  namespace: string;
  write: WriteOp;
}

export function encodeLogBody(body: LogBody): Uint8Array {
  return packr.pack(body);
}

export function decodeLogBody(bytes: Uint8Array): LogBody {
  return packr.unpack(bytes) as LogBody;
}
