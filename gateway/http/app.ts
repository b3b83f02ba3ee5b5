/**
 * The Hono app: Pinecone's REST API over the engine's operation layer.
 *
 * Layout on one port:
 *   /indexes...                 control plane (snake_case; model chosen by X-Pinecone-Api-Version)
 *   /index/<name>/...           data plane of index <name>; describe-index returns this as `host`
 *
 * Invariants:
 *   1. Every answer is JSON except 202 delete-index (empty, as Pinecone) and every error
 *      is JSON in the plane's shape (errors.ts).
 *   2. Request bodies are read with a byte cap while they stream (body.ts); nothing reaches
 *      the engine before it is fully validated (requests.ts, control.ts).
 *   3. No request outlives `requestTimeoutMs`: it answers 503 with Retry-After instead.
 *   4. Writes answer with `X-Needle-Lsn`; reads wait (bounded) for `X-Needle-Min-Lsn`.
 */
import { Hono, type Context } from "hono";
import { routePath } from "hono/route";
import type { Consistency, Engine } from "../../actors/api.ts";
import { randomUUID } from "node:crypto";
import { asNeedleError, invalidArgument, NeedleError } from "../../storage/errors.ts";
import { type KeyCheck, apiKeyCheck } from "./auth.ts";
import { bodyIdleMsDefault, readJsonBody } from "./body.ts";
import { keylessRefusal } from "./keyless.ts";
import {
  indexModelJson,
  indexModelVersion,
  indexNameOrNotFound,
  parseConfigureIndex,
  parseCreateIndex,
} from "./control.ts";
import { httpErrorAnswer, type Plane } from "./errors.ts";
import {
  fetchByMetadataJson,
  fetchJson,
  listJson,
  listNamespacesJson,
  namespaceJson,
  queryJson,
  statsJson,
} from "./render.ts";
import { jsonText } from "./json-text.ts";
import { GatewayMetrics, metricsContentType } from "./metrics.ts";
import { consoleAsset } from "../console/serve.ts";
import { backupJson, backupScheduleJson, pageJson, restoreJobJson, scheduledBackupJson } from "./backups.ts";
import type { BackupScheduler } from "../schedules/backup-schedules.ts";
import type { ImportJob, ImportJobs } from "../import/jobs.ts";
import * as schemas from "../schemas/mod.ts";
const { limits } = schemas;
import {
  checkQueryForIndex,
  checkUpdateForIndex,
  checkUpsertForIndex,
  parseCreateNamespace,
  parseDelete,
  parseFetchByMetadata,
  parseFetchIds,
  parseList,
  parseListNamespaces,
  parseNamespace,
  parseQuery,
  parseStatsFilter,
  parseUpdate,
  parseUpsert,
  type JsonObject,
} from "./requests.ts";

/** Response header: the LSN a write made durable, or the LSN a read reflects. */
export const lsnHeader = "X-Needle-Lsn";
/** Request header on reads: wait until the index reflects at least this LSN. */
export const minLsnHeader = "X-Needle-Min-Lsn";
/** `strong` (default) or `eventual`: a cluster may answer an eventual query from a replica. */
export const consistencyHeader = "X-Needle-Consistency";
/** Response header of a query that had to load a slab (evicted, or not opened since start): `1`. */
export const coldHeader = "X-Needle-Cold";
/** `X-Needle-Explain: 1` on a query adds `explain` (how each source was searched) to the answer. */
export const explainHeader = "X-Needle-Explain";
export const apiKeyHeader = "Api-Key";
export const apiVersionHeader = "X-Pinecone-Api-Version";

export const requestTimeoutMsDefault = 30_000;
/**
 * Seconds a connection may sit idle before the server closes it (Bun.serve's idleTimeout,
 * default 10). Above the request timeout, so a slow request (a large delete) is answered by
 * the gateway's own 503 rather than dropped mid-flight while its work goes on.
 */
