/**
 * The Needle command line.
 *
 *   bun run needle serve [--host 127.0.0.1] [--port 5080] [--data ./data]
 *                        [--api-key KEY]... [--public-url URL] [--metrics-public] [--log-level info]
 *                        [--flush-rows-max N] [--min-free-bytes 64MB] [--min-free-percent 0]
 *                        [--memory-max 4GB] [--slab-memory 2GB] [--nats nats://127.0.0.1:4222]
 *                        [--role gateway,namespace,executor|all --name NAME --replicas 1|3]
 *
 * Environment: NEEDLE_HOST, NEEDLE_PORT, NEEDLE_DATA, NEEDLE_API_KEYS (comma-separated),
 * NEEDLE_LOG_LEVEL, NEEDLE_MIN_FREE_BYTES, NEEDLE_MIN_FREE_PERCENT, NEEDLE_MEMORY_MAX, NEEDLE_SLAB_MEMORY, NEEDLE_NATS, NEEDLE_ROLES. Flags win
 * over the environment. Sizes take units (kb, mb, gb, tb: powers of 1024).
 *
 * `serve` steps:
 *   1. Parse flags; refuse to bind a non-loopback address without API keys.
 *   2. Open the engine on the data directory (recovers the request log); with --role, join the
 *      cluster on --nats instead (actors/distribution/host.ts): the gateway role serves a
 *      ClusterEngine, the namespace role owns indexes in --data.
 *   3. Listen; print exactly one stdout line, the URL (`http://127.0.0.1:<port>`), first; a
 *      cluster member without the gateway role prints `member <name> pid <pid>` instead.
 *      With --nats, also serve the NATS API (micro service `needle`, gateway/nats) on the same
 *      engine; the `nats` client is loaded only then.
 *   4. On SIGTERM/SIGINT: stop accepting, let in-flight requests finish (bounded), close the
 *      engine (flush + fsync) or hand owned indexes back, exit 0. A second signal exits at
 *      once with status 130.
 * Logs are JSON lines on stderr: one per request (method, route, status, duration, bytes).
 */
import { parseArgs } from "node:util";
import bytes from "bytes";
import type { NatsConnection } from "nats";
import type { Engine } from "../actors/api.ts";
import type { ClusterHost } from "../actors/distribution/host.ts";
import { openEngine } from "../actors/mod.ts";
import { slabMemoryBudgetBytesDefault } from "../actors/executor/executor-actor.ts";
import {
  createApp,
  httpHeaderSizeFlag,
  isLoopbackHost,
  type RequestLogEntry,
  serverIdleTimeoutSeconds,
} from "../gateway/http/mod.ts";

const usage = `usage: needle import ... (bulk load files into an index: needle import --help)
       needle backup ... / needle restore ... (backups of an index: needle backup --help)
       needle cluster ... (a local cluster on NATS: needle cluster --help)
       needle serve [--host HOST] [--port PORT] [--data DIR] [--api-key KEY]...
                    [--public-url URL] [--metrics-public] [--import-root DIR]
                    [--log-level debug|info|warn|error]
                    [--flush-rows-max N]
                    [--nats URL [--role ROLES] [--name NAME] [--replicas 1|3]]

  --host        address to bind (default 127.0.0.1; env NEEDLE_HOST)
  --port        port to bind; 0 picks a free port (default 5080; env NEEDLE_PORT)
  --data        data directory (default ./data; env NEEDLE_DATA)
  --api-key     accepted API key, repeatable (env NEEDLE_API_KEYS, comma-separated);
                required unless bound to loopback
  --public-url  URL clients use to reach this server (default http://<host>:<port>)
  --metrics-public  serve GET /metrics (Prometheus) without the API key
  --import-root  serve startImport: Parquet files from file:// URIs under this directory
                (nothing outside it; default: imports refused)
  --log-level   debug | info | warn | error (default info; env NEEDLE_LOG_LEVEL)
  --flush-rows-max  rows a namespace's memtable holds before it is flushed to a slab
  --min-free-bytes  refuse writes while the data volume has less free space (default 64mb)
  --min-free-percent  the same as a percentage of the volume (default 0); the larger wins
  --memory-max  memory budget: above it idle namespaces and slabs are released first, then
                writes are refused with 503 until memory is back under it (default: none)
  --slab-memory  memory for open slabs: past it the least recently used keep only their
                index portion (ids, int8 codes, IVF and metadata indexes) and read the rows a
                query scores from disk, saying X-Needle-Cold: 1 (default 8gb, or half of
                --memory-max when that is less)
  --nats        also serve the NATS API (service "needle", subjects needle.api.v1.>) through
                the NATS server at this URL (env NEEDLE_NATS; default: HTTP only); several
                URLs of one cluster may be given, comma-separated
  --role        join a cluster on --nats in these roles instead of serving local files:
                gateway (HTTP and NATS API), namespace (owns indexes; --data is its working
                directory), executor (holds read replicas of indexes, from their
                checkpoints, for eventual reads; --memory-max bounds it), compactor
                (builds the owners' compactions: merges and IVF partitions), all (every
                role but compactor);
                comma-separated or repeated (env NEEDLE_ROLES)
  --name        this member's name in the cluster (default <hostname>-<pid>)
  --replicas    replicas of the log streams and catalog a cluster member creates: 1 or 3
  --checkpoint-every  an index owner checkpoints an index once its stream holds this many
                records (write batches) past the last checkpoint (default 50000)`;

