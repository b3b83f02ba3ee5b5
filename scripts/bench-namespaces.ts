/**
 * Namespaces at scale (issue 7): what many small tenants cost, through the embedded library.
 *
 *   bun scripts/bench-namespaces.ts [--counts 10000,100000] [--writers 32] [--cold 300]
 *   (writes bench-results/namespaces.{json,md}; each count runs in fresh child processes)
 *
 * Per count N, in a temporary data directory:
 *   1. A child writes N namespaces of 1-3 records each (dimension 16, small metadata) with
 *      `--writers` concurrent writers, reports when every write was acknowledged, and is
 *      SIGKILLed without a close.
 *   2. A child reopens: recovery plus the first query (timed), then `--cold` queries on random
 *      tenants (each checked: the namespace's records, exactly, best first; p50/p99), then
 *      `describeIndexStats` (timed; its counts checked), its RSS, and `close()` (timed).
 *   3. Files and bytes on disk per namespace.
 *   4. A child reopens cleanly: open plus the first query (timed), then closes.
 * Every record is derived from the seed and the namespace number, so checks need no copy.
 * Wall-clock figures here are measurements for the table, never assertions.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { seededRandom } from "../ffi/seeded-random.ts";
import { open } from "../gateway/library/mod.ts";

const dim = 16;
const seed = 20_261_204;
const { values: args } = parseArgs({
  options: {
    counts: { type: "string", default: "10000" },
    writers: { type: "string", default: "32" },
    cold: { type: "string", default: "300" },
    phase: { type: "string" },
    dir: { type: "string" },
    count: { type: "string" },
  },
});

/** How many records namespace n has (the first draw of its generator; see recordsOf). */
function recordCountOf(n: number): number {
  return 1 + Math.floor(seededRandom(seed + n * 7919)() * 3);
}

/** Namespace n's records: 1-3 of them, ids `r0..`, seeded vectors and a small metadata. */
function recordsOf(n: number) {
  const random = seededRandom(seed + n * 7919);
  const count = 1 + Math.floor(random() * 3);
  return Array.from({ length: count }, (_, r) => ({
    id: `r${r}`,
    values: Array.from({ length: dim }, () => random() * 2 - 1),
    metadata: { tenant: n, kind: r % 2 === 0 ? "note" : "doc" },
  }));
}
const tenant = (n: number) => `tenant-${n}`;

async function writePhase(dir: string, count: number, writers: number): Promise<void> {
  const db = await open(dir, { log: () => {} });
  await db.createIndex({ name: "tenants", dimension: dim, metric: "cosine", waitUntilReady: true });
  const index = db.index("tenants");
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let n = next++; n < count; n = next++) {
        await index.namespace(tenant(n)).upsert({ records: recordsOf(n) });
      }
    }),
  );
  process.stdout.write("acked\n");
  await new Promise(() => {}); // wait for the SIGKILL
}

function percentile(sorted: number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;
}

async function checkQuery(index: ReturnType<Awaited<ReturnType<typeof open>>["index"]>, n: number) {
  const expected = recordsOf(n);
  const started = performance.now();
  const result = await index.namespace(tenant(n)).query({ vector: expected[0]!.values, topK: 3 });
  const ms = performance.now() - started;
  const ids = result.matches.map((match) => match.id).sort();
  const wanted = expected.map((record) => record.id).sort();
  const correct =
    JSON.stringify(ids) === JSON.stringify(wanted) &&
    result.matches[0]!.id === "r0" &&
    result.matches[0]!.score! > 0.999;
  return { ms, correct };
}

