/**
 * `needle cluster --dir DIR [--api-key KEY]... [--gateways 2] [--owners 2] [--compactors 1]`: a
 * whole Needle cluster on loopback (cluster v1, actors/distribution/DESIGN.md): three
 * `nats-server` nodes forming a JetStream cluster (R3 streams and buckets), index owners (the
 * namespace and executor roles), compactors (build the owners' compactions) and gateways (HTTP
 * and the NATS API), each its own process. Prints one line per process as it comes up:
 *
 *   nats n1 pid 4242 url nats://127.0.0.1:40123
 *   executor owner-1 pid 4250
 *   compactor compactor-1 pid 4256
 *   gateway http://127.0.0.1:38011 pid 4262
 *
 * then `ready`. Logs go to DIR/logs/. On SIGTERM or SIGINT it stops gateways, then owners
 * (each hands its indexes back), then the NATS nodes, and exits 0. Refuses to start when
 * `nats-server` is not on the PATH, saying how to install it. DIR keeps the NATS stores and
 * the owners' working directories, so running it again on DIR finds the indexes.
 */
import { mkdirSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { natsServerAvailable, startLocalNatsCluster } from "../storage/nats/local-nats.ts";

const usage = `usage: needle cluster --dir DIR [--api-key KEY]... [--gateways N] [--owners N] [--executors N]
                      [--compactors N]

  --dir       where the cluster keeps its NATS stores, owners' working directories and logs
  --api-key   accepted API key for the gateways, repeatable (default: none, loopback only)
  --gateways  gateway processes (default 2)
  --owners    index owner processes, role namespace+executor (default 2)
  --executors processes with the executor role alone: read replicas for eventual reads
              (default 0: the owners hold the replicas)
  --compactors processes with the compactor role: they build the owners' compactions (merges
              and IVF partitions) off the owners' CPUs; 0 leaves compaction to the owners
              (default 1)`;

const repoRoot = resolve(import.meta.dir, "..");
const stopWaitMs = 15_000;

interface Child {
  name: string;
  proc: ReturnType<typeof Bun.spawn>;
}

function fail(message: string): never {
  process.stderr.write(`needle cluster: ${message}\n`);
  process.exit(2);
}

function count(flag: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  if (!/^\d$/.test(text) || Number(text) < min)
    fail(`${flag} must be an integer from ${min} to 9, got ${text}`);
  return Number(text);
}

/** Spawns `needle serve` with `args` and resolves with its first stdout line. */
async function startServe(
  name: string,
  args: string[],
  logDir: string,
): Promise<{ child: Child; line: string }> {
  const proc = Bun.spawn(
    [
      process.execPath,
      "--max-http-header-size=1048576",
      "run",
      join(repoRoot, "scripts/needle.ts"),
      "serve",
      ...args,
    ],
    {
      stdin: "ignore",
      stdout: "pipe",
      stderr: openSync(join(logDir, `${name}.log`), "a"),
      env: { ...process.env, NEEDLE_API_KEYS: "" },
    },
  );
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const next = await reader.read();
    if (next.done) fail(`${name} exited before it was ready; see ${join(logDir, `${name}.log`)}`);
    text += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  return { child: { name, proc }, line: text.split("\n")[0]!.trim() };
}

export async function cluster(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: "string" },
      "api-key": { type: "string", multiple: true },
      gateways: { type: "string" },
      owners: { type: "string" },
      executors: { type: "string" },
      compactors: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (values.dir === undefined) fail(`--dir is required\n${usage}`);
  if (!natsServerAvailable()) {
    fail(
      "nats-server is not on the PATH: install it (Debian/Ubuntu: sudo apt-get install nats-server; other systems: https://docs.nats.io/running-a-nats-service/introduction/installation)",
    );
  }
  const gateways = count("--gateways", values.gateways, 2);
  const owners = count("--owners", values.owners, 2);
  const executors = count("--executors", values.executors, 0, 0);
  const compactors = count("--compactors", values.compactors, 1, 0);
  const dir = resolve(values.dir);
  const logDir = join(dir, "logs");
  mkdirSync(logDir, { recursive: true });

  const nats = await startLocalNatsCluster(join(dir, "nats"), { name: "needle", logDir });
  for (const node of nats.nodes) process.stdout.write(`nats ${node.name} pid ${node.pid} url ${node.url}\n`);
  const urls = nats.urls().join(",");
  const children: Child[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) process.exit(130);
    stopping = true;
    // Gateways first (no new requests), then owners (they hand their indexes back), then NATS.
    for (const group of [
      children.filter((c) => c.name.startsWith("gateway")),
      children.filter((c) => !c.name.startsWith("gateway")),
    ]) {
      for (const child of group) child.proc.kill("SIGTERM");
      await Promise.race([Promise.all(group.map((child) => child.proc.exited)), Bun.sleep(stopWaitMs)]);
      for (const child of group) child.proc.kill("SIGKILL");
    }
    await nats.stop();
    process.stdout.write("stopped\n");
    process.exit(code);
  };
  process.on("SIGTERM", () => void stopAll(0));
  process.on("SIGINT", () => void stopAll(0));

  const common = ["--nats", urls, "--replicas", "3"];
  // Owners also hold replicas (both roles); executor-only processes hold replicas alone.
  const members = [
    ...Array.from({ length: owners }, (_, i) => ({ name: `owner-${i + 1}`, roles: "namespace,executor" })),
    ...Array.from({ length: executors }, (_, i) => ({ name: `executor-${i + 1}`, roles: "executor" })),
    ...Array.from({ length: compactors }, (_, i) => ({ name: `compactor-${i + 1}`, roles: "compactor" })),
  ];
  for (const { name, roles } of members) {
    const { child } = await startServe(
      name,
      [...common, "--role", roles, "--name", name, "--data", join(dir, name)],
      logDir,
    );
    children.push(child);
    process.stdout.write(
      `${roles === "compactor" ? "compactor" : "executor"} ${name} pid ${child.proc.pid}\n`,
    );
  }
  const keys = (values["api-key"] ?? []).flatMap((key) => ["--api-key", key]);
  for (let i = 1; i <= gateways; i++) {
    const name = `gateway-${i}`;
    const { child, line } = await startServe(
      name,
      [...common, "--role", "gateway", "--name", name, "--port", "0", "--data", join(dir, name), ...keys],
      logDir,
    );
    children.push(child);
    process.stdout.write(`gateway ${line} pid ${child.proc.pid}\n`);
  }
  process.stdout.write("ready\n");
  // A process that dies on its own is reported; the rest keep running (that is the point).
  for (const child of children) {
    void child.proc.exited.then((code) => {
      if (!stopping) process.stderr.write(`needle cluster: ${child.name} exited with ${code}\n`);
    });
  }
}