/** How long shutdown waits for in-flight requests before closing the engine anyway. */
const drainMsMax = 10_000;
/** Bun's own cap on a request body; the gateway refuses any body over 2 MB while reading it. */
const serverBodyBytesMax = 16 * 1024 * 1024;

const levels = ["debug", "info", "warn", "error"] as const;
type Level = (typeof levels)[number];

function fail(message: string): never {
  process.stderr.write(`needle: ${message}\n`);
  process.exit(2);
}

/** A size flag (`512`, `64mb`, `2gb`), or undefined when not given; exits with usage on nonsense. */
function sizeOption(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const parsed = bytes.parse(text);
  if (parsed === null || !Number.isFinite(parsed) || parsed < 0) {
    fail(`${flag} must be a size such as 512, 64mb or 2gb, got ${JSON.stringify(text)}`);
  }
  return Math.floor(parsed);
}

function logLine(threshold: Level, level: Level, fields: Record<string, unknown>): void {
  if (levels.indexOf(level) < levels.indexOf(threshold)) return;
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, ...fields })}\n`);
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      data: { type: "string" },
      "api-key": { type: "string", multiple: true },
      "public-url": { type: "string" },
      "metrics-public": { type: "boolean" },
      "import-root": { type: "string" },
      "log-level": { type: "string" },
      "flush-rows-max": { type: "string" },
      "min-free-bytes": { type: "string" },
      "min-free-percent": { type: "string" },
      "memory-max": { type: "string" },
      "slab-memory": { type: "string" },
      nats: { type: "string" },
      role: { type: "string", multiple: true },
      name: { type: "string" },
      replicas: { type: "string" },
      "checkpoint-every": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const env = process.env;
  const host = values.host ?? env.NEEDLE_HOST ?? "127.0.0.1";
  const portText = values.port ?? env.NEEDLE_PORT ?? "5080";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535)
    fail(`--port must be an integer from 0 to 65535, got ${portText}`);
  const dataDir = values.data ?? env.NEEDLE_DATA ?? "./data";
  const logLevel = (values["log-level"] ?? env.NEEDLE_LOG_LEVEL ?? "info") as Level;
  if (!levels.includes(logLevel)) fail(`--log-level must be one of ${levels.join(", ")}, got ${logLevel}`);
  const apiKeys = [
    ...(values["api-key"] ?? []),
    ...(env.NEEDLE_API_KEYS ?? "")
      .split(",")
      .map((key) => key.trim())
      .filter((key) => key !== ""),
  ];
  if (apiKeys.some((key) => key === "")) fail("--api-key must not be empty");
  if (apiKeys.length === 0) {
    if (!isLoopbackHost(host)) {
      fail(
        `refusing to listen on ${host} without API keys: pass --api-key KEY (or NEEDLE_API_KEYS), or bind 127.0.0.1`,
      );
    }
    logLine(logLevel, "warn", {
      msg: `no API keys configured: any Api-Key is accepted (allowed only because ${host} is loopback)`,
    });
  }

  const flushRowsText = values["flush-rows-max"];
  if (flushRowsText !== undefined && !/^[1-9]\d*$/.test(flushRowsText)) {
    fail(`--flush-rows-max must be a positive integer, got ${flushRowsText}`);
  }
  const minFreeBytes = sizeOption("--min-free-bytes", values["min-free-bytes"] ?? env.NEEDLE_MIN_FREE_BYTES);
  const memoryMaxBytes = sizeOption("--memory-max", values["memory-max"] ?? env.NEEDLE_MEMORY_MAX);
  const slabMemoryBytes =
    sizeOption("--slab-memory", values["slab-memory"] ?? env.NEEDLE_SLAB_MEMORY) ??
    (memoryMaxBytes === undefined ? undefined : Math.min(slabMemoryBudgetBytesDefault, memoryMaxBytes / 2));
  const percentText = values["min-free-percent"] ?? env.NEEDLE_MIN_FREE_PERCENT;
  const minFreePercent = percentText === undefined ? undefined : Number(percentText);
  if (minFreePercent !== undefined && !(minFreePercent >= 0 && minFreePercent < 100)) {
    fail(`--min-free-percent must be a number from 0 to 100, got ${percentText}`);
  }
  const engineOptions = {
    freeSpace: { minFreeBytes, minFreePercent },
    memoryMaxBytes,
    ...(slabMemoryBytes === undefined ? {} : { slabMemoryBudgetBytes: slabMemoryBytes }),
    ...(flushRowsText === undefined ? {} : { flushRowsMax: Number(flushRowsText) }),
    log: (line: string) => logLine(logLevel, "info", { msg: line }),
  };
  const natsUrl = values.nats ?? env.NEEDLE_NATS;
  const roleValues = values.role ?? (env.NEEDLE_ROLES === undefined ? [] : [env.NEEDLE_ROLES]);
  const replicasText = values.replicas ?? "1";
  if (replicasText !== "1" && replicasText !== "3") fail(`--replicas must be 1 or 3, got ${replicasText}`);
  if (roleValues.length > 0 && natsUrl === undefined)
    fail("--role needs --nats URL: the roles of a cluster meet on NATS");
  const checkpointEveryText = values["checkpoint-every"];
  if (checkpointEveryText !== undefined && !/^[1-9]\d*$/.test(checkpointEveryText)) {
    fail(`--checkpoint-every must be a positive integer, got ${checkpointEveryText}`);
  }
  const checkpointEvery = checkpointEveryText === undefined ? undefined : Number(checkpointEveryText);

  // Embedded (no --role): the engine on local files, and the NATS API too with --nats.
  // Cluster (--role): this process's roles; the front doors serve the gateway's engine.
  const connection = natsUrl === undefined ? undefined : await connectNats(natsUrl);
  let cluster: ClusterHost | undefined;
  let engine: Engine | undefined;
  if (roleValues.length === 0) {
    engine = await openEngine({ ...engineOptions, dir: dataDir });
  } else {
    const { parseRoles, startClusterHost } = await import("../actors/distribution/host.ts");
    let roles: ReturnType<typeof parseRoles>;
    try {
      roles = parseRoles(roleValues);
    } catch (error) {
      fail((error as Error).message);
    }
    cluster = await startClusterHost({
      connection: connection!,
      roles,
      name: values.name,
      dir: dataDir,
      replicas: Number(replicasText),
      checkpointEveryRecords: checkpointEvery,
      engine: engineOptions,
      log: engineOptions.log,
    });
    engine = cluster.engine;
    logLine(logLevel, "info", { msg: "cluster member", name: cluster.name, roles, nats: natsUrl });
  }
  const importRoot = values["import-root"];
  if (importRoot !== undefined && cluster !== undefined)
    fail("--import-root is served by a single server (not yet by cluster members)");
  const imports =
    importRoot === undefined || engine === undefined
      ? undefined
      : await (await import("../gateway/import/jobs.ts")).ImportJobs.open(engine, importRoot, dataDir);
  // Backup schedules run where the backups are: a server on local files.
  const schedules =
    cluster !== undefined || engine === undefined
      ? undefined
      : await (await import("../gateway/schedules/backup-schedules.ts")).BackupScheduler.open(
          engine,
          dataDir,
        );
  const natsApi =
    connection === undefined || engine === undefined
      ? undefined
      : await serveNatsApi(connection, engine, logLevel);
  const closeAll = async () => {
    await natsApi?.stop();
    await imports?.close();
    await schedules?.close();
    await cluster?.close();
    if (cluster === undefined) await engine?.close();
    await connection?.drain();
  };
  if (engine === undefined) {
    // A cluster member without the gateway role: no HTTP; its first line names it.
    process.stdout.write(`member ${cluster!.name} pid ${process.pid}\n`);
    onSignals(logLevel, async () => {
      await closeAll();
    });
    return;
  }
  const served = engine;

  let inFlight = 0;
  let app: ReturnType<typeof createApp> | undefined;
  const server = Bun.serve({
    hostname: host,
    port,
    maxRequestBodySize: serverBodyBytesMax,
    idleTimeout: serverIdleTimeoutSeconds,
    async fetch(request) {
      inFlight++;
      try {
        if (app === undefined) return new Response('{"message":"starting"}', { status: 503 });
        return await app.fetch(request);
      } finally {
        inFlight--;
      }
    },
    error(error) {
      logLine(logLevel, "error", { msg: "unhandled server error", error: String(error) });
      return Response.json({ code: 13, message: "internal error", details: [] }, { status: 500 });
    },
  });
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const publicUrl = values["public-url"] ?? `http://${urlHost}:${server.port}`;
  app = createApp(served, {
    metricsPublic: values["metrics-public"] === true,
    imports,
    schedules,
    apiKeys,
    publicUrl,
    log: (entry: RequestLogEntry) => {
      const level: Level = entry.status >= 500 ? "error" : entry.status >= 400 ? "warn" : "info";
      logLine(logLevel, level, { msg: "request", ...entry });
    },
  });
  // The first stdout line is the URL; tests and scripts read it.
  process.stdout.write(`http://${urlHost}:${server.port}\n`);
  logLine(logLevel, "info", { msg: "listening", url: publicUrl, data: dataDir, keys: apiKeys.length });
  if (!process.execArgv.includes(httpHeaderSizeFlag)) {
    logLine(logLevel, "warn", {
      msg: `started without bun ${httpHeaderSizeFlag}: request heads over 16 KiB (a GET fetch of many long ids) get a bare 431; start with \`npm start\` or \`bun ${httpHeaderSizeFlag} run scripts/needle.ts serve\``,
    });
  }

  onSignals(logLevel, async () => {
    logLine(logLevel, "info", { msg: "draining", inFlight });
    const stopped = server.stop(false);
    const deadline = Date.now() + drainMsMax;
    while (inFlight > 0 && Date.now() < deadline) await Bun.sleep(10);
    await Promise.race([stopped, Bun.sleep(Math.max(0, deadline - Date.now()))]);
    await closeAll();
  });
}

