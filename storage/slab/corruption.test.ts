/**
 * A slab reader must turn every damaged file into a CORRUPTION NeedleError naming the file:
 * never a crash, never another error type, never silently different data.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { VectorRecord } from "../types.ts";
import { NeedleError } from "../errors.ts";
import { packr } from "./codec.ts";
import { encodeSlab } from "./encode.ts";
import { SectionKind } from "./format.ts";
import { SlabReader } from "./reader.ts";
import {
  layoutRaw,
  parseRaw,
  type RawSlab,
  randomInt,
  randomRecords,
  seededRandom,
  syncBookkeepingSections,
} from "./testing.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? 20261130);
console.log(`slab corruption tests: seed ${seed} (set NEEDLE_TEST_SEED to replay)`);

const directory = mkdtempSync(join(tmpdir(), "needle-slab-corruption-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function build(records: VectorRecord[], dim: number, metadataIndex?: Uint8Array): Uint8Array {
  return encodeSlab({
    slabId: "small",
    namespace: "ns",
    level: 0,
    dim,
    metric: "euclidean",
    records,
    minLsn: 1n,
    maxLsn: 9n,
    sourceSlabs: [],
    metadataIndex,
    createdAt: 1_764_460_800_000,
  });
}

/** A small file with every v1 section kind present. */
function smallSlab(): Uint8Array {
  const records = randomRecords(seededRandom(seed), { rows: 6, dim: 3, sparse: "some", metadata: "some" });
  records[0]!.sparseValues = { indices: new Uint32Array([5, 2]), values: new Float32Array([0.5, -1]) };
  records[1]!.metadata = { genre: "drama", year: 2021 };
  return build(records, 3, new Uint8Array([9, 8, 7]));
}

function expectCorruption(open: () => unknown, name: string): NeedleError {
  let thrown: unknown;
  try {
    open();
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof NeedleError)) {
    throw new Error(`expected a CORRUPTION NeedleError for ${name}, got ${String(thrown)}`);
  }
  expect(thrown.code).toBe("CORRUPTION");
  expect(thrown.file).toBe(name);
  expect(thrown.message).toContain(name);
  return thrown;
}

/** Everything a caller can read from a slab, so a bad byte cannot hide in a lazy path. */
function readEverything(reader: SlabReader): void {
  const rows = reader.info.rowCount;
  for (let row = 0; row < rows; row++) {
    const record = reader.record(row, { values: true, metadata: true });
    if (reader.rowOf(record.id) !== row) throw new Error(`rowOf(${record.id}) is not ${row}`);
  }
  let count = 0;
  for (const _ of reader.idsFrom("")) count++;
  if (count !== rows) throw new Error(`idsFrom yielded ${count} of ${rows} ids`);
}

