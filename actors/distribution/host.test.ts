/** `--role` parsing: roles stand alone (an executor need not own indexes); refusals name the field. */
import { expect, test } from "bun:test";
import { parseRoles } from "./host.ts";

test("roles stand alone, combine, repeat, and `all` is every role a host can take", () => {
  expect(parseRoles(["executor"])).toEqual(["executor"]);
  expect(parseRoles(["namespace"])).toEqual(["namespace"]);
  expect(parseRoles(["namespace,executor", "gateway"])).toEqual(["executor", "gateway", "namespace"]);
  expect(parseRoles(["all"])).toEqual(["executor", "gateway", "namespace"]);
});

test("compactor and unknown roles are refused naming the field", () => {
  expect(() => parseRoles(["compactor"])).toThrow(/compaction runs inside each index's owner/);
  expect(() => parseRoles(["owner"])).toThrow(/--role must be gateway, namespace, executor or all/);
});