export const serverIdleTimeoutSeconds = requestTimeoutMsDefault / 1000 + 10;
/**
 * Largest request head (request line and headers) the server reads: a fetch of 1,000 ids of
 * 512 characters is a URL of about 520 KB. Bun's default is 16 KiB, and it answers a larger
 * head with a bare 431 the official client cannot parse. Bun takes this only as a command-line
 * flag (`bun --max-http-header-size=N`), so the package scripts and test helpers pass
 * `httpHeaderSizeFlag`, and the CLI warns when it was started without it.
 */
export const httpHeaderBytesMax = 1024 * 1024;
export const httpHeaderSizeFlag = `--max-http-header-size=${httpHeaderBytesMax}`;
/** Every JSON body has upsert's cap; a query with a 20k-dim vector and a filter is far smaller. */
const requestBytesMax = limits.upsertBytesMax;
/** Longest a read waits for X-Needle-Min-Lsn before answering 503. */
export const minLsnWaitMsMax = 5_000;

export interface RequestLogEntry {
  method: string;
  route: string;
  path: string;
  status: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  /** Also sent to the client as X-Request-Id, so a report can be matched to this line. */
  requestId: string;
  /** The error behind a failed answer, in full (files, errno, cause chain): for the server's log only. */
  error?: { code: string; message: string; file?: string; stack?: string; cause?: string };
}

/** Request and response header carrying the request id (a client's own is kept when well formed). */
export const requestIdHeader = "X-Request-Id";
const clientRequestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

export type AppEnv = { Variables: { requestId: string; failure?: NeedleError } };

export interface AppOptions {
  apiKeys: string[];
  /** Scheme, host and port clients reach this server on; data-plane hosts hang off it. */
  publicUrl: string;
  log?: (entry: RequestLogEntry) => void;
  requestTimeoutMs?: number;
  /** Longest pause inside a request body before it is answered 408 (default bodyIdleMsDefault). */
  bodyIdleMs?: number;
  /** Backup schedules, run by this server; absent: refused (UNIMPLEMENTED). */
  schedules?: BackupScheduler;
  /** Imports through the API (`--import-root`); absent: they are refused, saying so. */
  imports?: ImportJobs;
  /** Serve GET /metrics without the API key (for a scraper inside a trusted network). */
  metricsPublic?: boolean;
}

type Handler = (c: Context<AppEnv>) => Promise<Response>;