/**
 * SIGTERM/SIGINT run `stop` (bounded work, then exit 0; exit 1 if it throws); a second signal
 * exits at once with status 130.
 */
function onSignals(logLevel: Level, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    logLine(logLevel, "info", { msg: "shutting down", signal });
    try {
      await stop();
    } catch (error) {
      logLine(logLevel, "error", { msg: "shutdown failed", error: String(error) });
      process.exit(1);
    }
    logLine(logLevel, "info", { msg: "stopped" });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

async function connectNats(url: string): Promise<NatsConnection> {
  const { connect } = await import("nats");
  try {
    // Reconnect for as long as it takes: a cluster node restarting must not end this process.
    return await connect({ servers: url.split(","), name: "needle", maxReconnectAttempts: -1 });
  } catch (error) {
    fail(`cannot connect to NATS at ${url} (--nats): ${(error as Error).message}`);
  }
}

/** Serves the NATS API (micro service `needle`) with `engine` on `connection`. */
async function serveNatsApi(
  connection: NatsConnection,
  engine: Engine,
  logLevel: Level,
): Promise<{ stop(): Promise<void> }> {
  const { startApiService } = await import("../gateway/nats/service.ts");
  const service = await startApiService(connection, engine, {
    log: (entry) => logLine(logLevel, "error", { msg: "nats request failed", ...entry }),
  });
  logLine(logLevel, "info", { msg: "serving the NATS API", service: "needle" });
  return service;
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command === "serve") return await serve(rest);
    if (command === "cluster") return await (await import("./cluster.ts")).cluster(rest);
    if (command === "import") return await (await import("./import.ts")).importCommand(rest);
    if (command === "backup" || command === "restore")
      return await (await import("./backup.ts")).backupCommand(command, rest);
    if (command === undefined || command === "help" || command === "--help" || command === "-h") {
      process.stdout.write(`${usage}\n`);
      return;
    }
    fail(`unknown command ${JSON.stringify(command)}\n${usage}`);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

await main();
