/**
 * Metadata filters: parse a Pinecone filter into the validated AST, evaluate it directly
 * against one record (memtable), or against a slab's metadata index into a row bitmap.
 * Semantics and limits are documented in storage/DESIGN.md ("Metadata filters").
 */
export { compileFilter, type MetadataPredicate } from "./evaluate.ts";
export {
  filterClausesMax,
  filterDepthMax,
  filterFieldNameLengthMax,
  filterInValuesMax,
  filterInValuesTotalMax,
} from "./limits.ts";
export { encodeMetadataIndex, MetadataIndex } from "./metadata-index.ts";
export { parseFilter } from "./parse.ts";
export { restrictFilterToFields } from "./restrict.ts";