export function createApp(engine: Engine, options: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const checkKey: KeyCheck = apiKeyCheck(options.apiKeys);
  const timeoutMs = options.requestTimeoutMs ?? requestTimeoutMsDefault;
  const publicUrl = options.publicUrl.replace(/\/+$/, "");
  const hostOf = (name: string) => `${publicUrl}/index/${name}`;
  const knownPaths = new Set<string>();
  /** Route patterns the metrics name (anything else is `unmatched`: labels stay bounded). */
  const patterns = new Set<string>(["/metrics"]);
  const bodyIdleMs = options.bodyIdleMs ?? bodyIdleMsDefault;
  const readBody = (c: Context<AppEnv>) => readJsonBody(c.req.raw, requestBytesMax, bodyIdleMs);

  const metrics = new GatewayMetrics(engine);
  app.use("*", async (c, next) => {
    const started = performance.now();
    const offered = c.req.header(requestIdHeader);
    const requestId = offered !== undefined && clientRequestIdPattern.test(offered) ? offered : randomUUID();
    c.set("requestId", requestId);
    await next();
    c.res.headers.set(requestIdHeader, requestId);
    metrics.observeRequest(
      c.req.method,
      patterns.has(routePath(c)) ? routePath(c) : "unmatched",
      c.res.status,
      (performance.now() - started) / 1000,
    );
    if (options.log === undefined) return;
    const length = c.res.headers.get("content-length");
    const entry: RequestLogEntry = {
      method: c.req.method,
      route: routePath(c) || c.req.path,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      bytesIn: Number(c.req.header("content-length") ?? 0) || 0,
      bytesOut: length === null ? 0 : Number(length),
      requestId,
    };
    const failure = c.get("failure");
    if (failure !== undefined && c.res.status >= 500) entry.error = errorDetail(failure);
    options.log(entry);
  });

  if (options.apiKeys.length === 0) {
    // Keyless mode is for loopback only: keep web pages out (keyless.ts).
    app.use("*", async (c, next) => {
      const refusal = keylessRefusal({
        method: c.req.method,
        host: c.req.header("host"),
        origin: c.req.header("origin"),
        contentType: c.req.header("content-type"),
      });
      if (refusal !== undefined) {
        return jsonError(c, planeOf(c.req.path), refusal.status, refusal.code, refusal.message);
      }
      await next();
    });
  }

  const serveMetrics = async (c: Context<AppEnv>) => {
    try {
      return c.body(await metrics.text(), 200, { "Content-Type": metricsContentType });
    } catch (error) {
      return errorResponse(c, error, "control");
    }
  };
  knownPaths.add("/metrics");
  if (options.metricsPublic === true) app.get("/metrics", serveMetrics);

  // The console's files hold no data (every number comes from the API with the user's key):
  // served without the key, so the page can ask for it.
  const serveConsole = (name: string) => async (c: Context<AppEnv>) => {
    const asset = await consoleAsset(name);
    if (asset === undefined) return jsonError(c, "control", 404, "NOT_FOUND", `no console file ${name}`);
    return c.body(asset.body, 200, { "Content-Type": asset.contentType, "Cache-Control": "no-cache" });
  };
  for (const name of ["", "app.js", "style.css"]) {
    const path = name === "" ? "/console" : `/console/${name}`;
    patterns.add(path);
    app.get(path, serveConsole(name));
  }
  app.get("/console/", (c) => c.redirect("/console"));

  app.use("*", async (c, next) => {
    if (!checkKey(c.req.header(apiKeyHeader) ?? null)) {
      const message = c.req.header(apiKeyHeader) ? "Invalid API Key" : "Missing Api-Key header";
      return sendJson(c, { error: { code: "UNAUTHENTICATED", message }, status: 401 }, 401);
    }
    await next();
  });

  /** Runs a handler with the plane's error rendering and the per-request timeout. */
  const guarded =
    (plane: Plane, handler: Handler): Handler =>
    async (c) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new NeedleError("UNAVAILABLE", `request did not finish within ${timeoutMs} ms`, {
                retryAfterSeconds: 1,
              }),
            ),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([handler(c), timeout]);
      } catch (error) {
        return errorResponse(c, error, plane);
      } finally {
        clearTimeout(timer);
      }
    };

  type Method = "get" | "post" | "patch" | "delete";
  const route = (method: Method, path: string, plane: Plane, handler: Handler) => {
    knownPaths.add(path);
    patterns.add(path);
    app[method](path, guarded(plane, handler));
  };
  const unserved = (path: string, what: string) => {
    patterns.add(path);
    app.all(
      path,
      guarded(planeOf(path), async () => {
        throw new NeedleError("UNIMPLEMENTED", `Needle does not serve ${what} yet`);
      }),
    );
  };

  if (options.metricsPublic !== true) app.get("/metrics", serveMetrics);

  // ------------------------------------------------------------------ control plane
  route("post", "/indexes", "control", async (c) => {
    const request = parseCreateIndex(await readBody(c));
    const index = await engine.createIndex(request);
    return sendJson(c, indexModelJson(index, hostOf(index.name), versionOf(c)), 201);
  });
  route("get", "/indexes", "control", async (c) => {
    const version = versionOf(c);
    const indexes = await engine.listIndexes();
    return sendJson(c, {
      indexes: indexes.map((index) => indexModelJson(index, hostOf(index.name), version)),
    });
  });
  route("get", "/indexes/:name", "control", async (c) => {
    const index = await engine.describeIndex(indexNameParam(c));
    return sendJson(c, indexModelJson(index, hostOf(index.name), versionOf(c)));
  });
  route("patch", "/indexes/:name", "control", async (c) => {
    const name = indexNameParam(c);
    const request = parseConfigureIndex(await readBody(c));
    const index = await engine.configureIndex(name, request);
    return sendJson(c, indexModelJson(index, hostOf(index.name), versionOf(c)));
  });
  route("delete", "/indexes/:name", "control", async (c) => {
    await engine.deleteIndex(indexNameParam(c));
    return c.body(null, 202);
  });
  unserved("/indexes/create-for-model", "integrated inference (create-for-model)");
  // ------------------------------------------------------------------ backups (backups.ts)
  route("post", "/indexes/:name/backups", "control", async (c) => {
    const name = indexNameParam(c);
    const request = schemas.parseCreateBackup(await readBody(c));
    const backup = await engine.createBackup(name, request);
    return sendJson(c, backupJson(backup, versionOf(c)), 201);
  });
  route("get", "/indexes/:name/backups", "control", async (c) => {
    const name = indexNameParam(c);
    await engine.describeIndex(name); // 404 for an unknown index, as Pinecone
    const version = versionOf(c);
    return sendJson(
      c,
      pageJson(await engine.listBackups(name), c.req.query(), (b) => backupJson(b, version)),
    );
  });
  route("get", "/backups", "control", async (c) => {
    const version = versionOf(c);
    return sendJson(
      c,
      pageJson(await engine.listBackups(), c.req.query(), (b) => backupJson(b, version)),
    );
  });
  route("get", "/backups/:id", "control", async (c) =>
    sendJson(c, backupJson(await engine.describeBackup(c.req.param("id") ?? ""), versionOf(c))),
  );
  route("delete", "/backups/:id", "control", async (c) => {
    await engine.deleteBackup(c.req.param("id") ?? "");
    return c.body(null, 202);
  });
  route("post", "/backups/:id/create-index", "control", async (c) => {
    const request = schemas.parseCreateIndexFromBackup(await readBody(c));
    const { job, index } = await engine.createIndexFromBackup(c.req.param("id") ?? "", request);
    return sendJson(c, { restore_job_id: job.restoreJobId, index_id: index.name }, 202);
  });
  route("get", "/restore-jobs", "control", async (c) =>
    sendJson(c, pageJson(await engine.listRestoreJobs(), c.req.query(), restoreJobJson)),
  );
  route("get", "/restore-jobs/:id", "control", async (c) =>
    sendJson(c, restoreJobJson(await engine.describeRestoreJob(c.req.param("id") ?? ""))),
  );
  const scheduler = () => {
    if (options.schedules === undefined)
      throw new NeedleError("UNIMPLEMENTED", "Needle does not serve backup schedules in this mode yet");
    return options.schedules;
  };
  route("post", "/indexes/:name/backup-schedules", "control", async (c) => {
    const name = indexNameParam(c);
    const request = schemas.parseCreateBackupSchedule(await readBody(c));
    return sendJson(c, backupScheduleJson(await scheduler().create(name, request)), 201);
  });
  route("get", "/indexes/:name/backup-schedules", "control", async (c) => {
    const name = indexNameParam(c);
    await engine.describeIndex(name);
    return sendJson(c, pageJson(scheduler().list(name), c.req.query(), backupScheduleJson));
  });
  route("get", "/backup-schedules/:id", "control", async (c) =>
    sendJson(c, backupScheduleJson(scheduler().describe(c.req.param("id") ?? ""))),
  );
  route("patch", "/backup-schedules/:id", "control", async (c) => {
    const change = schemas.parseUpdateBackupSchedule(await readBody(c));
    return sendJson(c, backupScheduleJson(await scheduler().update(c.req.param("id") ?? "", change)));
  });
  route("delete", "/backup-schedules/:id", "control", async (c) => {
    await scheduler().remove(c.req.param("id") ?? "");
    return c.body(null, 202);
  });
  route("get", "/backup-schedules/:id/history", "control", async (c) => {
    const schedule = scheduler().describe(c.req.param("id") ?? "");
    const version = versionOf(c);
    const runs = await Promise.all(
      [...schedule.history].reverse().map(async (run) => {
        const backup =
          run.status === "Ready"
            ? await engine.describeBackup(run.backupId).catch(() => undefined)
            : undefined;
        return scheduledBackupJson(schedule, run, backup, version);
      }),
    );
    return sendJson(
      c,
      pageJson(runs, c.req.query(), (run) => run),
    );
  });
  for (const prefix of ["/collections"]) {
    unserved(prefix, `${prefix.slice(1)} (pod collections)`);
    unserved(`${prefix}/*`, `${prefix.slice(1)} (pod collections)`);
  }
  for (const prefix of ["/embed", "/rerank", "/models", "/models/*"])
    unserved(prefix, "integrated inference");
  // Needle's own operations (not Pinecone's): a namespace's slabs (the console), compaction.
  route("get", "/needle/indexes/:name/namespaces/:namespace/slabs", "control", async (c) => {
    const namespace = parseNamespace(c.req.param("namespace"), "namespace");
    return sendJson(c, { slabs: await engine.describeSlabs(indexNameParam(c), namespace) });
  });
  route("get", "/needle/compaction", "control", async (c) =>
    sendJson(c, { ...(await engine.compactionStatus()) }),
  );
  route("post", "/needle/compaction/pause", "control", async (c) =>
    sendJson(c, { ...(await engine.pauseCompaction()) }),
  );
  route("post", "/needle/compaction/resume", "control", async (c) =>
    sendJson(c, { ...(await engine.resumeCompaction()) }),
  );
  unserved("/assistant/*", "assistants");
  unserved("/admin/*", "the admin API");

  // ------------------------------------------------------------------ data plane
  route("post", "/index/:index/vectors/upsert", "data", async (c) => {
    const { namespace, request } = parseUpsert(await readBody(c));
    const index = indexParam(c);
    checkUpsertForIndex(request, await engine.describeIndex(index));
    const result = await engine.upsert(index, namespace, request);
    return withLsn(sendJson(c, { upsertedCount: result.upsertedCount }), result.lsn);
  });
  route("post", "/index/:index/query", "data", async (c) => {
    const body = await readBody(c);
    const { namespace, request } = parseQuery(body);
    const index = indexParam(c);
    checkQueryForIndex(request, await engine.describeIndex(index));
    await waitForMinLsn(c, engine, index);
    const explain = request.explain === true || c.req.header(explainHeader) === "1";
    const result = await engine.query(index, namespace, {
      ...request,
      explain,
      resultBytesMax: limits.queryResultBytesMax,
      consistency: consistencyOf(c) ?? request.consistency,
    });
    const headers: Record<string, string> = result.cold === true ? { [coldHeader]: "1" } : {};
    return withLsn(sendJson(c, queryJson(result, requestedNamespace(body)), 200, headers), result.lsn);
  });
  route("get", "/index/:index/vectors/fetch", "data", async (c) => {
    const url = new URL(c.req.url);
    const ids = parseFetchIds(url.searchParams.getAll("ids"));
    const rawNamespace = url.searchParams.get("namespace") ?? "";
    const namespace = parseNamespace(rawNamespace);
    const index = indexParam(c);
    await waitForMinLsn(c, engine, index);
    const result = await engine.fetch(index, namespace, ids, consistencyOf(c));
    return withLsn(sendJson(c, fetchJson(result, rawNamespace)), result.lsn);
  });
  route("post", "/index/:index/vectors/fetch_by_metadata", "data", async (c) => {
    const body = await readBody(c);
    const { namespace, request } = parseFetchByMetadata(body);
    const index = indexParam(c);
    await waitForMinLsn(c, engine, index);
    const result = await engine.fetchByMetadata(
      index,
      namespace,
      { ...request, resultBytesMax: limits.queryResultBytesMax },
      consistencyOf(c),
    );
    return withLsn(sendJson(c, fetchByMetadataJson(result, requestedNamespace(body))), result.lsn);
  });
  route("post", "/index/:index/vectors/update", "data", async (c) => {
    const { namespace, request } = parseUpdate(await readBody(c));
    const index = indexParam(c);
    checkUpdateForIndex(request, await engine.describeIndex(index));
    const result = await engine.update(index, namespace, request);
    return withLsn(sendJson(c, { matchedRecords: result.matchedRecords }), result.lsn);
  });
  route("post", "/index/:index/vectors/delete", "data", async (c) => {
    const { namespace, request } = parseDelete(await readBody(c));
    const result = await engine.delete(indexParam(c), namespace, request);
    return withLsn(sendJson(c, {}), result.lsn);
  });
  route("get", "/index/:index/vectors/list", "data", async (c) => {
    const url = new URL(c.req.url);
    const { namespace, request } = parseList(url.searchParams);
    const index = indexParam(c);
    await waitForMinLsn(c, engine, index);
    const result = await engine.list(index, namespace, request, consistencyOf(c));
    return sendJson(c, listJson(result, url.searchParams.get("namespace") ?? ""));
  });
  const stats: Handler = async (c) => {
    const body = c.req.method === "GET" ? {} : await readBody(c);
    const filter = parseStatsFilter(body);
    const index = indexParam(c);
    await waitForMinLsn(c, engine, index);
    return sendJson(c, statsJson(await engine.describeIndexStats(index, filter, consistencyOf(c))));
  };
  route("post", "/index/:index/describe_index_stats", "data", stats);
  route("get", "/index/:index/describe_index_stats", "data", stats);
  route("get", "/index/:index/namespaces", "data", async (c) => {
    const request = parseListNamespaces(new URL(c.req.url).searchParams);
    return sendJson(
      c,
      listNamespacesJson(await engine.listNamespaces(indexParam(c), request, consistencyOf(c))),
    );
  });
  route("post", "/index/:index/namespaces", "data", async (c) => {
    const { name, schema } = parseCreateNamespace(await readBody(c));
    const created = namespaceJson(await engine.createNamespace(indexParam(c), name));
    if (schema !== undefined) created.schema = schema;
    return sendJson(c, created, 201);
  });
  route("get", "/index/:index/namespaces/:namespace", "data", async (c) => {
    const namespace = parseNamespace(c.req.param("namespace"), "namespace");
    return sendJson(
      c,
      namespaceJson(await engine.describeNamespace(indexParam(c), namespace, consistencyOf(c))),
    );
  });
  route("delete", "/index/:index/namespaces/:namespace", "data", async (c) => {
    const namespace = parseNamespace(c.req.param("namespace"), "namespace");
    const result = await engine.deleteNamespace(indexParam(c), namespace);
    return withLsn(sendJson(c, {}), result.lsn);
  });
  unserved("/index/:index/records/*", "the records API (integrated inference)");
  unserved("/index/:index/namespaces/:namespace/documents/*", "the documents API");
  unserved("/index/:index/documents/*", "the documents API");
  // ------------------------------------------------------------------ bulk imports (gateway/import/jobs.ts)
  const importJobs = () => {
    if (options.imports === undefined)
      throw new NeedleError(
        "FAILED_PRECONDITION",
        "imports are off: start the server with --import-root DIR (the directory file:// URIs may name)",
        { field: "uri" },
      );
    return options.imports;
  };
  route("post", "/index/:index/bulk/imports", "data", async (c) => {
    const index = indexParam(c);
    const request = schemas.parseStartImport(await readBody(c));
    const job = await importJobs().start(index, request.uri, request.onError);
    return sendJson(c, { id: job.id });
  });
  route("get", "/index/:index/bulk/imports", "data", async (c) => {
    const jobs = importJobs().list(indexParam(c));
    return sendJson(c, pageJson(jobs, c.req.query(), importJson));
  });
  route("get", "/index/:index/bulk/imports/:id", "data", async (c) =>
    sendJson(c, importJson(importJobs().describe(indexParam(c), c.req.param("id") ?? ""))),
  );
  route("delete", "/index/:index/bulk/imports/:id", "data", async (c) => {
    await importJobs().cancel(indexParam(c), c.req.param("id") ?? "");
    return sendJson(c, {});
  });

  // A known path with the wrong method: 405, not a misleading 404.
  for (const path of knownPaths) {
    app.all(path, (c) =>
      jsonError(
        c,
        planeOf(path),
        405,
        "METHOD_NOT_ALLOWED",
        `${c.req.method} is not allowed on ${routePath(c)}`,
      ),
    );
  }
  app.notFound((c) => {
    return jsonError(c, planeOf(c.req.path), 404, "NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`);
  });
  app.onError((error, c) => errorResponse(c, error, planeOf(c.req.path)));
  return app;
}

