/**
 * The request log (write-ahead log): one per index, LSN-stamped opaque payloads made durable
 * (fsync) before `append` resolves, with group commit, segment rolling, trimming and crash
 * recovery. Byte format: format.ts / FORMAT.md. Recovery rules: recovery.ts. Writer
 * invariants and group commit: request-log.ts. Why: storage/DESIGN.md "Request log".
 */
export {
  groupCommitBytesMax,
  RequestLog,
  type RequestLogHooks,
  type RequestLogOptions,
  type RequestLogStats,
  segmentBytesMaxDefault,
} from "./request-log.ts";
export { payloadBytesMax as logPayloadBytesMax } from "./format.ts";
export type { Log } from "./log.ts";
