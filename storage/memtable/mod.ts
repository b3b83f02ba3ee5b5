export { compareIds, Memtable } from "./memtable.ts";
