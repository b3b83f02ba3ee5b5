/**
 * The optional `schema` of createNamespace: `{fields: {<metadata field>: {filterable}}}`.
 * Needle indexes every metadata field, so the schema changes nothing; it is validated and
 * echoed in the answer, as Pinecone does. (The HTTP gateway holds the same rule in
 * gateway/http/requests.ts; both belong in gateway/schemas once that folder takes it.)
 */
import { z } from "zod";
import { parseInput } from "../schemas/mod.ts";
import type { NamespaceSchema } from "./types.ts";

/** Needle's own caps (Pinecone documents none): fields listed, and a field name's length. */
export const namespaceSchemaFieldsMax = 1000;
export const namespaceSchemaFieldCharsMax = 512;

const namespaceSchema = z.strictObject({
  fields: z
    .record(z.string().min(1).max(namespaceSchemaFieldCharsMax), z.strictObject({ filterable: z.boolean() }))
    .refine((fields) => Object.keys(fields).length <= namespaceSchemaFieldsMax, {
      message: "has too many fields",
      params: { limit: `at most ${namespaceSchemaFieldsMax} fields` },
    }),
});

/** The schema as validated (a copy), or undefined when none was given. */
export function parseNamespaceSchema(input: unknown): NamespaceSchema | undefined {
  if (input === undefined || input === null) return undefined;
  return parseInput(namespaceSchema, input, { fieldPrefix: "schema" });
}
