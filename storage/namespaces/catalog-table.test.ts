/**
 * The columnar catalog against a plain Map model: seeded random sets, replacements and
 * deletes (names that collide in their first bytes, share prefixes, are empty-ish or long,
 * non-ASCII), then every read compared: get, has, size, record total, sorted listing with
 * prefixes and pagination, and the entries iterator.
 */
import { expect, test } from "bun:test";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { type CatalogEntry, CatalogTable } from "./catalog-table.ts";

const seed = Number(process.env.NEEDLE_TEST_SEED ?? Date.now() % 100_000);

function randomName(random: () => number): string {
  const kind = random();
  if (kind < 0.4) return `tenant-${Math.floor(random() * 3000)}`;
  if (kind < 0.6) return `t-${Math.floor(random() * 40)}/${Math.floor(random() * 40)}`;
  if (kind < 0.7) return "x".repeat(1 + Math.floor(random() * 512));
  if (kind < 0.8) return `ünï-${Math.floor(random() * 50)}`;
  return `${String.fromCharCode(33 + Math.floor(random() * 90))}${Math.floor(random() * 100)}`;
}

function randomEntry(random: () => number, namespace: string): CatalogEntry {
  const packed = random() < 0.7;
  return {
    namespace,
    explicit: random() < 0.2,
    flushedLsn: BigInt(Math.floor(random() * 1e12)) * 1000n,
    records: Math.floor(random() * 4),
    location: packed
      ? {
          kind: "packed",
          slab: `slab-${Math.floor(random() * 20)}`,
          runStart: Math.floor(random() * 1e6),
          runLength: Math.floor(random() * 1000),
          ...(random() < 0.3
            ? { deleted: Uint8Array.from({ length: 4 }, () => Math.floor(random() * 256)) }
            : {}),
        }
      : { kind: "dedicated" },
    manifestVersion: Math.floor(random() * 100),
    ...(random() < 0.3 ? { levels: Float64Array.from({ length: 5 }, () => Math.floor(random() * 9)) } : {}),
  };
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

test(`the columnar catalog behaves like a Map (seed ${seed})`, () => {
  const random = seededRandom(seed);
  const table = new CatalogTable();
  const model = new Map<string, CatalogEntry>();
  for (let step = 0; step < 20_000; step++) {
    const name = randomName(random);
    if (random() < 0.25) {
      expect(table.delete(name)).toBe(model.delete(name));
    } else {
      const entry = randomEntry(random, name);
      table.set(entry);
      model.set(name, entry);
    }
    if (step % 2_000 === 0 || step === 19_999) {
      expect(table.size).toBe(model.size);
      let total = 0;
      for (const entry of model.values()) total += entry.records;
      expect(table.recordCount).toBe(total);
      const packedFlushedLsn = (entry: CatalogEntry | undefined) =>
        entry === undefined ? 0n : entry.location.kind === "packed" ? entry.flushedLsn : undefined;
      for (const [key, entry] of model) {
        expect(table.get(key)).toEqual(entry);
        expect(table.packedFlushedLsn(key)).toBe(packedFlushedLsn(entry));
      }
      for (let probe = 0; probe < 200; probe++) {
        const name = randomName(random);
        expect(table.has(name)).toBe(model.has(name));
        expect(table.get(name)).toEqual(model.get(name));
        expect(table.packedFlushedLsn(name)).toBe(packedFlushedLsn(model.get(name)));
      }
      const sorted = [...model.keys()].sort(byteOrder);
      for (const prefix of ["", "tenant-1", "t-3/", "ü", "zzz"]) {
        const wanted = sorted.filter((name) => name.startsWith(prefix));
        // Page through in pages of 37 and get every name once, in order.
        const paged: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = table.list({ prefix, after, limit: 37 });
          paged.push(...page);
          if (page.length < 37) break;
          after = page[page.length - 1];
        }
        expect(paged).toEqual(wanted);
      }
      const references = new Map<string, number>();
      const rows = new Map<string, number>();
      for (const entry of model.values()) {
        if (entry.location.kind === "packed") {
          references.set(entry.location.slab, (references.get(entry.location.slab) ?? 0) + 1);
          rows.set(entry.location.slab, (rows.get(entry.location.slab) ?? 0) + entry.location.runLength);
        }
      }
      for (let slab = 0; slab < 20; slab++) {
        expect(table.slabReferences(`slab-${slab}`)).toBe(references.get(`slab-${slab}`) ?? 0);
        expect(table.slabLiveRows(`slab-${slab}`)).toBe(rows.get(`slab-${slab}`) ?? 0);
      }
      expect(table.dedicatedNamespaces().sort(byteOrder)).toEqual(
        sorted.filter((name) => model.get(name)!.location.kind === "dedicated"),
      );
      // Columns (the checkpoint's form) load into an equal table, hash slots and all.
      const copy = new CatalogTable();
      expect(copy.loadColumns(table.columns())).toBeUndefined();
      expect(copy.size).toBe(table.size);
      expect(copy.recordCount).toBe(table.recordCount);
      for (const [key, entry] of model) expect(copy.get(key)).toEqual(entry);
      for (let probe = 0; probe < 50; probe++) {
        const name = randomName(random);
        expect(copy.has(name)).toBe(model.has(name));
      }
      for (let slab = 0; slab < 20; slab++) {
        expect(copy.slabReferences(`slab-${slab}`)).toBe(table.slabReferences(`slab-${slab}`));
        expect(copy.slabLiveRows(`slab-${slab}`)).toBe(table.slabLiveRows(`slab-${slab}`));
      }
      expect(copy.list({ limit: 1_000_000 })).toEqual(table.list({ limit: 1_000_000 }));
      const chosen = new Set(["slab-1", "slab-4"]);
      expect(table.namespacesIn(chosen).sort(byteOrder)).toEqual(
        sorted.filter((name) => {
          const location = model.get(name)!.location;
          return location.kind === "packed" && chosen.has(location.slab);
        }),
      );
      expect(table.referencedSlabs().sort()).toEqual([...references.keys()].sort());
      for (const prefix of ["", "tenant-2", "x"]) {
        const existing = sorted.filter((name) => {
          const entry = model.get(name)!;
          return name.startsWith(prefix) && (entry.explicit || entry.records > 0);
        });
        expect(table.countExisting(prefix)).toBe(existing.length);
        const skip = new Set(existing.filter((_, i) => i % 3 === 0));
        const after = existing[5];
        const page = table.listExisting({ prefix, after, limit: 25, skip }).map((entry) => entry.namespace);
        const wanted = existing.filter(
          (name) => (after === undefined || byteOrder(name, after) > 0) && !skip.has(name),
        );
        expect(page).toEqual(wanted.slice(0, 25));
      }
      const iterated = [...table.entries()].sort((a, b) => byteOrder(a.namespace, b.namespace));
      expect(iterated).toEqual(sorted.map((name) => model.get(name)!));
    }
  }
});

