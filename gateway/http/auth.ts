/**
 * API-key check. Keys are compared through their SHA-256 digests with a constant-time
 * comparison, so neither a key's length nor its prefix leaks through response timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export type KeyCheck = (presented: string | null) => boolean;

/** With no keys configured every request passes (the CLI allows that only on loopback). */
export function apiKeyCheck(apiKeys: readonly string[]): KeyCheck {
  if (apiKeys.length === 0) return () => true;
  const digests = apiKeys.map(digest);
  return (presented) => {
    if (presented === null || presented === "") return false;
    const candidate = digest(presented);
    let accepted = false;
    for (const known of digests) accepted = timingSafeEqual(candidate, known) || accepted;
    return accepted;
  };
}

function digest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** Loopback hosts where running without keys is allowed (with a warning). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}
