/** `--role` parsing: roles stand alone (an executor need not own indexes, a compactor builds only); refusals name the field. */
import { expect, test } from "bun:test";
import { parseRoles } from "./host.ts";

test("roles stand alone, combine, repeat, and `all` is every role a host can take", () => {
  expect(parseRoles(["executor"])).toEqual(["executor"]);
  expect(parseRoles(["namespace"])).toEqual(["namespace"]);
  expect(parseRoles(["namespace,executor", "gateway"])).toEqual(["executor", "gateway", "namespace"]);
  expect(parseRoles(["all"])).toEqual(["executor", "gateway", "namespace"]);
  // A compactor stands alone too; `all` leaves it out (in one process it would only add a
  // round trip through NATS to the owner's own builder).
  expect(parseRoles(["compactor"])).toEqual(["compactor"]);
  expect(parseRoles(["all,compactor"])).toEqual(["compactor", "executor", "gateway", "namespace"]);
});

test("unknown roles are refused naming the field", () => {
  expect(() => parseRoles(["owner"])).toThrow(
    /--role must be gateway, namespace, executor, compactor or all/,
  );
});
