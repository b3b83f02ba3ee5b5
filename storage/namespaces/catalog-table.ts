/**
 * The in-memory catalog of an index's namespaces, columnar (DESIGN.md decision 3): an idle
 * namespace costs bytes in a few typed arrays, not JS objects. A `Map<string, Entry>` would
 * cost a string and an object per namespace (well over 100 bytes, and a million objects for
 * the collector to walk); here it is about 60 bytes, in arrays the collector never scans.
 *
 * Layout:
 *   - names: UTF-8 bytes in one growing arena; per entry its start and length;
 *   - an open-addressing hash table (linear probing, power-of-two capacity, at most half
 *     full) of entry numbers, keyed by a CRC-32 of the name bytes;
 *   - per entry: flushed LSN, record count, flags (in use, explicit, packed), packed location
 *     (slab number into a small interned list of slab ids, run start, run length);
 *   - the deleted rows of a packed run, only for runs that have any (a Map by entry number).
 * Removed entries go on a free list; their name bytes stay in the arena until `compact`.
 * Sorted listing uses an index of entry numbers sorted by name, rebuilt when it is asked for
 * after a change (O(n log n); decision 3 notes the incremental form for later).
 */

export type CatalogLocation =
  | { kind: "dedicated" }
  | { kind: "packed"; slab: string; runStart: number; runLength: number; deleted?: Uint8Array };

export interface CatalogEntry {
  namespace: string;
  /** Created through the namespaces API: listed even with no records. */
  explicit: boolean;
  flushedLsn: bigint;
  /** Live records as of the flushed state. */
  records: number;
  location: CatalogLocation;
  /** The version of the dedicated manifest this entry was taken from (0: none). */
  manifestVersion: number;
  /**
   * Per level of a dedicated namespace's slabs: level, slabs, rows, live rows, bytes (five
   * numbers each; describeIndexStats' compaction extension). Absent when it has no slabs.
   */
  levels?: Float64Array;
}

/**
 * Every entry as columns (the catalog checkpoint's body): names as one UTF-8 block with
 * lengths and their hashes, so loading fills the table's own arrays and hash slots without a
 * string or an object per namespace (1,000,000 entries loaded one object at a time took 1.5 s).
 */
export interface CatalogColumns {
  nameBytes: Uint8Array;
  nameLengths: Uint16Array;
  /** CRC-32 of each name's bytes (the table's hash). */
  nameHashes: Uint32Array;
  explicit: Uint8Array;
  flushedLsn: BigUint64Array;
  records: Float64Array;
  /** -1 for dedicated entries, else the index into `slabs`. */
  slab: Int32Array;
  slabs: string[];
  runStart: Uint32Array;
  runLength: Uint32Array;
  manifestVersion: Uint32Array;
  /** Entry positions with level stats, and the stats. */
  levelsAt: Uint32Array;
  levels: Float64Array[];
  /** Entry positions with deleted rows, and their bitsets. */
  deletedAt: Uint32Array;
  deleted: Uint8Array[];
}

