/**
 * Guards of keyless mode. Without API keys the server accepts any request on loopback, which a
 * web page the operator happens to visit can reach too:
 *   - a cross-site `text/plain` (or form) POST is a "simple" request: the browser sends it
 *     without asking the server first, so `{"deleteAll": true}` would run;
 *   - DNS rebinding points a page's own host name at 127.0.0.1, so the browser treats Needle
 *     as same-origin and lets the page read answers.
 * So in keyless mode: every request must name a loopback host (Host, and Origin when sent),
 * and every POST, PUT or PATCH must be `application/json`, which no page can send cross-site
 * without a CORS preflight that Needle never approves.
 */
import { isLoopbackHost } from "./auth.ts";

export type KeylessRefusal = { status: 403 | 415; code: string; message: string };

const bodyMethods = new Set(["POST", "PUT", "PATCH"]);

/** The host part of a Host header value (`[::1]:5080` -> `::1`, `localhost:5080` -> `localhost`). */
function hostName(hostHeader: string): string {
  const trimmed = hostHeader.trim().toLowerCase();
  if (trimmed.startsWith("[")) return trimmed.slice(1, trimmed.indexOf("]") >>> 0);
  const colon = trimmed.lastIndexOf(":");
  return colon >= 0 && trimmed.indexOf(":") === colon ? trimmed.slice(0, colon) : trimmed;
}

function originIsLoopback(origin: string): boolean {
  try {
    return isLoopbackHost(new URL(origin).hostname);
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and anything unparsable
  }
}

/** Why a request must be refused in keyless mode, or undefined when it may proceed. */
export function keylessRefusal(request: {
  method: string;
  host: string | undefined;
  origin: string | undefined;
  contentType: string | undefined;
}): KeylessRefusal | undefined {
  if (request.host !== undefined && !isLoopbackHost(hostName(request.host))) {
    return {
      status: 403,
      code: "PERMISSION_DENIED",
      message: `this server has no API keys, so it answers only requests addressed to a loopback host (Host: localhost, 127.0.0.1 or [::1]); got Host: ${request.host.slice(0, 100)}. Configure --api-key to serve other names`,
    };
  }
  if (request.origin !== undefined && !originIsLoopback(request.origin)) {
    return {
      status: 403,
      code: "PERMISSION_DENIED",
      message: `this server has no API keys, so it refuses requests from web pages of other origins (Origin: ${request.origin.slice(0, 100)})`,
    };
  }
  if (bodyMethods.has(request.method)) {
    const mediaType = (request.contentType ?? "").split(";")[0]!.trim().toLowerCase();
    if (mediaType !== "application/json") {
      return {
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: `request bodies must be sent as Content-Type: application/json (got ${request.contentType === undefined ? "none" : JSON.stringify(request.contentType.slice(0, 100))})`,
      };
    }
  }
  return undefined;
}
