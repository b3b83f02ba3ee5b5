/**
 * `needle backup` and `needle restore`: the backups of the API from the command line.
 *
 *   needle backup  (--data DIR | --url URL [--api-key K]) --index NAME [--name N] [--description D]
 *   needle backup  (--data DIR | --url URL [--api-key K]) --list [--index NAME]
 *   needle backup  (--data DIR | --url URL [--api-key K]) --delete ID
 *   needle restore (--data DIR | --url URL [--api-key K]) --backup ID --index NEW [--tag K=V]...
 *                  [--deletion-protection]
 *
 * With --data the engine is opened on the directory (not while a server holds it) and a
 * progress bar shows the bytes linked or copied; with --url the running server does the work
 * through Pinecone's REST routes. Each prints one line per backup or restore (JSON), so
 * scripts can read ids back.
 */
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import type { BackupDescription } from "../actors/api.ts";
import { openEngine } from "../actors/mod.ts";

const usage = `usage: needle backup  (--data DIR | --url URL [--api-key K]) --index NAME [--name N] [--description D]
       needle backup  (--data DIR | --url URL [--api-key K]) --list [--index NAME]
       needle backup  (--data DIR | --url URL [--api-key K]) --delete ID
       needle restore (--data DIR | --url URL [--api-key K]) --backup ID --index NEW [--tag K=V]...
                      [--deletion-protection]

  --data   the data directory (the engine is opened here: not while a server runs on it)
  --url    a running server instead (its API key with --api-key or NEEDLE_API_KEY)`;

function fail(message: string): never {
  process.stderr.write(`needle: ${message}\n`);
  process.exit(2);
}

/** What both modes offer; results in the engine's shapes (LSN as a string for printing). */
interface Backups {
  create(index: string, name?: string, description?: string): Promise<Record<string, unknown>>;
  list(index?: string): Promise<Record<string, unknown>[]>;
  remove(id: string): Promise<void>;
  restore(
    id: string,
    index: string,
    tags: Record<string, string>,
    protect: boolean,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

function printable(backup: BackupDescription): Record<string, unknown> {
  const { index: _model, lsn, ...rest } = backup;
  return { ...rest, lsn: lsn.toString() };
}

function progressBar(what: string) {
  const bar = new SingleBar({
    format: `${what} {bar} {percentage}% | {value}/{total} bytes`,
    noTTYOutput: process.stderr.isTTY !== true,
    notTTYSchedule: 2000,
    stream: process.stderr,
  });
  let started = false;
  return {
    update: (done: number, total: number) => {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

async function local(dir: string): Promise<Backups> {
  const engine = await openEngine({ dir, log: (line) => process.stderr.write(`${line}\n`) });
  return {
    async create(index, name, description) {
      const bar = progressBar("backup");
      try {
        return printable(await engine.createBackup(index, { name, description, progress: bar.update }));
      } finally {
        bar.stop();
      }
    },
    async list(index) {
      return (await engine.listBackups(index)).map(printable);
    },
    remove: (id) => engine.deleteBackup(id),
    async restore(id, index, tags, protect) {
      const bar = progressBar("restore");
      try {
        const { job } = await engine.createIndexFromBackup(id, {
          name: index,
          tags,
          deletionProtection: protect ? "enabled" : "disabled",
          progress: bar.update,
        });
        return { ...job };
      } finally {
        bar.stop();
      }
    },
    close: () => engine.close(),
  };
}

function remote(url: string, apiKey: string | undefined): Backups {
  const base = url.replace(/\/+$/, "");
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { "Content-Type": "application/json", ...(apiKey ? { "Api-Key": apiKey } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  };
  return {
    create: (index, name, description) =>
      call("POST", `/indexes/${encodeURIComponent(index)}/backups`, { name, description }),
    async list(index) {
      const all: Record<string, unknown>[] = [];
      let token: string | undefined;
      do {
        const path = index === undefined ? "/backups" : `/indexes/${encodeURIComponent(index)}/backups`;
        const page = await call("GET", `${path}?limit=100${token ? `&paginationToken=${token}` : ""}`);
        all.push(...(page.data as Record<string, unknown>[]));
        token = (page.pagination as { next?: string } | undefined)?.next;
      } while (token !== undefined);
      return all;
    },
    remove: async (id) => {
      await call("DELETE", `/backups/${encodeURIComponent(id)}`);
    },
    restore: (id, index, tags, protect) =>
      call("POST", `/backups/${encodeURIComponent(id)}/create-index`, {
        name: index,
        tags,
        deletion_protection: protect ? "enabled" : "disabled",
      }),
    close: async () => {},
  };
}

export async function backupCommand(command: "backup" | "restore", argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string" },
      url: { type: "string" },
      "api-key": { type: "string" },
      index: { type: "string" },
      name: { type: "string" },
      description: { type: "string" },
      list: { type: "boolean", default: false },
      delete: { type: "string" },
      backup: { type: "string" },
      tag: { type: "string", multiple: true, default: [] },
      "deletion-protection": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if ((values.data === undefined) === (values.url === undefined))
    fail(`give one of --data DIR or --url URL\n${usage}`);
  const tags: Record<string, string> = {};
  for (const tag of values.tag) {
    const at = tag.indexOf("=");
    if (at < 1) fail(`--tag must be KEY=VALUE (received ${JSON.stringify(tag)})`);
    tags[tag.slice(0, at)] = tag.slice(at + 1);
  }
  if (command === "restore" && (values.backup === undefined || values.index === undefined))
    fail(`restore needs --backup ID and --index NEW\n${usage}`);
  if (command === "backup" && !values.list && values.delete === undefined && values.index === undefined)
    fail(`backup needs --index NAME (or --list, or --delete ID)\n${usage}`);

  const backups =
    values.data !== undefined
      ? await local(values.data)
      : remote(values.url!, values["api-key"] ?? process.env.NEEDLE_API_KEY);
  const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
  try {
    if (command === "restore")
      print(await backups.restore(values.backup!, values.index!, tags, values["deletion-protection"]));
    else if (values.list) for (const backup of await backups.list(values.index)) print(backup);
    else if (values.delete !== undefined) {
      await backups.remove(values.delete);
      print({ deleted: values.delete });
    } else print(await backups.create(values.index!, values.name, values.description));
  } finally {
    await backups.close();
  }
}
