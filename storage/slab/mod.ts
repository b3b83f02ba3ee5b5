/**
 * Slabs: immutable, self-describing files holding a batch of records of one namespace.
 * The byte layout is in SPEC.md beside this file.
 */
export { encodeSlab, inverseNorm, type SlabBuildInput } from "./encode.ts";
export { SlabReader, type SlabInfo } from "./reader.ts";
export type { IvfIndex } from "./vector-index.ts";
export { compareIds } from "./ids.ts";
export {
  SectionKind,
  dimMax,
  formatVersionMajor,
  formatVersionMinor,
  idBytesMax,
  sectionAlignmentBytes,
  slabBytesMax,
  slabRowsMax,
} from "./format.ts";