/** Pinecone's ImportModel (data plane: camelCase). */
function importJson(job: ImportJob): JsonObject {
  const model: JsonObject = {
    id: job.id,
    uri: job.uri,
    status: job.status,
    createdAt: job.createdAt,
    percentComplete: Math.round(job.percentComplete * 100) / 100,
    recordsImported: job.recordsImported,
  };
  if (job.finishedAt !== undefined) model.finishedAt = job.finishedAt;
  if (job.error !== undefined) model.error = job.error;
  return model;
}

/** Index hosts hang off `/index/<name>`; everything else is the control plane. */
function planeOf(path: string): Plane {
  return path.startsWith("/index/") ? "data" : "control";
}

function versionOf(c: Context) {
  return indexModelVersion(c.req.header(apiVersionHeader));
}

function indexNameParam(c: Context): string {
  return indexNameOrNotFound(c.req.param("name") ?? "", "name");
}

function indexParam(c: Context): string {
  return indexNameOrNotFound(c.req.param("index") ?? "", "index");
}

function requestedNamespace(body: unknown): string {
  const namespace = (body as JsonObject).namespace;
  return typeof namespace === "string" ? namespace : "";
}

function withLsn(response: Response, lsn: bigint): Response {
  response.headers.set(lsnHeader, lsn.toString());
  return response;
}

