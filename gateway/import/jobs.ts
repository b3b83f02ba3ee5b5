/**
 * Imports started through Pinecone's API (`startImport` and friends): Parquet files from a
 * `file://` URI under the server's `--import-root`, run one at a time in the background,
 * each job recorded in `<data>/imports/jobs/<id>.json` after every acknowledged batch, so
 * `describeImport` survives a restart and an interrupted job resumes where it stopped.
 *
 * A URI names a directory laid out as Pinecone's imports are: Parquet files at its top go
 * to the default namespace, each subdirectory's to the namespace of its name. A URI naming
 * one `.parquet` file imports it into the default namespace. Everything the URI reaches must
 * stay under the import root after symbolic links are resolved: anything else is refused.
 */
import { randomUUID } from "node:crypto";
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import type { Engine } from "../../actors/api.ts";
import { NeedleError } from "../../storage/errors.ts";
import { ensureDirectoryDurably, isNotFound, writeFileDurably } from "../../storage/fsync.ts";
import * as schemas from "../schemas/mod.ts";
import { parquetRows } from "./parquet.ts";
import { type ImportState, runImport } from "./runner.ts";

export type ImportStatus = "Pending" | "InProgress" | "Failed" | "Completed" | "Cancelled";

export interface ImportJob {
  id: string;
  index: string;
  uri: string;
  status: ImportStatus;
  createdAt: string;
  finishedAt?: string;
  percentComplete: number;
  recordsImported: number;
  error?: string;
  onError: "continue" | "abort";
  totalRows: number;
  /** One group per namespace, in order; `state` once the group has started. */
  groups: { namespace: string; files: string[]; state?: ImportState }[];
}

const idPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class ImportJobs {
  private readonly jobs = new Map<string, ImportJob>();
  private readonly cancelling = new Set<string>();
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly dir: string;

  private constructor(
    private readonly engine: Engine,
    private readonly root: string,
    dataDir: string,
  ) {
    this.dir = join(dataDir, "imports", "jobs");
  }

  /** Loads recorded jobs and resumes those that had not finished. */
  static async open(engine: Engine, importRoot: string, dataDir: string): Promise<ImportJobs> {
    const jobs = new ImportJobs(engine, await realpath(importRoot), dataDir);
    await ensureDirectoryDurably(jobs.dir);
    for (const name of await readdir(jobs.dir)) {
      if (!name.endsWith(".json")) continue;
      const job = JSON.parse(await readFile(join(jobs.dir, name), "utf8")) as ImportJob;
      jobs.jobs.set(job.id, job);
    }
    jobs.pump();
    return jobs;
  }

  async start(index: string, uri: string, onError: "continue" | "abort"): Promise<ImportJob> {
    await this.engine.describeIndex(index); // NOT_FOUND for an unknown index
    const groups = await this.resolve(uri);
    let totalRows = 0;
    for (const group of groups) for (const file of group.files) totalRows += await parquetRows(file);
    const job: ImportJob = {
      id: randomUUID(),
      index,
      uri,
      status: "Pending",
      createdAt: new Date().toISOString(),
      percentComplete: 0,
      recordsImported: 0,
      onError,
      totalRows,
      groups,
    };
    await this.save(job);
    this.jobs.set(job.id, job);
    this.pump();
    return job;
  }

  describe(index: string, id: string): ImportJob {
    const job = idPattern.test(id) ? this.jobs.get(id) : undefined;
    if (job === undefined || job.index !== index)
      throw new NeedleError("NOT_FOUND", `Import ${id} not found`, { field: "id", received: id });
    return job;
  }

  /** The index's imports, oldest first (Pinecone lists them in the order they started). */
  list(index: string): ImportJob[] {
    return [...this.jobs.values()]
      .filter((job) => job.index === index)
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  /** A pending job is cancelled at once; a running one after its batches in flight. */
  async cancel(index: string, id: string): Promise<void> {
    const job = this.describe(index, id);
    if (job.status === "Pending") {
      job.status = "Cancelled";
      job.finishedAt = new Date().toISOString();
      await this.save(job);
    } else if (job.status === "InProgress") this.cancelling.add(id);
  }

  /** Stops after the running job's batches in flight (it resumes at the next open). */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  private pump(): void {
    if (this.running !== undefined || this.closed) return;
    const next = [...this.jobs.values()]
      .filter((job) => job.status === "Pending" || job.status === "InProgress")
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1))[0];
    if (next === undefined) return;
    this.running = this.run(next).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  private async run(job: ImportJob): Promise<void> {
    job.status = "InProgress";
    await this.save(job);
    try {
      const shape = await this.engine.describeIndex(job.index);
      const rowsBefore = (group: number) =>
        job.groups
          .slice(0, group)
          .reduce((sum, g) => sum + (g.state?.files.reduce((s, f) => s + f.rowsDone, 0) ?? 0), 0);
      for (const [at, group] of job.groups.entries()) {
        const summary = await runImport(
          {
            shape,
            upsert: async (namespace, records) => {
              await this.engine.upsert(job.index, namespace, records);
            },
          },
          {
            index: job.index,
            namespace: group.namespace,
            files: group.files,
            onError: job.onError,
            resume: group.state,
          },
          {
            save: async (state) => {
              group.state = state;
              const rows = rowsBefore(at) + state.files.reduce((sum, file) => sum + file.rowsDone, 0);
              job.percentComplete = job.totalRows === 0 ? 100 : Math.min(100, (100 * rows) / job.totalRows);
              job.recordsImported = job.groups.reduce((sum, g) => sum + (g.state?.recordsImported ?? 0), 0);
              await this.save(job);
            },
            cancelled: () => this.cancelling.has(job.id) || this.closed,
          },
        );
        if (summary.outcome === "aborted") {
          const row = summary.abortedAt!;
          return await this.finish(job, "Failed", `bad row ${this.relative(row.position)}: ${row.error}`);
        }
        if (summary.outcome === "cancelled") {
          if (this.closed && !this.cancelling.has(job.id)) return; // resumes at the next open
          return await this.finish(job, "Cancelled");
        }
      }
      job.percentComplete = 100;
      await this.finish(job, "Completed");
    } catch (error) {
      await this.finish(job, "Failed", this.relative(error instanceof Error ? error.message : String(error)));
    } finally {
      this.cancelling.delete(job.id);
    }
  }

  private async finish(job: ImportJob, status: ImportStatus, error?: string): Promise<void> {
    job.status = status;
    job.finishedAt = new Date().toISOString();
    if (error !== undefined) job.error = error;
    await this.save(job);
  }

  /** Paths in messages relative to the import root: clients need not learn the server's layout. */
  private relative(text: string): string {
    return text.split(`${this.root}${sep}`).join("");
  }

  private save(job: ImportJob): Promise<void> {
    return writeFileDurably(join(this.dir, `${job.id}.json`), new TextEncoder().encode(JSON.stringify(job)));
  }

  /** The namespaces and files a URI names (see the module comment). */
  private async resolve(uri: string): Promise<{ namespace: string; files: string[] }[]> {
    const refuse = (reason: string) =>
      new NeedleError("INVALID_ARGUMENT", `uri: ${reason}`, {
        field: "uri",
        limit: "a file:// URI under the server's import root",
        received: uri,
      });
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw refuse("is not a URI");
    }
    if (url.protocol !== "file:")
      throw refuse(`scheme ${url.protocol.replace(/:$/, "")} is not served: Needle imports file:// URIs`);
    const inside = async (path: string) => {
      let real: string;
      try {
        real = await realpath(path);
      } catch (error) {
        if (isNotFound(error)) throw refuse("names nothing that exists");
        throw error;
      }
      if (real !== this.root && !real.startsWith(`${this.root}${sep}`))
        throw refuse("is outside the import root");
      return real;
    };
    const target = await inside(decodeURIComponent(url.pathname));
    if ((await stat(target)).isFile()) {
      if (!target.endsWith(".parquet")) throw refuse("names a file that is not .parquet");
      return [{ namespace: "", files: [target] }];
    }
    const groups: { namespace: string; files: string[] }[] = [];
    const parquetIn = async (dir: string) => {
      const files: string[] = [];
      for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : 1,
      ))
        if (entry.name.endsWith(".parquet") && !entry.isDirectory())
          files.push(await inside(join(dir, entry.name)));
      return files;
    };
    const top = await parquetIn(target);
    if (top.length > 0) groups.push({ namespace: "", files: top });
    for (const entry of (await readdir(target, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      if (!entry.isDirectory()) continue;
      const namespace = schemas.parseNamespace(entry.name, { fieldPrefix: `uri: directory ${entry.name}` });
      const files = await parquetIn(await inside(join(target, entry.name)));
      if (files.length > 0) groups.push({ namespace, files });
    }
    if (groups.length === 0) throw refuse("holds no .parquet files");
    return groups;
  }
}
