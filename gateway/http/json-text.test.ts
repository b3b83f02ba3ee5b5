/**
 * jsonText keeps negative zeros in marked bodies and only there, and never rewrites a string a
 * user stored, even one spelling the sentinel's JSON text.
 */
import { expect, test } from "bun:test";
import { shortestFloat32 } from "../library/float32.ts";
import { jsonText, shapedKeepingNegativeZeros } from "./json-text.ts";

test("a body that shaped a -0 prints it as -0; user strings are left alone", () => {
  const tricky = ["\\ud800-0", '"\\ud800-0"', "-0", "\\\\ud800-0"];
  const body = shapedKeepingNegativeZeros(() => ({
    values: [shortestFloat32(-0), shortestFloat32(Math.fround(0.4)), 0],
    metadata: { tricky },
  }));
  const text = jsonText(body);
  expect(text).toStartWith('{"values":[-0,0.4,0],');
  const parsed = JSON.parse(text) as { values: number[]; metadata: { tricky: string[] } };
  expect(Object.is(parsed.values[0], -0)).toBe(true);
  expect(Object.is(parsed.values[2], 0)).toBe(true);
  expect(parsed.metadata.tricky).toEqual(tricky);
});

test("a body that shaped no -0 is JSON.stringify's text", () => {
  const body = shapedKeepingNegativeZeros(() => ({ values: [shortestFloat32(Math.fround(0.5))], n: -0 }));
  expect(jsonText(body)).toBe(JSON.stringify(body));
  expect(jsonText([1, -0])).toBe("[1,0]");
});