function consistencyOf(c: Context): Consistency | undefined {
  const raw = c.req.header(consistencyHeader);
  if (raw === undefined || raw === "") return undefined;
  const value = raw.trim().toLowerCase();
  if (value === "strong" || value === "eventual") return value;
  throw invalidArgument(
    consistencyHeader,
    `${consistencyHeader} must be strong or eventual`,
    "strong, eventual",
    raw.slice(0, 40),
  );
}

async function waitForMinLsn(c: Context, engine: Engine, index: string): Promise<void> {
  const raw = c.req.header(minLsnHeader);
  if (raw === undefined || raw === "") return;
  if (!/^\d{1,20}$/.test(raw.trim())) {
    throw invalidArgument(
      minLsnHeader,
      `${minLsnHeader} must be a non-negative integer`,
      "uint64",
      raw.slice(0, 40),
    );
  }
  await engine.waitForLsn(index, BigInt(raw.trim()), minLsnWaitMsMax);
}

function errorResponse(c: Context<AppEnv>, error: unknown, plane: Plane): Response {
  const failure = asNeedleError(error);
  c.set("failure", failure);
  const answer = httpErrorAnswer(failure, plane, {
    requestId: c.get("requestId"),
    index: c.req.param("index") ?? c.req.param("name"),
    namespace: c.req.param("namespace"),
  });
  return sendJson(c, answer.body, answer.status as 400, answer.headers);
}

