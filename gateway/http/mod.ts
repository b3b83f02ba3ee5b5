/** The HTTP front door: Pinecone's REST API as a Hono app. */
export {
  type AppOptions,
  apiKeyHeader,
  apiVersionHeader,
  createApp,
  httpHeaderSizeFlag,
  lsnHeader,
  minLsnHeader,
  minLsnWaitMsMax,
  type RequestLogEntry,
  requestTimeoutMsDefault,
  serverIdleTimeoutSeconds,
} from "./app.ts";
export { isLoopbackHost } from "./auth.ts";
export { httpErrorAnswer } from "./errors.ts";