describe("damaged bytes", () => {
  const file = smallSlab();
  const original = SlabReader.fromBytes(file, "original.slab");

  test("the small slab holds every v1 section kind", () => {
    const kinds = parseRaw(file).sections.map((section) => section.kind);
    expect(kinds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    readEverything(original);
  });

  test(`every single-byte flip is CORRUPTION naming the file`, () => {
    const random = seededRandom(seed + 1);
    const name = "flipped.slab";
    for (let position = 0; position < file.length; position++) {
      const damaged = file.slice();
      damaged[position] = damaged[position]! ^ (1 + randomInt(random, 255));
      const error = expectCorruption(() => SlabReader.fromBytes(damaged, name), name);
      if (!error.message.startsWith(`${name}: `))
        throw new Error(`message does not lead with the file: ${error.message}`);
    }
  });

  test("every truncation is CORRUPTION; so is trailing garbage", () => {
    const name = "truncated.slab";
    for (let length = 0; length < file.length; length++) {
      expectCorruption(() => SlabReader.fromBytes(file.subarray(0, length), name), name);
    }
    const extended = new Uint8Array(file.length + 64);
    extended.set(file);
    expectCorruption(() => SlabReader.fromBytes(extended, name), name);
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    expectCorruption(() => SlabReader.fromBytes(shifted, name), name);
  });

  test("truncated and empty files on disk are CORRUPTION naming the path", () => {
    const random = seededRandom(seed + 2);
    const lengths = [0, 1, 63, 64, 127, 128, file.length - 64, file.length - 1];
    for (let i = 0; i < 12; i++) lengths.push(randomInt(random, file.length));
    for (const length of lengths) {
      const path = join(directory, `truncated-${length}.slab`);
      writeFileSync(path, file.subarray(0, length));
      expectCorruption(() => SlabReader.openFile(path), path);
    }
  });

  test("a seeded sample of flips in a larger slab is CORRUPTION", () => {
    const records = randomRecords(seededRandom(seed + 3), {
      rows: 400,
      dim: 24,
      sparse: "some",
      metadata: "some",
    });
    const large = build(records, 24, new Uint8Array(500).fill(3));
    const random = seededRandom(seed + 4);
    const name = "large-flipped.slab";
    for (let i = 0; i < 300; i++) {
      const damaged = large.slice();
      const position = randomInt(random, large.length);
      damaged[position] = damaged[position]! ^ (1 << randomInt(random, 8));
      expectCorruption(() => SlabReader.fromBytes(damaged, name), name);
    }
  });
});

describe("fuzz", () => {
  const file = smallSlab();

  function onlyNeedleErrors(bytes: Uint8Array, name: string): "opened" | "refused" {
    try {
      readEverything(SlabReader.fromBytes(bytes, name));
      return "opened";
    } catch (error) {
      if (!(error instanceof NeedleError)) {
        throw new Error(`non-NeedleError from ${name}: ${String(error)}`, { cause: error });
      }
      expect(error.code).toBe("CORRUPTION");
      expect(error.file).toBe(name);
      return "refused";
    }
  }

  test("random bytes never open and only raise NeedleError", () => {
    const random = seededRandom(seed + 10);
    for (let i = 0; i < 500; i++) {
      const bytes = Uint8Array.from({ length: randomInt(random, 2 * file.length) }, () =>
        randomInt(random, 256),
      );
      // Random tails sometimes carry the footer magic; the checksums must still stop them.
      if (i % 2 === 0 && bytes.length >= 64) bytes.set(file.subarray(file.length - 8), bytes.length - 8);
      expect(onlyNeedleErrors(bytes, `random-${i}.slab`)).toBe("refused");
    }
  });

  test("random mutations of a valid file are refused", () => {
    const random = seededRandom(seed + 11);
    for (let i = 0; i < 500; i++) {
      const bytes = file.slice();
      const changes = 1 + randomInt(random, 8);
      for (let change = 0; change < changes; change++) {
        const position = randomInt(random, bytes.length);
        bytes[position] = bytes[position]! ^ (1 + randomInt(random, 255));
      }
      expect(onlyNeedleErrors(bytes, `mutated-${i}.slab`)).toBe("refused");
    }
  });

  // With checksums repaired, the structural checks are all that stands between a buggy
  // writer and a crash: every outcome must be a clean open or a CORRUPTION error.
  test("mutations with repaired checksums open cleanly or are refused, never crash", () => {
    const random = seededRandom(seed + 12);
    const raw = parseRaw(file);
    let refused = 0;
    for (let i = 0; i < 1500; i++) {
      const sections = raw.sections.map((section) => ({ ...section, bytes: section.bytes.slice() }));
      const target = sections[randomInt(random, sections.length)]!;
      if (target.bytes.length === 0) continue;
      const changes = 1 + randomInt(random, 3);
      for (let change = 0; change < changes; change++) {
        const position = randomInt(random, target.bytes.length);
        target.bytes[position] = randomInt(random, 4) === 0 ? 0xff : randomInt(random, 256);
      }
      if (onlyNeedleErrors(layoutRaw({ ...raw, sections }), `repaired-${i}.slab`) === "refused") refused++;
    }
    expect(refused).toBeGreaterThan(100);
  });
});

describe("versions and section kinds", () => {
  const file = smallSlab();
  const withExtraSection = (flags: number, kind = 99): Uint8Array => {
    const raw = parseRaw(file);
    raw.sections.push({ kind, flags, encoding: 0, bytes: new Uint8Array([1, 2, 3]) });
    syncBookkeepingSections(raw);
    return layoutRaw(raw);
  };

  test("the independent layout reproduces the writer's bytes exactly", () => {
    expect(layoutRaw(parseRaw(file))).toEqual(file);
  });

  test("an unknown optional section is skipped", () => {
    const reader = SlabReader.fromBytes(withExtraSection(0), "optional.slab");
    readEverything(reader);
    expect(reader.metadataIndexBytes).toEqual(new Uint8Array([9, 8, 7]));
  });

  test("an unknown required section is refused", () => {
    const error = expectCorruption(
      () => SlabReader.fromBytes(withExtraSection(1), "required.slab"),
      "required.slab",
    );
    expect(error.message).toContain("unknown to this reader");
  });

  test("VECTOR_INDEX of an unknown type: refused when required, skipped when optional", () => {
    const withVectorIndex = (flags: number, vectorIndex: string): Uint8Array => {
      const raw = parseRaw(file);
      raw.sections.push({ kind: SectionKind.vectorIndex, flags, encoding: 0, bytes: new Uint8Array([4, 5]) });
      syncBookkeepingSections(raw, { vectorIndex });
      return layoutRaw(raw);
    };
    expectCorruption(() => SlabReader.fromBytes(withVectorIndex(1, "graph"), "graph.slab"), "graph.slab");
    const reader = SlabReader.fromBytes(withVectorIndex(0, "graph"), "graph-optional.slab");
    readEverything(reader);
    expect(reader.info.vectorIndex).toBe("graph");
    expect(reader.vectorIndex).toBeUndefined();
    // An "ivf" section must be a valid one.
    expectCorruption(() => SlabReader.fromBytes(withVectorIndex(0, "ivf"), "ivf.slab"), "ivf.slab");
    // The bookkeeping must agree with the table either way.
    expectCorruption(
      () => SlabReader.fromBytes(withVectorIndex(0, "none"), "disagree.slab"),
      "disagree.slab",
    );
    const raw = parseRaw(file);
    syncBookkeepingSections(raw, { vectorIndex: "graph" });
    expectCorruption(() => SlabReader.fromBytes(layoutRaw(raw), "disagree2.slab"), "disagree2.slab");
  });

  test("a newer minor version opens; a newer major version is refused", () => {
    const raw: RawSlab = parseRaw(file);
    readEverything(SlabReader.fromBytes(layoutRaw({ ...raw, versionMinor: 3 }), "minor.slab"));
    const error = expectCorruption(
      () => SlabReader.fromBytes(layoutRaw({ ...raw, versionMajor: 2 }), "major.slab"),
      "major.slab",
    );
    expect(error.message).toContain("version 2");
  });

  test("unknown flags and encodings on known sections are refused", () => {
    for (const change of [{ flags: 2 }, { encoding: 1 }]) {
      const raw = parseRaw(file);
      raw.sections[2] = { ...raw.sections[2]!, ...change };
      expectCorruption(() => SlabReader.fromBytes(layoutRaw(raw), "flags.slab"), "flags.slab");
    }
  });

  test("a missing required section or a section listed twice is refused", () => {
    for (const kind of [
      SectionKind.ids,
      SectionKind.idLookup,
      SectionKind.vectorsF32,
      SectionKind.int8Codes,
    ]) {
      const raw = parseRaw(file);
      raw.sections = raw.sections.filter((section) => section.kind !== kind);
      syncBookkeepingSections(raw);
      expectCorruption(() => SlabReader.fromBytes(layoutRaw(raw), "missing.slab"), "missing.slab");
    }
    const raw = parseRaw(file);
    raw.sections.push({ ...raw.sections[1]! });
    expectCorruption(() => SlabReader.fromBytes(layoutRaw(raw), "twice.slab"), "twice.slab");
  });

  test("a slab claiming zero rows is refused", () => {
    const raw = parseRaw(build([{ id: "only", values: new Float32Array([1, 2, 3]) }], 3));
    const bookkeeping = packr.unpack(raw.sections[0]!.bytes) as Record<string, unknown>;
    bookkeeping.rowCount = 0;
    raw.sections[0]!.bytes = packr.pack(bookkeeping);
    const error = expectCorruption(() => SlabReader.fromBytes(layoutRaw(raw), "zero.slab"), "zero.slab");
    expect(error.message).toContain("rowCount 0");
  });
});