/** Everything about an error the server's log should keep, the cause chain flattened. */
function errorDetail(error: NeedleError): NonNullable<RequestLogEntry["error"]> {
  const detail: NonNullable<RequestLogEntry["error"]> = { code: error.code, message: error.message };
  if (error.file !== undefined) detail.file = error.file;
  if (error.stack !== undefined) detail.stack = error.stack;
  const causes: string[] = [];
  for (let cause = error.cause; cause !== undefined && causes.length < 5; cause = (cause as Error).cause) {
    causes.push(cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause));
    if (!(cause instanceof Error)) break;
  }
  if (causes.length > 0) detail.cause = causes.join(" <- ");
  return detail;
}

/** gRPC status numbers of the HTTP answers made here rather than from a NeedleError. */
const grpcCodeOfStatus: Record<number, number> = { 403: 7, 404: 5, 405: 12, 415: 3 };

function jsonError(
  c: Context,
  plane: Plane,
  status: 403 | 404 | 405 | 415,
  code: string,
  message: string,
): Response {
  const body =
    plane === "control"
      ? { error: { code, message }, status }
      : { code: grpcCodeOfStatus[status], message, details: [] };
  return sendJson(c, body, status);
}

/** JSON with an explicit Content-Length, so request logs can report bytes out cheaply. */
function sendJson(c: Context, body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  const text = jsonText(body);
  return c.body(text, status as 200, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
}
