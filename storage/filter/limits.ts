/**
 * Limits on a metadata filter. They bound the work a single request can ask for: a filter is
 * checked against them while it is parsed, before anything is evaluated, and a filter over a
 * limit is refused as soon as the count passes it.
 */

/** Nesting of filter objects: the top-level object is depth 1, each `$and`/`$or` element one more. */
export const filterDepthMax = 8;

/**
 * Clauses in one filter: every field condition (`genre: {$eq: "x"}` is one, two operators on one
 * field are two) and every `$and`/`$or`. Generous for hand-written and generated filters; a
 * 100,000-clause filter is refused after counting past this, not evaluated.
 */
export const filterClausesMax = 1024;

/** Values in one `$in` or `$nin` list (Pinecone documents 10,000 per operator). */
export const filterInValuesMax = 10_000;

/** Values across all `$in`/`$nin` lists of one filter, so many long lists cannot add up. */
export const filterInValuesTotalMax = 20_000;

/** UTF-16 code units in a field name (metadata keys are far shorter in practice). */
export const filterFieldNameLengthMax = 512;
