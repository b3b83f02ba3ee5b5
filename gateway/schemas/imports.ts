/** Bulk import requests (issue 9): Pinecone's `startImport` body. */
import { z } from "zod";
import { type ParseOptions, parseInput } from "./errors.ts";

export const importUriCharsMax = 4096;

const startImport = z.strictObject({
  uri: z.string().min(1).max(importUriCharsMax),
  errorMode: z.strictObject({ onError: z.enum(["continue", "abort"]).optional() }).optional(),
  // Storage integrations name cloud credentials; Needle reads local files only.
  integrationId: z.string().max(256).optional(),
});

export function parseStartImport(input: unknown, options: ParseOptions = {}) {
  const parsed = parseInput(startImport, input, options);
  return { uri: parsed.uri, onError: parsed.errorMode?.onError ?? "continue" } as const;
}
