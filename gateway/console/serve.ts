/**
 * Serves the console's three files at /console: the page, its script (app.ts bundled by
 * Bun.build for the browser the first time it is asked for, then kept in memory) and its
 * style. Nothing is fetched from elsewhere at run time. The files hold no data: every number
 * the console shows comes from the API, with the key the user typed.
 */
import { join } from "node:path";

const dir = import.meta.dir;

export interface ConsoleAsset {
  body: string;
  contentType: string;
}

let bundle: Promise<string> | undefined;

async function buildScript(): Promise<string> {
  const result = await Bun.build({ entrypoints: [join(dir, "app.ts")], target: "browser", minify: true });
  if (!result.success || result.outputs.length !== 1)
    throw new Error(`the console's script did not build: ${result.logs.map(String).join("\n")}`);
  return result.outputs[0]!.text();
}

/** The asset at `name` (`""` is the page), or undefined for any other name. */
export async function consoleAsset(name: string): Promise<ConsoleAsset | undefined> {
  switch (name) {
    case "":
      return {
        body: await Bun.file(join(dir, "index.html")).text(),
        contentType: "text/html; charset=utf-8",
      };
    case "style.css":
      return { body: await Bun.file(join(dir, "style.css")).text(), contentType: "text/css; charset=utf-8" };
    case "app.js":
      bundle ??= buildScript().catch((error: unknown) => {
        bundle = undefined; // a later request tries again
        throw error;
      });
      return { body: await bundle, contentType: "text/javascript; charset=utf-8" };
    default:
      return undefined;
  }
}
