/**
 * Needle embedded: `import { open } from "needle"`.
 *
 *     const db = await open("./data");
 *     await db.createIndex({ name: "docs", dimension: 3, metric: "cosine" });
 *     const index = db.index("docs");
 *     await index.upsert({ records: [{ id: "a", values: [0.1, 0.2, 0.3] }] });
 *     const { matches } = await index.query({ vector: [0.1, 0.2, 0.3], topK: 1 });
 *     await db.close();
 *
 * The database and index handles have the official client's (9.0.0) method names, option
 * objects and result shapes; see gateway/DESIGN.md, "Embedded library".
 */
import { openEngine } from "../../actors/mod.ts";
import { Needle } from "./database.ts";
import type { OpenOptions } from "./types.ts";

/** Opens (creating if missing) the database in `dir`. Call `close()` when done. */
export async function open(dir: string, options: OpenOptions = {}): Promise<Needle> {
  const engine = await openEngine({ ...options, dir });
  return new Needle(engine);
}

export { type ErrorCode, type ErrorKind, NeedleError } from "../../storage/errors.ts";
export { Needle } from "./database.ts";
export { NeedleIndex } from "./index-handle.ts";
export { embeddedHostScheme } from "./shapes.ts";
export type * from "./types.ts";
