/**
 * Test support: starts the real server CLI (`scripts/needle.ts serve`) as a child process
 * on a free loopback port and reads the URL from its first stdout line. Used by the
 * conformance, fuzz and restart tests and by the HTTP benchmarks; never imported by production code.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { seededRandom } from "../../ffi/seeded-random.ts";
import { httpHeaderSizeFlag } from "./app.ts";
export { seededRandom };

const repoRoot = resolve(import.meta.dir, "..", "..");
/** Start-up includes log recovery; generous because the test machine is shared. */
const startMsMax = 30_000;

export interface RunningServer {
  url: string;
  process: Subprocess<"ignore", "pipe", "pipe">;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number>;
  /** Everything the server wrote to stderr so far (request logs, warnings). */
  stderr(): string;
}

export function makeDataDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `needle-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `firstLine`: what the first stdout line must look like (default: the URL; a cluster member
 * without the gateway role prints `member <name> pid <pid>`, answered as `url`).
 */
export async function startServer(
  dataDir: string,
  extraArgs: string[] = [],
  options: { firstLine?: RegExp } = {},
): Promise<RunningServer> {
  const child = Bun.spawn(
    [
      process.execPath,
      httpHeaderSizeFlag,
      "run",
      "scripts/needle.ts",
      "serve",
      "--port",
      "0",
      "--data",
      dataDir,
      ...extraArgs,
    ],
    {
      cwd: repoRoot,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NEEDLE_API_KEYS: "" },
    },
  );
  let stderrText = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderrText += decoder.decode(chunk, { stream: true });
  })();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let stdoutText = "";
  const deadline = Date.now() + startMsMax;
  while (!stdoutText.includes("\n")) {
    const next = await Promise.race([
      reader.read(),
      Bun.sleep(Math.max(1, deadline - Date.now())).then(() => "timeout" as const),
    ]);
    if (next === "timeout" || next.done) {
      child.kill("SIGKILL");
      throw new Error(`server did not print its URL; stderr:\n${stderrText}`);
    }
    stdoutText += decoder.decode(next.value, { stream: true });
  }
  reader.releaseLock();
  const url = stdoutText.split("\n")[0]!.trim();
  if (!(options.firstLine ?? /^http:\/\/127\.0\.0\.1:\d+$/).test(url)) {
    child.kill("SIGKILL");
    throw new Error(`unexpected first line ${JSON.stringify(url)}; stderr:\n${stderrText}`);
  }
  return {
    url,
    process: child,
    stderr: () => stderrText,
    async stop() {
      child.kill("SIGTERM");
      return await child.exited;
    },
  };
}