const flagUsed = 1;
const flagExplicit = 2;
const flagPacked = 4;
const emptySlot = -1;
const removedSlot = -2;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CatalogTable {
  /**
   * Every namespace has flushed every write at or below this LSN (what the index's log trim
   * found, kept at shutdown): recovery reads the log only above it.
   */
  cleanThroughLsn = 0n;
  private count = 0;
  private capacity = 0;
  private arena = new Uint8Array(1 << 12);
  private arenaUsed = 0;
  private nameStart = new Uint32Array(0);
  private nameLength = new Uint16Array(0);
  private flags = new Uint8Array(0);
  private flushedLsn = new BigUint64Array(0);
  private records = new Float64Array(0);
  private slab = new Uint32Array(0);
  private runStart = new Uint32Array(0);
  private runLength = new Uint32Array(0);
  private manifestVersion = new Uint32Array(0);
  private readonly deleted = new Map<number, Uint8Array>();
  private readonly levels = new Map<number, Float64Array>();
  private slots = new Int32Array(16).fill(emptySlot);
  private slotsUsed = 0;
  private readonly free: number[] = [];
  private readonly slabIds: string[] = [];
  /** Per slab number: entries whose packed location names it. */
  private slabRefs = new Uint32Array(16);
  /** Per slab number: rows of the runs entries name in it (its live rows; compaction's measure). */
  private slabRows = new Float64Array(16);
  private readonly slabNumbers = new Map<string, number>();
  private sorted: Uint32Array | undefined;
  private totalRecords = 0;

  /** Namespaces in the catalog. */
  get size(): number {
    return this.count;
  }

  /** Sum of `records` over every entry. */
  get recordCount(): number {
    return this.totalRecords;
  }

  get(namespace: string): CatalogEntry | undefined {
    const entry = this.find(encoder.encode(namespace));
    return entry < 0 ? undefined : this.entryAt(entry);
  }

  /**
   * A small namespace's flushed LSN without building its entry: 0 when it is not in the
   * catalog, undefined when it is dedicated (its manifest says).
   */
  packedFlushedLsn(namespace: string): bigint | undefined {
    const entry = this.find(encoder.encode(namespace));
    if (entry < 0) return 0n;
    return (this.flags[entry]! & flagPacked) !== 0 ? this.flushedLsn[entry]! : undefined;
  }

  has(namespace: string): boolean {
    return this.find(encoder.encode(namespace)) >= 0;
  }

  /** Adds or replaces the namespace's entry. */
  set(value: CatalogEntry): void {
    const name = encoder.encode(value.namespace);
    if (name.length > 0xffff) throw new RangeError("namespace names are at most 65,535 bytes");
    let entry = this.find(name);
    if (entry < 0) {
      entry = this.allocate(name);
      this.insertSlot(name, entry);
      this.count += 1;
      this.sorted = undefined;
    } else {
      this.totalRecords -= this.records[entry]!;
      if ((this.flags[entry]! & flagPacked) !== 0) this.unreference(entry);
    }
    let flags = flagUsed;
    if (value.explicit) flags |= flagExplicit;
    this.flushedLsn[entry] = value.flushedLsn;
    this.records[entry] = value.records;
    this.totalRecords += value.records;
    this.manifestVersion[entry] = value.manifestVersion;
    this.deleted.delete(entry);
    this.levels.delete(entry);
    if (value.levels !== undefined && value.levels.length > 0) this.levels.set(entry, value.levels.slice());
    if (value.location.kind === "packed") {
      flags |= flagPacked;
      this.slab[entry] = this.slabNumber(value.location.slab);
      this.slabRefs[this.slab[entry]!]!++;
      this.slabRows[this.slab[entry]!]! += value.location.runLength;
      this.runStart[entry] = value.location.runStart;
      this.runLength[entry] = value.location.runLength;
      if (value.location.deleted !== undefined) this.deleted.set(entry, value.location.deleted.slice());
    } else {
      this.slab[entry] = 0;
      this.runStart[entry] = 0;
      this.runLength[entry] = 0;
    }
    this.flags[entry] = flags;
  }

  /** Removes the namespace; true when it was there. */
  delete(namespace: string): boolean {
    const name = encoder.encode(namespace);
    const slot = this.slotOf(name);
    if (slot < 0) return false;
    const entry = this.slots[slot]!;
    this.slots[slot] = removedSlot;
    this.totalRecords -= this.records[entry]!;
    if ((this.flags[entry]! & flagPacked) !== 0) this.unreference(entry);
    this.flags[entry] = 0;
    this.deleted.delete(entry);
    this.levels.delete(entry);
    this.free.push(entry);
    this.count -= 1;
    this.sorted = undefined;
    return true;
  }

  /**
   * Names in byte order (what `listNamespaces` pages through): those starting with `prefix`,
   * after `after` (exclusive), at most `limit`.
   */
  list(options: { prefix?: string; after?: string; limit: number }): string[] {
    const out: string[] = [];
    this.scan(options.prefix ?? "", options.after, (entry) => {
      out.push(this.nameOf(entry));
      return out.length < options.limit;
    });
    return out;
  }

  /**
   * Like `list`, but only namespaces that exist (created explicitly, or holding records), not
   * named in `skip`, as entries: one page of `listNamespaces`.
   */
  listExisting(options: {
    prefix?: string;
    after?: string;
    limit: number;
    skip: Set<string>;
  }): CatalogEntry[] {
    const out: CatalogEntry[] = [];
    if (options.limit <= 0) return out;
    this.scan(options.prefix ?? "", options.after, (entry) => {
      if (!this.existsAt(entry)) return true;
      const name = this.nameOf(entry);
      if (!options.skip.has(name)) out.push(this.entryAt(entry));
      return out.length < options.limit;
    });
    return out;
  }

  /** The highest flushed LSN of any entry (0n when empty). */
  maxFlushedLsn(): bigint {
    let max = 0n;
    for (let entry = 0; entry < this.capacity; entry++) {
      if ((this.flags[entry]! & flagUsed) !== 0 && this.flushedLsn[entry]! > max)
        max = this.flushedLsn[entry]!;
    }
    return max;
  }

  /** Namespaces named `prefix...` that exist, counted without building any object. */
  countExisting(prefix: string): number {
    let count = 0;
    this.scan(prefix, undefined, (entry) => {
      if (this.existsAt(entry)) count++;
      return true;
    });
    return count;
  }

  private existsAt(entry: number): boolean {
    return (this.flags[entry]! & flagExplicit) !== 0 || this.records[entry]! > 0;
  }

  /** Visits, in name order, the entries named `prefix...` after `after`, while `visit` says so. */
  private scan(prefix: string, after: string | undefined, visit: (entry: number) => boolean): void {
    const sorted = this.sortedEntries();
    const prefixBytes = encoder.encode(prefix);
    const afterBytes = after === undefined ? undefined : encoder.encode(after);
    // First position whose name is > after and >= prefix.
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const entry = sorted[middle]!;
      const beforeStart =
        this.compareName(entry, prefixBytes) < 0 ||
        (afterBytes !== undefined && this.compareName(entry, afterBytes) <= 0);
      if (beforeStart) low = middle + 1;
      else high = middle;
    }
    for (let at = low; at < sorted.length; at++) {
      const entry = sorted[at]!;
      if (!this.startsWith(entry, prefixBytes)) return;
      if (!visit(entry)) return;
    }
  }

  /** Entries whose packed location names `slab`. */
  slabReferences(slab: string): number {
    const number = this.slabNumbers.get(slab);
    return number === undefined ? 0 : this.slabRefs[number]!;
  }

  /** Rows of the runs entries name in `slab` (live rows of the file as the catalog sees it). */
  slabLiveRows(slab: string): number {
    const number = this.slabNumbers.get(slab);
    return number === undefined ? 0 : this.slabRows[number]!;
  }

  /** Namespaces whose packed location is one of `slabs` (a scan: packed-slab compaction). */
  namespacesIn(slabs: ReadonlySet<string>): string[] {
    const numbers = new Set<number>();
    for (const slab of slabs) {
      const number = this.slabNumbers.get(slab);
      if (number !== undefined) numbers.add(number);
    }
    return this.namesWhere((entry, flags) => (flags & flagPacked) !== 0 && numbers.has(this.slab[entry]!));
  }

  /** Namespaces with a location of their own (dedicated): a scan of the flags, no entry objects. */
  dedicatedNamespaces(): string[] {
    return this.namesWhere((_, flags) => (flags & flagPacked) === 0);
  }

  /** Names of the entries in use that `keep` picks, by a scan of the columns. */
  private namesWhere(keep: (entry: number, flags: number) => boolean): string[] {
    const out: string[] = [];
    for (let entry = 0; entry < this.capacity; entry++) {
      const flags = this.flags[entry]!;
      if ((flags & flagUsed) !== 0 && keep(entry, flags)) out.push(this.nameOf(entry));
    }
    return out;
  }

  /** Every entry as columns, in entry order (for the checkpoint). */
  columns(): CatalogColumns {
    const used: number[] = [];
    let nameTotal = 0;
    for (let entry = 0; entry < this.capacity; entry++) {
      if ((this.flags[entry]! & flagUsed) === 0) continue;
      used.push(entry);
      nameTotal += this.nameLength[entry]!;
    }
    const count = used.length;
    const columns: CatalogColumns = {
      nameBytes: new Uint8Array(nameTotal),
      nameLengths: new Uint16Array(count),
      nameHashes: new Uint32Array(count),
      explicit: new Uint8Array(count),
      flushedLsn: new BigUint64Array(count),
      records: new Float64Array(count),
      slab: new Int32Array(count),
      slabs: [],
      runStart: new Uint32Array(count),
      runLength: new Uint32Array(count),
      manifestVersion: new Uint32Array(count),
      levelsAt: new Uint32Array(0),
      levels: [],
      deletedAt: new Uint32Array(0),
      deleted: [],
    };
    const slabIndex = new Map<number, number>();
    const levelsAt: number[] = [];
    const deletedAt: number[] = [];
    let offset = 0;
    used.forEach((entry, at) => {
      const name = this.nameBytes(entry);
      columns.nameBytes.set(name, offset);
      offset += name.length;
      columns.nameLengths[at] = name.length;
      columns.nameHashes[at] = this.hashOf(name);
      const flags = this.flags[entry]!;
      columns.explicit[at] = (flags & flagExplicit) !== 0 ? 1 : 0;
      columns.flushedLsn[at] = this.flushedLsn[entry]!;
      columns.records[at] = this.records[entry]!;
      columns.manifestVersion[at] = this.manifestVersion[entry]!;
      if ((flags & flagPacked) !== 0) {
        let index = slabIndex.get(this.slab[entry]!);
        if (index === undefined) {
          index = columns.slabs.length;
          columns.slabs.push(this.slabIds[this.slab[entry]!]!);
          slabIndex.set(this.slab[entry]!, index);
        }
        columns.slab[at] = index;
        columns.runStart[at] = this.runStart[entry]!;
        columns.runLength[at] = this.runLength[entry]!;
        const deleted = this.deleted.get(entry);
        if (deleted !== undefined) {
          deletedAt.push(at);
          columns.deleted.push(deleted);
        }
      } else {
        columns.slab[at] = -1;
      }
      const levels = this.levels.get(entry);
      if (levels !== undefined) {
        levelsAt.push(at);
        columns.levels.push(levels);
      }
    });
    columns.levelsAt = Uint32Array.from(levelsAt);
    columns.deletedAt = Uint32Array.from(deletedAt);
    return columns;
  }

  /**
   * Fills an empty table from columns (a checkpoint) directly into its arrays and slots.
   * Returns what is wrong with the columns (lengths, slab references), or undefined; on a
   * problem the table is left empty.
   */
  loadColumns(columns: CatalogColumns): string | undefined {
    const count = columns.nameLengths.length;
    if (this.count !== 0) return "the table is not empty";
    for (const [field, length] of [
      ["nameHashes", columns.nameHashes.length],
      ["explicit", columns.explicit.length],
      ["flushedLsn", columns.flushedLsn.length],
      ["records", columns.records.length],
      ["slab", columns.slab.length],
      ["runStart", columns.runStart.length],
      ["runLength", columns.runLength.length],
      ["manifestVersion", columns.manifestVersion.length],
    ] as const) {
      if (length !== count) return `${field} has ${length} entries, names ${count}`;
    }
    let nameTotal = 0;
    for (let at = 0; at < count; at++) nameTotal += columns.nameLengths[at]!;
    if (nameTotal !== columns.nameBytes.length) return "name lengths do not add up to the name bytes";
    for (let at = 0; at < count; at++) {
      if (columns.slab[at]! >= columns.slabs.length)
        return `entry ${at} names slab ${columns.slab[at]} of ${columns.slabs.length}`;
    }
    if (
      columns.levelsAt.length !== columns.levels.length ||
      columns.deletedAt.length !== columns.deleted.length
    )
      return "level or deleted-row lists differ in length from their positions";
    const size = Math.max(16, count);
    this.arena = new Uint8Array(Math.max(1 << 12, nameTotal));
    this.arena.set(columns.nameBytes);
    this.arenaUsed = nameTotal;
    this.nameStart = new Uint32Array(size);
    this.nameLength = new Uint16Array(size);
    this.nameLength.set(columns.nameLengths);
    this.flags = new Uint8Array(size);
    this.flushedLsn = new BigUint64Array(size);
    this.flushedLsn.set(columns.flushedLsn);
    this.records = new Float64Array(size);
    this.records.set(columns.records);
    this.slab = new Uint32Array(size);
    this.runStart = new Uint32Array(size);
    this.runLength = new Uint32Array(size);
    this.manifestVersion = new Uint32Array(size);
    this.manifestVersion.set(columns.manifestVersion);
    const slabNumbers = columns.slabs.map((slab) => this.slabNumber(slab));
    let slots = 16;
    while (slots < count * 2) slots *= 2;
    this.slots = new Int32Array(slots).fill(emptySlot);
    const mask = slots - 1;
    let start = 0;
    for (let entry = 0; entry < count; entry++) {
      this.nameStart[entry] = start;
      start += columns.nameLengths[entry]!;
      let flags = flagUsed;
      if (columns.explicit[entry] === 1) flags |= flagExplicit;
      const slab = columns.slab[entry]!;
      if (slab >= 0) {
        flags |= flagPacked;
        const number = slabNumbers[slab]!;
        this.slab[entry] = number;
        this.runStart[entry] = columns.runStart[entry]!;
        this.runLength[entry] = columns.runLength[entry]!;
        this.slabRefs[number]!++;
        this.slabRows[number]! += columns.runLength[entry]!;
      }
      this.flags[entry] = flags;
      this.totalRecords += columns.records[entry]!;
      // Names are unique: the first free slot on the probe path is the entry's.
      let slot = columns.nameHashes[entry]! & mask;
      while (this.slots[slot] !== emptySlot) slot = (slot + 1) & mask;
      this.slots[slot] = entry;
    }
    columns.levelsAt.forEach((at, i) => {
      this.levels.set(at, columns.levels[i]!.slice());
    });
    columns.deletedAt.forEach((at, i) => {
      this.deleted.set(at, columns.deleted[i]!.slice());
    });
    this.slotsUsed = count;
    this.capacity = count;
    this.count = count;
    this.sorted = undefined;
    return undefined;
  }

  /** Packed slabs some entry names. */
  referencedSlabs(): string[] {
    return this.slabIds.filter((_, number) => this.slabRefs[number]! > 0);
  }

  /** Every entry, in no particular order (checkpoints). */
  *entries(): IterableIterator<CatalogEntry> {
    for (let entry = 0; entry < this.capacity; entry++) {
      if ((this.flags[entry]! & flagUsed) !== 0) yield this.entryAt(entry);
    }
  }

  /** Bytes the table holds (arrays and arena), for the stats of what idle namespaces cost. */
  get bytes(): number {
    let deleted = 0;
    for (const bits of this.deleted.values()) deleted += bits.byteLength;
    for (const levels of this.levels.values()) deleted += levels.byteLength;
    return (
      this.arena.byteLength +
      this.slots.byteLength +
      this.capacity * (4 + 2 + 1 + 8 + 8 + 4 + 4 + 4 + 4) +
      (this.sorted?.byteLength ?? 0) +
      deleted
    );
  }

  private entryAt(entry: number): CatalogEntry {
    const flags = this.flags[entry]!;
    const location: CatalogLocation =
      (flags & flagPacked) !== 0
        ? {
            kind: "packed",
            slab: this.slabIds[this.slab[entry]!]!,
            runStart: this.runStart[entry]!,
            runLength: this.runLength[entry]!,
            ...(this.deleted.has(entry) ? { deleted: this.deleted.get(entry)!.slice() } : {}),
          }
        : { kind: "dedicated" };
    return {
      namespace: this.nameOf(entry),
      explicit: (flags & flagExplicit) !== 0,
      flushedLsn: this.flushedLsn[entry]!,
      records: this.records[entry]!,
      location,
      manifestVersion: this.manifestVersion[entry]!,
      ...(this.levels.has(entry) ? { levels: this.levels.get(entry)!.slice() } : {}),
    };
  }

  private nameOf(entry: number): string {
    const start = this.nameStart[entry]!;
    return decoder.decode(this.arena.subarray(start, start + this.nameLength[entry]!));
  }

  private nameBytes(entry: number): Uint8Array {
    const start = this.nameStart[entry]!;
    return this.arena.subarray(start, start + this.nameLength[entry]!);
  }

  /** Byte order of the entry's name against `key`. */
  private compareName(entry: number, key: Uint8Array): number {
    const name = this.nameBytes(entry);
    const shared = Math.min(name.length, key.length);
    for (let i = 0; i < shared; i++) if (name[i] !== key[i]) return name[i]! - key[i]!;
    return name.length - key.length;
  }

  private startsWith(entry: number, prefix: Uint8Array): boolean {
    const name = this.nameBytes(entry);
    if (name.length < prefix.length) return false;
    for (let i = 0; i < prefix.length; i++) if (name[i] !== prefix[i]) return false;
    return true;
  }

  private sortedEntries(): Uint32Array {
    if (this.sorted === undefined) {
      const entries = new Uint32Array(this.count);
      let at = 0;
      for (let entry = 0; entry < this.capacity; entry++)
        if ((this.flags[entry]! & flagUsed) !== 0) entries[at++] = entry;
      entries.sort((a, b) => this.compareName(a, this.nameBytes(b)));
      this.sorted = entries;
    }
    return this.sorted;
  }

  private unreference(entry: number): void {
    this.slabRefs[this.slab[entry]!]!--;
    this.slabRows[this.slab[entry]!]! -= this.runLength[entry]!;
  }

  private slabNumber(slab: string): number {
    let number = this.slabNumbers.get(slab);
    if (number === undefined) {
      number = this.slabIds.length;
      this.slabIds.push(slab);
      this.slabNumbers.set(slab, number);
      if (number === this.slabRefs.length) {
        const grown = new Uint32Array(number * 2);
        grown.set(this.slabRefs);
        this.slabRefs = grown;
        const rows = new Float64Array(number * 2);
        rows.set(this.slabRows);
        this.slabRows = rows;
      }
    }
    return number;
  }

  private hashOf(name: Uint8Array): number {
    return Bun.hash.crc32(name) >>> 0;
  }

  private equalsName(entry: number, name: Uint8Array): boolean {
    if (this.nameLength[entry] !== name.length) return false;
    const start = this.nameStart[entry]!;
    for (let i = 0; i < name.length; i++) if (this.arena[start + i] !== name[i]) return false;
    return true;
  }

  /** The slot holding `name`, or -1. */
  private slotOf(name: Uint8Array): number {
    const mask = this.slots.length - 1;
    for (let slot = this.hashOf(name) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === emptySlot) return -1;
      if (entry >= 0 && this.equalsName(entry, name)) return slot;
    }
  }

  private find(name: Uint8Array): number {
    const slot = this.slotOf(name);
    return slot < 0 ? -1 : this.slots[slot]!;
  }

  private insertSlot(name: Uint8Array, entry: number): void {
    if ((this.slotsUsed + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    const mask = this.slots.length - 1;
    let slot = this.hashOf(name) & mask;
    while (this.slots[slot]! >= 0) slot = (slot + 1) & mask;
    if (this.slots[slot] === emptySlot) this.slotsUsed += 1;
    this.slots[slot] = entry;
  }

  /** Rebuilds the slots at `size` (also drops removed markers, which count as used). */
  private rehash(size: number): void {
    while (this.count * 2 >= size) size *= 2;
    this.slots = new Int32Array(size).fill(emptySlot);
    this.slotsUsed = 0;
    const mask = size - 1;
    for (let entry = 0; entry < this.capacity; entry++) {
      if ((this.flags[entry]! & flagUsed) === 0) continue;
      let slot = this.hashOf(this.nameBytes(entry)) & mask;
      while (this.slots[slot] !== emptySlot) slot = (slot + 1) & mask;
      this.slots[slot] = entry;
      this.slotsUsed += 1;
    }
  }

  /** A free entry number with the name stored, growing the columns and the arena as needed. */
  private allocate(name: Uint8Array): number {
    const entry = this.free.pop() ?? this.grow();
    if (this.arenaUsed + name.length > this.arena.length) {
      const bigger = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + name.length));
      bigger.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = bigger;
    }
    this.arena.set(name, this.arenaUsed);
    this.nameStart[entry] = this.arenaUsed;
    this.nameLength[entry] = name.length;
    this.arenaUsed += name.length;
    return entry;
  }

  private grow(): number {
    const entry = this.capacity;
    if (entry === this.flags.length) {
      const size = Math.max(16, this.flags.length * 2);
      const grown = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array | BigUint64Array>(
        old: T,
        make: (length: number) => T,
      ): T => {
        const next = make(size);
        next.set(old as never);
        return next;
      };
      this.nameStart = grown(this.nameStart, (n) => new Uint32Array(n));
      this.nameLength = grown(this.nameLength, (n) => new Uint16Array(n));
      this.flags = grown(this.flags, (n) => new Uint8Array(n));
      this.flushedLsn = grown(this.flushedLsn, (n) => new BigUint64Array(n));
      this.records = grown(this.records, (n) => new Float64Array(n));
      this.slab = grown(this.slab, (n) => new Uint32Array(n));
      this.runStart = grown(this.runStart, (n) => new Uint32Array(n));
      this.runLength = grown(this.runLength, (n) => new Uint32Array(n));
      this.manifestVersion = grown(this.manifestVersion, (n) => new Uint32Array(n));
    }
    this.capacity += 1;
    return entry;
  }
}
