import { describe, expect, test } from "bun:test";
import { NeedleError } from "../storage/errors.ts";
import type { WriteOp } from "../storage/types.ts";
import { decodeLogBody, encodeLogBody } from "./codec.ts";

const sparse = { indices: Uint32Array.from([3, 9]), values: Float32Array.from([0.5, -1]) };

const writes: WriteOp[] = [
  {
    op: "upsert",
    records: [
      {
        id: "a",
        values: Float32Array.from([1, 2, 3]),
        metadata: { genre: "drama", year: 2020, tags: ["x"] },
      },
      { id: "b", values: Float32Array.from([-4, 5.5, 6]), sparseValues: sparse },
    ],
  },
  { op: "upsert", records: [{ id: "s", sparseValues: sparse }] },
  { op: "update", ids: ["a"], values: Float32Array.from([7, 8, 9]), setMetadata: { seen: true } },
  { op: "delete", ids: ["a", "b"] },
  { op: "deleteAll" },
  { op: "createNamespace" },
  { op: "deleteNamespace" },
];

describe("log body codec", () => {
  for (const write of writes) {
    test(`round trip: ${write.op}`, () => {
      const body = { namespace: "ns ünïcode", write };
      expect(decodeLogBody(encodeLogBody(body))).toEqual(body);
    });
  }

  test("decodes from an unaligned position (records inside a segment buffer)", () => {
    const body = { namespace: "n", write: writes[0]! };
    const encoded = encodeLogBody(body);
    const shifted = new Uint8Array(encoded.byteLength + 1);
    shifted.set(encoded, 1);
    expect(decodeLogBody(shifted.subarray(1))).toEqual(body);
  });

  test("a payload of another format or a wrong block size is CORRUPTION, never a crash", () => {
    const encoded = encodeLogBody({ namespace: "n", write: writes[0]! });
    const bad = [
      new Uint8Array([1, 2, 3]),
      encoded.slice(0, encoded.byteLength - 4),
      Uint8Array.of(0x4e, 9, 0, 0, 0, 0, 0, 0),
    ];
    const overrun = encoded.slice();
    new DataView(overrun.buffer).setUint32(4, 1 << 30, true);
    bad.push(overrun);
    for (const bytes of bad) {
      let caught: unknown;
      try {
        decodeLogBody(bytes, "segment-7");
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(NeedleError);
      expect((caught as NeedleError).code).toBe("CORRUPTION");
    }
  });
});
