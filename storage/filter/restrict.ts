/**
 * Filters over an index that indexes only some metadata fields (a pod index's
 * `metadataConfig.indexed`): a field that is not indexed cannot be filtered on, so every
 * condition on it sees the field as absent. `{genre: {$eq: "x"}}` on an unindexed `genre`
 * matches nothing; `{genre: {$ne: "x"}}` matches every record, as for records without it.
 * The rewrite happens once per request, so the memtable's evaluator and every slab's metadata
 * index see the same filter.
 */
import type { Filter } from "../types.ts";
import { compileFilter } from "./evaluate.ts";

const matchAll: Filter = { kind: "and", clauses: [] };
const matchNone: Filter = { kind: "or", clauses: [] };

export function restrictFilterToFields(filter: Filter, indexed: ReadonlySet<string>): Filter {
  switch (filter.kind) {
    case "and":
    case "or":
      return {
        kind: filter.kind,
        clauses: filter.clauses.map((clause) => restrictFilterToFields(clause, indexed)),
      };
    case "field":
      if (indexed.has(filter.field)) return filter;
      return compileFilter(filter)(undefined) ? matchAll : matchNone;
  }
}