async function reopenPhase(dir: string, count: number, cold: number): Promise<void> {
  const started = performance.now();
  const db = await open(dir, { log: () => {} });
  const index = db.index("tenants");
  const random = seededRandom(seed ^ 0x9e3779b9);
  const first = await checkQuery(index, Math.floor(random() * count));
  const recoveryAndFirstQueryMs = performance.now() - started;
  const times: number[] = [];
  let wrong = first.correct ? 0 : 1;
  for (let q = 0; q < cold; q++) {
    const checked = await checkQuery(index, Math.floor(random() * count));
    times.push(checked.ms);
    if (!checked.correct) wrong++;
  }
  times.sort((a, b) => a - b);
  const statsStarted = performance.now();
  const stats = await index.describeIndexStats();
  const statsMs = performance.now() - statsStarted;
  // Sampled before the checks below, which are this script's own allocations.
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  let expectedTotal = 0;
  for (let n = 0; n < count; n++) expectedTotal += recordCountOf(n);
  const namespaces = Object.keys(stats.namespaces ?? {}).length;
  const statsExact = stats.totalRecordCount === expectedTotal && namespaces === count;
  const closeStarted = performance.now();
  await db.close();
  const closeMs = performance.now() - closeStarted;
  const report = {
    recoveryAndFirstQueryMs,
    coldP50Ms: percentile(times, 0.5),
    coldP99Ms: percentile(times, 0.99),
    wrongAnswers: wrong,
    statsMs,
    statsExact,
    rssMb,
    closeMs,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function cleanReopenPhase(dir: string, count: number): Promise<void> {
  const started = performance.now();
  const db = await open(dir, { log: () => {} });
  const checked = await checkQuery(db.index("tenants"), count - 1);
  const ms = performance.now() - started;
  await db.close();
  process.stdout.write(`${JSON.stringify({ cleanReopenAndFirstQueryMs: ms, correct: checked.correct })}\n`);
}

/** Runs this script as a child in `phase`; resolves with its last stdout line (JSON or "acked"). */
function child(phase: string, dir: string, count: number, killWhen?: string): Promise<string> {
  return new Promise((done, fail) => {
    const proc = spawn(
      process.execPath,
      [
        import.meta.path,
        "--phase",
        phase,
        "--dir",
        dir,
        "--count",
        String(count),
        "--writers",
        args.writers!,
        "--cold",
        args.cold!,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    proc.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (killWhen !== undefined && out.includes(killWhen)) proc.kill("SIGKILL");
    });
    proc.on("exit", (code, signal) => {
      if (code !== 0 && signal !== "SIGKILL") fail(new Error(`${phase} child exited with ${code ?? signal}`));
      else done(out.trim().split("\n").pop() ?? "");
    });
  });
}

function diskUsage(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

async function main(): Promise<void> {
  const results: Record<string, number | boolean>[] = [];
  for (const count of args.counts!.split(",").map(Number)) {
    const dir = mkdtempSync(join(tmpdir(), "needle-bench-namespaces-"));
    try {
      const writeStarted = performance.now();
      await child("write", dir, count, "acked");
      const writeSeconds = (performance.now() - writeStarted) / 1000;
      const reopened = JSON.parse(await child("reopen", dir, count));
      const disk = diskUsage(dir);
      const clean = JSON.parse(await child("clean", dir, count));
      results.push({
        namespaces: count,
        writeSeconds,
        ...reopened,
        filesPerHundredNamespaces: (100 * disk.files) / count,
        bytesPerNamespace: disk.bytes / count,
        ...clean,
      });
      console.error(JSON.stringify(results[results.length - 1]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const when = new Date().toISOString();
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const goal = "goal (issue 7, 100k)";
  const lines = [
    "# Namespaces at scale: what small tenants cost",
    "",
    `N namespaces of 1-3 records (dimension ${dim}), ${args.writers} concurrent writers through the library, SIGKILL without close, reopen. ${cpu}, Bun ${Bun.version}, ${when}.`,
    "",
    `| figure | ${results.map((r) => `${r.namespaces}`).join(" | ")} | ${goal} |`,
    `|---|${results.map(() => "---:").join("|")}|---:|`,
    ...(
      [
        ["write all (s)", "writeSeconds", 1, "—"],
        ["recovery + first query (ms)", "recoveryAndFirstQueryMs", 0, "2,000"],
        ["cold query p50 (ms)", "coldP50Ms", 1, "—"],
        ["cold query p99 (ms)", "coldP99Ms", 1, "20"],
        ["wrong answers", "wrongAnswers", 0, "0"],
        ["describeIndexStats (ms)", "statsMs", 0, "1,000"],
        ["stats exact", "statsExact", -1, "yes"],
        ["RSS after recovery, queries, stats (MB)", "rssMb", 0, "400"],
        ["close() (ms)", "closeMs", 0, "5,000"],
        ["files per 100 namespaces", "filesPerHundredNamespaces", 2, "1"],
        ["bytes on disk per namespace", "bytesPerNamespace", 0, "2,048"],
        ["clean reopen + first query (ms)", "cleanReopenAndFirstQueryMs", 0, "500"],
      ] as const
    ).map(
      ([label, key, digits, target]) =>
        `| ${label} | ${results
          .map((r) => {
            const value = r[key];
            return digits < 0 ? (value ? "yes" : "no") : Number(value).toFixed(digits);
          })
          .join(" | ")} | ${target} |`,
    ),
    "",
    `Rerun: \`bun scripts/bench-namespaces.ts --counts ${args.counts}\`.`,
  ];
  const text = lines.join("\n");
  console.log(text);
  const out = resolve(import.meta.dir, "..", "bench-results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "namespaces.md"), `${text}\n`);
  writeFileSync(join(out, "namespaces.json"), `${JSON.stringify({ when, cpu, results }, null, 2)}\n`);
}

const count = Number(args.count);
if (args.phase === "write") await writePhase(args.dir!, count, Number(args.writers));
else if (args.phase === "reopen") await reopenPhase(args.dir!, count, Number(args.cold));
else if (args.phase === "clean") await cleanReopenPhase(args.dir!, count);
else await main();
