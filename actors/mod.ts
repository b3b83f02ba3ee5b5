/** actors/: the actor runtime, the actors, and the embedded engine built from them. */
export type * from "./api.ts";
export { flushBytesMaxDefault, flushIdleMsDefault, flushRowsMaxDefault, openEngine } from "./engine.ts";
export { canonicalNamespace, defaultNamespace } from "./layout.ts";
