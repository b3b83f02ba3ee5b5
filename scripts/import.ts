/**
 * `needle import --data DIR --index NAME [--namespace NS] [--ids FILE] [--on-error continue|abort]
 *                [--resume] [--batch N] FILE...`
 *
 * Loads JSONL, Parquet, .fvecs/.bvecs or .npy files into an index of the data directory DIR
 * (the embedded engine, opened here: not while a server holds DIR). A progress bar with rate
 * and ETA on a terminal (a line every few seconds otherwise); each bad row on stderr as
 * `bad row <file position>: <reason>`; a summary line at the end:
 *
 *   imported 200000 records into docs/"" in 12.3 s (16260 records/s); 2 bad rows skipped
 *
 * The progress record lives in DIR/imports/<hash>.json (written after each acknowledged
 * batch, removed when the import completes): `--resume` continues an interrupted import of
 * the same files. Compaction is paused while importing (it runs when the index is next
 * served). Exit status: 0 done, 1 aborted at a bad row or failed, 2 bad usage.
 */
import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import { openEngine } from "../actors/mod.ts";
import { countRows, type ImportState, initialState, runImport } from "../gateway/import/runner.ts";
import { ensureDirectoryDurably, isNotFound, writeFileDurably } from "../storage/fsync.ts";

const usage = `usage: needle import --data DIR --index NAME [--namespace NS] [--ids FILE]
                     [--on-error continue|abort] [--resume] [--batch N] FILE...

  FILE        .jsonl/.ndjson (Pinecone records), .parquet (id, values, sparse_values,
              metadata), .fvecs, .bvecs or .npy (2-D float32/float64/uint8/int8)
  --data      the data directory of the index (not while a server runs on it)
  --index     the index to load (it must exist)
  --namespace the namespace (default "", the default namespace)
  --ids       ids of .fvecs/.bvecs/.npy rows, one per line (default: the row numbers)
  --on-error  continue: skip bad rows and report them (default); abort: stop at the first,
              applying nothing of its batch
  --resume    continue the interrupted import of the same files
  --batch     records per upsert (default 1000)
  --verbose   also print the engine's event lines (flushes, compactions)

Compaction is deferred while importing: it runs when the index is next served.`;

function fail(message: string): never {
  process.stderr.write(`needle import: ${message}\n`);
  process.exit(2);
}

/** One progress record per (index, namespace, files): a second import of other files has its own. */
function statePath(dataDir: string, index: string, namespace: string, files: string[]): string {
  const key = JSON.stringify([index, namespace, files.map((file) => resolve(file))]);
  return join(dataDir, "imports", `${createHash("sha256").update(key).digest("hex").slice(0, 24)}.json`);
}

async function readState(path: string): Promise<ImportState | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as ImportState;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function importCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: "string" },
      index: { type: "string" },
      namespace: { type: "string", default: "" },
      ids: { type: "string" },
      "on-error": { type: "string", default: "continue" },
      resume: { type: "boolean", default: false },
      batch: { type: "string", default: "1000" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (values.data === undefined) fail(`--data DIR is required\n${usage}`);
  if (values.index === undefined) fail(`--index NAME is required\n${usage}`);
  if (positionals.length === 0) fail(`name at least one FILE\n${usage}`);
  const onError = values["on-error"];
  if (onError !== "continue" && onError !== "abort")
    fail(`--on-error must be continue or abort (received ${JSON.stringify(onError)})`);
  const batch = Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 1000)
    fail(`--batch must be an integer in 1..1000 (received ${JSON.stringify(values.batch)})`);
  const ids = values.ids === undefined ? undefined : (await readFile(values.ids, "utf8")).split("\n");
  if (ids !== undefined && ids.at(-1) === "") ids.pop();

  const dataDir = values.data;
  const index = values.index;
  const namespace = values.namespace;
  const progressFile = statePath(dataDir, index, namespace, positionals);
  const saved = await readState(progressFile);
  if (saved !== undefined && !values.resume)
    process.stderr.write(
      "needle import: an interrupted import of these files was found; starting over (--resume continues it)\n",
    );
  const request = {
    index,
    namespace,
    files: positionals,
    onError,
    ids,
    batchRecords: batch,
    resume: values.resume ? saved : undefined,
  } as const;
  const start = await initialState(request); // checks the files and the saved record first
  let total = 0;
  for (const file of positionals) total += await countRows(file);

  // Compaction waits until the index is next served: a bulk load then only appends level-0
  // slabs instead of sharing two cores with merges and index builds (measured in
  // bench-results/import-*.md). The engine's event lines (JSON) show only with --verbose.
  const engine = await openEngine({
    dir: dataDir,
    compaction: { paused: true },
    log: (line) => {
      if (values.verbose || !line.startsWith("{")) process.stderr.write(`${line}\n`);
    },
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await engine.close();
  };
  process.once("SIGINT", () => {
    // Stop at once: the progress record holds every acknowledged batch; --resume continues.
    void close().finally(() => process.exit(130));
  });
  const interactive = process.stderr.isTTY === true;
  const bar = new SingleBar({
    format: "{bar} {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}",
    etaBuffer: 50,
    noTTYOutput: !interactive,
    notTTYSchedule: 2000,
    stream: process.stderr,
    hideCursor: interactive,
  });
  const done = (state: ImportState) => state.files.reduce((sum, file) => sum + file.rowsDone, 0);
  const started = performance.now();
  const startRows = done(start);
  try {
    const description = await engine.describeIndex(index);
    await ensureDirectoryDurably(join(dataDir, "imports"));
    bar.start(total, startRows, { rate: "0" });
    const summary = await runImport(
      {
        shape: description,
        upsert: async (ns, records) => {
          await engine.upsert(index, ns, records);
        },
      },
      request,
      {
        onBadRow: (row) => process.stderr.write(`bad row ${row.position}: ${row.error}\n`),
        save: (state) => writeFileDurably(progressFile, new TextEncoder().encode(JSON.stringify(state))),
        onProgress: (state) => {
          const seconds = (performance.now() - started) / 1000;
          const rate = seconds > 0 ? Math.round((done(state) - startRows) / seconds) : 0;
          bar.update(done(state), { rate: String(rate) });
        },
      },
    );
    bar.stop();
    const seconds = (performance.now() - started) / 1000;
    const imported = summary.state.recordsImported - start.recordsImported;
    const rate = Math.round(imported / Math.max(seconds, 1e-9));
    const where = `${index}/${JSON.stringify(namespace)}`;
    if (summary.outcome === "aborted") {
      const row = summary.abortedAt!;
      process.stderr.write(
        `needle import: stopped at bad row ${row.position}: ${row.error}\n(--resume --on-error continue goes on from that batch, skipping the bad rows)\n`,
      );
      process.stdout.write(
        `aborted after ${summary.state.recordsImported} records into ${where}; nothing of the bad row's batch was applied\n`,
      );
      process.exitCode = 1;
      return;
    }
    await rm(progressFile, { force: true });
    const bad = summary.state.rowsBad;
    process.stdout.write(
      `imported ${summary.state.recordsImported} records into ${where} in ${seconds.toFixed(1)} s (${rate} records/s)${
        bad > 0 ? `; ${bad} bad rows skipped` : ""
      }\n`,
    );
  } catch (error) {
    bar.stop();
    process.stderr.write(`needle import: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    await close();
  }
}