test("columns that disagree load nothing and say what is wrong", () => {
  const table = new CatalogTable();
  table.set({
    namespace: "a",
    explicit: false,
    flushedLsn: 3n,
    records: 1,
    location: { kind: "packed", slab: "s", runStart: 0, runLength: 1 },
    manifestVersion: 0,
  });
  const columns = table.columns();
  const bad = [
    { ...columns, flushedLsn: new BigUint64Array(0) },
    { ...columns, nameBytes: new Uint8Array(5) },
    { ...columns, slab: Int32Array.of(3) },
    { ...columns, levelsAt: Uint32Array.of(0) },
  ];
  for (const body of bad) {
    const fresh = new CatalogTable();
    expect(fresh.loadColumns(body)).toBeString();
    expect(fresh.size).toBe(0);
  }
});

test("entries are copies: changing a returned entry changes nothing stored", () => {
  const table = new CatalogTable();
  const deleted = new Uint8Array([1, 2]);
  table.set({
    namespace: "a",
    explicit: false,
    flushedLsn: 5n,
    records: 2,
    location: { kind: "packed", slab: "s", runStart: 0, runLength: 2, deleted },
    manifestVersion: 0,
  });
  deleted[0] = 9;
  const read = table.get("a")!;
  expect(read.location).toEqual({
    kind: "packed",
    slab: "s",
    runStart: 0,
    runLength: 2,
    deleted: new Uint8Array([1, 2]),
  });
  if (read.location.kind === "packed") read.location.deleted![1] = 7;
  const again = table.get("a")!.location;
  expect(again.kind === "packed" ? [...again.deleted!] : []).toEqual([1, 2]);
});

test("100,000 namespaces cost well under 100 bytes each in the table", () => {
  const table = new CatalogTable();
  for (let n = 0; n < 100_000; n++) {
    table.set({
      namespace: `tenant-${n}`,
      explicit: false,
      flushedLsn: BigInt(n),
      records: 2,
      location: { kind: "packed", slab: `slab-${n >> 12}`, runStart: n * 2, runLength: 2 },
      manifestVersion: 0,
    });
  }
  expect(table.size).toBe(100_000);
  expect(table.recordCount).toBe(200_000);
  expect(table.bytes / table.size).toBeLessThan(100);
  expect(table.list({ prefix: "tenant-9999", limit: 20 })).toEqual([
    "tenant-9999",
    "tenant-99990",
    "tenant-99991",
    "tenant-99992",
    "tenant-99993",
    "tenant-99994",
    "tenant-99995",
    "tenant-99996",
    "tenant-99997",
    "tenant-99998",
    "tenant-99999",
  ]);
});
