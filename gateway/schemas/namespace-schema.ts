/**
 * The optional `schema` of createNamespace: `{fields: {<metadata field>: {filterable}}}`.
 * Needle indexes every metadata field, so the schema changes nothing; it is validated and
 * echoed in the answer, as Pinecone does. One definition for every front door.
 */
import { z } from "zod";
import { parseInput } from "./errors.ts";
import { namespaceSchemaFieldCharsMax, namespaceSchemaFieldsMax } from "./limits.ts";

export const namespaceSchema = z.strictObject({
  fields: z
    .record(z.string().min(1).max(namespaceSchemaFieldCharsMax), z.strictObject({ filterable: z.boolean() }))
    .refine((fields) => Object.keys(fields).length <= namespaceSchemaFieldsMax, {
      message: "has too many fields",
      params: { limit: `at most ${namespaceSchemaFieldsMax} fields` },
    }),
});

export type NamespaceSchema = z.output<typeof namespaceSchema>;

/** The schema as validated (a copy), or undefined when none was given. */
export function parseNamespaceSchema(input: unknown): NamespaceSchema | undefined {
  if (input === undefined || input === null) return undefined;
  return parseInput(namespaceSchema, input, { fieldPrefix: "schema" });
}
