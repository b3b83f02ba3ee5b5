/**
 * Replaying small namespaces without activating them (storage/namespaces/DESIGN.md decision 4):
 * after a restart, a packed (or never flushed) namespace's state is its run plus the log's
 * writes above its flushed LSN. Applied here to a plain map, in LSN order, with the same rules
 * as NamespaceState (actors/namespace/state.ts): an upsert replaces, an update merges into an
 * existing record (values and sparse values replaced, metadata merged; a missing id is left
 * alone), deletes remove, deleteAll and deleteNamespace clear (the latter also ends an
 * explicit creation), createNamespace marks the namespace explicit. The writes were checked
 * when they were acknowledged, so none is refused here.
 */
import type { VectorRecord, WriteOp } from "../../storage/types.ts";
import { mergeUpdate } from "../namespace/state.ts";

export interface ReplayState {
  records: Map<string, VectorRecord>;
  explicit: boolean;
}

export function applyWrite(state: ReplayState, write: WriteOp): void {
  switch (write.op) {
    case "upsert":
      for (const record of write.records) state.records.set(record.id, record);
      return;
    case "update":
      for (const id of write.ids) {
        const record = state.records.get(id);
        if (record !== undefined) state.records.set(id, mergeUpdate(record, write));
      }
      return;
    case "delete":
      for (const id of write.ids) state.records.delete(id);
      return;
    case "deleteAll":
      state.records.clear();
      return;
    case "deleteNamespace":
      state.records.clear();
      state.explicit = false;
      return;
    case "createNamespace":
      state.explicit = true;
      return;
  }
}
