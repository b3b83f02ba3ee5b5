/**
 * Versioned manifests, committed atomically (new file + rename + directory fsync), generic
 * over a msgpack-able body. Why: storage/DESIGN.md "Manifests".
 */
export { manifestBodyBytesMax, manifestFileName, manifestPackr } from "./format.ts";
export { ManifestStore } from "./manifest-store.ts";
