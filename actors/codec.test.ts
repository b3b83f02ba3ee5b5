import { describe, expect, test } from "bun:test";
import { NeedleError } from "../storage/errors.ts";
import type { WriteOp } from "../storage/types.ts";
import { Packr } from "msgpackr";
import { decodeLogBody, encodeLogBody, logBodyNamespace } from "./codec.ts";

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

  test("the namespace reads from the frame alone, as the full decode gives it", () => {
    for (const namespace of ["", "ns ünïcode", "x".repeat(512)]) {
      const encoded = encodeLogBody({ namespace, write: writes[0]! });
      expect(logBodyNamespace(encoded)).toBe(namespace);
      expect(decodeLogBody(encoded).namespace).toBe(namespace);
    }
  });

  test("version 1 bodies (namespace inside the msgpack header) still decode", () => {
    // Built by hand as Needle wrote them before version 2: prefix, header, pad, float block.
    const header = new Packr({ useRecords: false, moreTypes: true }).pack({
      namespace: "old",
      write: { op: "upsert", records: [{ id: "a", metadata: { genre: "drama" } }] },
      valuesDim: 2,
    });
    const blockOffset = (8 + header.byteLength + 3) & ~3;
    const bytes = new Uint8Array(blockOffset + 8);
    bytes.set([0x4e, 1], 0);
    new DataView(bytes.buffer).setUint32(4, header.byteLength, true);
    bytes.set(header, 8);
    new Float32Array(bytes.buffer, blockOffset, 2).set([0.5, -2]);
    const body = decodeLogBody(bytes);
    expect(body).toEqual({
      namespace: "old",
      write: {
        op: "upsert",
        records: [{ id: "a", metadata: { genre: "drama" }, values: Float32Array.of(0.5, -2) }],
      },
    });
    expect(logBodyNamespace(bytes)).toBe("old");
  });

  test("decodes from an unaligned position (records inside a segment buffer)", () => {
    const body = { namespace: "n", write: writes[0]! };
    const encoded = encodeLogBody(body);
    const shifted = new Uint8Array(encoded.byteLength + 1);
    shifted.set(encoded, 1);
    expect(decodeLogBody(shifted.subarray(1))).toEqual(body);
  });

  test("decodes a Node Buffer at an unaligned position inside a larger pool (a NATS message)", () => {
    const body = { namespace: "n", write: writes[0]! };
    const encoded = encodeLogBody(body);
    const pool = Buffer.alloc(encoded.byteLength + 64, 0xab);
    pool.set(encoded, 33);
    expect(decodeLogBody(pool.subarray(33, 33 + encoded.byteLength))).toEqual(body);
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
    const namespaceOverrun = encoded.slice();
    new DataView(namespaceOverrun.buffer).setUint16(2, 0xffff, true);
    const notUtf8 = encoded.slice();
    notUtf8[8] = 0xff;
    const headerGarbage = encoded.slice();
    headerGarbage.fill(0xc1, 9, 9 + new DataView(encoded.buffer).getUint32(4, true));
    bad.push(overrun, namespaceOverrun, notUtf8, headerGarbage);
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
