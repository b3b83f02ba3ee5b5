/** Test helper shared by the schema tests: the action must throw a bad-input NeedleError naming its field. */
import { expect } from "bun:test";
import { NeedleError } from "../../storage/errors.ts";

export function refused(action: () => unknown): NeedleError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(NeedleError);
    const needle = error as NeedleError;
    expect(needle.code).toBe("INVALID_ARGUMENT");
    expect(needle.kind).toBe("user");
    expect(needle.message).toContain(needle.field as string);
    return needle;
  }
  throw new Error("expected a NeedleError, but nothing was thrown");
}
