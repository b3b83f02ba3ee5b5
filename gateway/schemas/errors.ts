/**
 * One converter from zod issues to NeedleError, so every front door reports bad input the same
 * way: INVALID_ARGUMENT, the field path (`records[3].values[17]`), the limit, and a short
 * summary of what was received. Only the first issue is reported; fixing it and retrying
 * surfaces the next, which keeps messages short and specific.
 */
import type { z } from "zod";
import { invalidArgument, type NeedleError } from "../../storage/errors.ts";

/** Custom issues raised by our own checks carry their limit in `params`. */
export interface IssueParams {
  limit?: string | number;
}

export interface ParseOptions {
  /** Prepended to every field path (`records` -> `body.records`). */
  fieldPrefix?: string;
  /** Renames path segments for a wire casing (`{ records: "vectors" }`). */
  fieldNames?: Readonly<Record<string, string>>;
}

/** Parses `input` with `schema`, throwing a NeedleError INVALID_ARGUMENT on the first issue. */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  options: ParseOptions = {},
): z.output<Schema> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  throw needleErrorFromZod(result.error, options);
}

export function needleErrorFromZod(error: z.ZodError, options: ParseOptions = {}): NeedleError {
  const issue = error.issues[0];
  if (issue === undefined) return invalidArgument(options.fieldPrefix ?? "request", "invalid input");
  const field = fieldPath(issue.path, options);
  const { what, limit } = describeIssue(issue);
  const received = "input" in issue ? summarise(issue.input) : undefined;
  return invalidArgument(field, formatMessage(field, what, limit, received), limit, received);
}

/** `field: what (limit: ...; received: ...)`; used by our own checks too. */
export function formatMessage(
  field: string,
  what: string,
  limit?: string | number,
  received?: string | number,
): string {
  const details: string[] = [];
  if (limit !== undefined) details.push(`limit: ${limit}`);
  if (received !== undefined) details.push(`received: ${received}`);
  return details.length === 0 ? `${field}: ${what}` : `${field}: ${what} (${details.join("; ")})`;
}

/** Throws INVALID_ARGUMENT with a message in the house format. */
export function fail(field: string, what: string, limit?: string | number, received?: unknown): never {
  const summary = received === undefined ? undefined : summarise(received);
  throw invalidArgument(field, formatMessage(field, what, limit, summary), limit, summary);
}

export function fieldPath(path: readonly PropertyKey[], options: ParseOptions = {}): string {
  let text = options.fieldPrefix ?? "";
  for (const segment of path) {
    if (typeof segment === "number") {
      text += `[${segment}]`;
      continue;
    }
    const name = String(segment);
    const renamed = options.fieldNames?.[name] ?? name;
    text += text === "" ? renamed : `.${renamed}`;
  }
  return text === "" ? "request" : text;
}

const receivedCharsMax = 60;

/** A received value already described in words (`"2 values"`), shown without quotes. */
export class Described {
  constructor(readonly text: string) {}
}

export function described(text: string): Described {
  return new Described(text);
}

/** A short, safe description of a received value for an error message. */
export function summarise(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (value instanceof Described) return value.text;
  if (typeof value === "string") {
    const quoted = JSON.stringify(
      value.length > receivedCharsMax ? `${value.slice(0, receivedCharsMax)}…` : value,
    );
    return value.length > receivedCharsMax ? `${quoted} (${value.length} characters)` : quoted;
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === "object") return "an object";
  return typeof value;
}

function describeIssue(issue: z.core.$ZodIssue): { what: string; limit?: string | number } {
  switch (issue.code) {
    case "too_big":
      return { what: tooMuch(issue.origin, "many", "large"), limit: bound("at most", issue) };
    case "too_small":
      return { what: tooMuch(issue.origin, "few", "small"), limit: bound("at least", issue) };
    case "invalid_type":
      return { what: `must be ${article(issue.expected)}` };
    case "unrecognized_keys":
      return { what: `unknown field(s) ${issue.keys.map((key) => JSON.stringify(key)).join(", ")}` };
    case "invalid_value":
      return {
        what: "must be one of the allowed values",
        limit: issue.values.map((value) => JSON.stringify(value)).join(" | "),
      };
    case "invalid_format":
      return { what: issue.message };
    case "custom": {
      const params = issue.params as IssueParams | undefined;
      return { what: issue.message, limit: params?.limit };
    }
    default:
      return { what: issue.message };
  }
}

function tooMuch(origin: string, countWord: string, sizeWord: string): string {
  switch (origin) {
    case "array":
    case "set":
      return `has too ${countWord} items`;
    case "string":
      return `has too ${countWord} characters`;
    default:
      return `is too ${sizeWord}`;
  }
}

function bound(
  words: string,
  issue: { origin: string; inclusive?: boolean; maximum?: unknown; minimum?: unknown },
): string {
  const value = String(issue.maximum ?? issue.minimum);
  const unit = issue.origin === "array" ? " items" : issue.origin === "string" ? " characters" : "";
  const strict = issue.inclusive === false ? (words === "at most" ? "below" : "above") : words;
  return `${strict} ${value}${unit}`;
}

function article(expected: string): string {
  if (expected === "int") return "an integer";
  if (expected === "object" || expected === "array") return `an ${expected}`;
  return `a ${expected}`;
}
