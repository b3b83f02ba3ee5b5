/**
 * The memtable: a namespace's acknowledged writes not yet in a slab. Invariants: memtable.ts.
 * `compareIds` is the slab's id order, re-exported here for callers that merge memtable ids
 * with slab ids.
 */
export { compareIds } from "../slab/mod.ts";
export { Memtable } from "./memtable.ts";
