/**
 * Child process for the directory-lock test: opens an engine on the given directory, prints
 * `open` (or `refused <code>` when the open fails) and then waits until it is killed.
 * Usage: bun actors/testing/hold-open-child.ts <dir>
 */
import { NeedleError } from "../../storage/errors.ts";
import { openEngine } from "../mod.ts";

const [dir] = process.argv.slice(2);
try {
  await openEngine({ dir: dir!, log: () => {} });
  process.stdout.write("open\n");
} catch (error) {
  process.stdout.write(`refused ${error instanceof NeedleError ? error.code : String(error)}\n`);
  process.exit(0);
}
setInterval(() => {}, 1_000);
