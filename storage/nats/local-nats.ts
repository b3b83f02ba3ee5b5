/**
 * `nats-server` processes on this machine, for tests and for `needle cluster`: loopback only,
 * ports the server picks itself (read back from its ports file, so no port race), JetStream
 * in a store directory, and a message size (`max_payload`) of 8 MiB so a log record of a full
 * upsert batch fits (the server's default is 1 MiB).
 *
 * A cluster is N JetStream nodes with routes: the first node's route is a placeholder
 * (clustered JetStream refuses to start without a configured route, and the first node cannot
 * know the others' random ports), the others route to it and gossip does the rest. A node can
 * be killed and started again with its name and store, routing to the nodes running then.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";

export const natsMaxPayloadBytes = 8 * 1024 * 1024;
const startTimeoutMs = 10_000;
const clusterReadyMs = 30_000;
/** A route to nothing, so the first node of a cluster may start JetStream (see above). */
const placeholderRoute = "nats://127.0.0.1:1";

export interface RunningNats {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  clusterUrl?: string;
}

/** Whether `nats-server` can be started from the PATH. */
export function natsServerAvailable(): boolean {
  return Bun.which("nats-server") !== null;
}

/**
 * Starts one nats-server with `args`, its ports file and config in `dir`; stderr to `logFile`.
 * `maxPayloadBytes` defaults to natsMaxPayloadBytes.
 */
export async function runNatsServer(
  dir: string,
  args: string[],
  options: { logFile?: string; maxPayloadBytes?: number } = {},
): Promise<RunningNats> {
  const logFile = options.logFile;
  await mkdir(dir, { recursive: true });
  const config = join(dir, "needle-nats.conf");
  await writeFile(config, `max_payload: ${options.maxPayloadBytes ?? natsMaxPayloadBytes}\n`);
  const all = ["-c", config, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir, ...args];
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(["nats-server", ...all], {
      stdout: "ignore",
      stderr: logFile === undefined ? "ignore" : Bun.file(logFile),
    });
  } catch (error) {
    throw new Error(
      `cannot start nats-server (${(error as Error).message}): it must be on the PATH (Debian: apt-get install nats-server)`,
    );
  }
  const portsFile = join(dir, `nats-server_${proc.pid}.ports`);
  try {
    for (let waited = 0; waited < startTimeoutMs; waited += 20) {
      const text = await readFile(portsFile, "utf8").catch(() => undefined);
      const ports = text === undefined ? undefined : parsePorts(text);
      const url = ports?.nats?.[0];
      if (url !== undefined) return { proc, url, clusterUrl: ports?.cluster?.[0] };
      if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}`);
      await Bun.sleep(20);
    }
    throw new Error(`nats-server did not start within ${startTimeoutMs} ms`);
  } catch (error) {
    proc.kill("SIGKILL");
    await proc.exited;
    throw error;
  }
}

/** The ports file, or undefined while the server is still writing it (a partial JSON text). */
function parsePorts(text: string): { nats?: string[]; cluster?: string[] } | undefined {
  try {
    return JSON.parse(text) as { nats?: string[]; cluster?: string[] };
  } catch {
    return undefined;
  }
}

export interface LocalNatsNode {
  readonly name: string;
  /** The client URL of the running process (changes on restart). */
  readonly url: string;
  readonly pid: number;
  readonly running: boolean;
  /** SIGKILL, as a machine failing. */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** Starts again with the same name and store, routing to the nodes running now. */
  restart(): Promise<void>;
}

export interface LocalNatsCluster {
  readonly nodes: LocalNatsNode[];
  /** Client URLs of the running nodes. */
  urls(): string[];
  /** SIGTERM every node and wait. */
  stop(): Promise<void>;
}

/** `size` JetStream nodes under `root` (one directory each); resolves once JetStream serves. */
export async function startLocalNatsCluster(
  root: string,
  options: { size?: number; name?: string; logDir?: string } = {},
): Promise<LocalNatsCluster> {
  const nodes: ClusterNode[] = [];
  const clusterName = options.name ?? `needle-${process.pid}`;
  const cluster: LocalNatsCluster = {
    nodes,
    urls: () => nodes.filter((node) => node.running).map((node) => node.url),
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
  try {
    for (let i = 0; i < (options.size ?? 3); i++) {
      const name = `n${i + 1}`;
      const logFile = options.logDir === undefined ? undefined : join(options.logDir, `nats-${name}.log`);
      const node = new ClusterNode(name, join(root, name), clusterName, nodes, logFile);
      await node.restart();
      nodes.push(node);
    }
    await waitForJetStream(cluster.urls());
    return cluster;
  } catch (error) {
    await Promise.all(nodes.map((node) => node.kill()));
    throw error;
  }
}

class ClusterNode implements LocalNatsNode {
  private current: RunningNats | undefined;

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly clusterName: string,
    private readonly peers: readonly ClusterNode[],
    private readonly logFile: string | undefined,
  ) {}

  get url(): string {
    return this.current?.url ?? "";
  }
  get clusterUrl(): string | undefined {
    return this.current?.clusterUrl;
  }
  get pid(): number {
    return this.current?.proc.pid ?? 0;
  }
  get running(): boolean {
    return this.current !== undefined;
  }

  kill(): Promise<void> {
    return this.end("SIGKILL");
  }

  stop(): Promise<void> {
    return this.end("SIGTERM");
  }

  private async end(signal: "SIGKILL" | "SIGTERM"): Promise<void> {
    const current = this.current;
    if (current === undefined) return;
    this.current = undefined;
    current.proc.kill(signal);
    await current.proc.exited;
  }

  async restart(): Promise<void> {
    if (this.current !== undefined) return;
    const routes = this.peers
      .filter((peer) => peer !== this && peer.running && peer.clusterUrl !== undefined)
      .map((peer) => peer.clusterUrl as string);
    this.current = await runNatsServer(
      this.dir,
      [
        "-js",
        "-sd",
        join(this.dir, "store"),
        "-n",
        this.name,
        "--cluster_name",
        this.clusterName,
        "--cluster",
        "nats://127.0.0.1:-1",
        "--routes",
        (routes.length > 0 ? routes : [placeholderRoute]).join(","),
      ],
      { logFile: this.logFile },
    );
  }
}

/**
 * Until JetStream answers through every node and can place a stream on all of them (the meta
 * group has a leader and knows every peer: until then an R3 stream is refused with "no
 * suitable peers for placement").
 */
async function waitForJetStream(urls: string[]): Promise<void> {
  const deadline = Date.now() + clusterReadyMs;
  const retry = async <T>(what: string, attempt: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`JetStream cluster not ready (${what}): ${(error as Error).message}`);
        await Bun.sleep(100);
      }
    }
  };
  for (const url of urls) {
    const connection: NatsConnection = await connect({ servers: url });
    try {
      const manager = await retry("manager", () => connection.jetstreamManager({ timeout: 1_000 }));
      await retry("account", () => manager.getAccountInfo());
      if (url === urls[0]) {
        await retry("placement", () =>
          manager.streams.add({
            name: "needle-probe",
            subjects: ["needle.probe"],
            num_replicas: urls.length,
          }),
        );
        await manager.streams.delete("needle-probe");
      }
    } finally {
      await connection.close();
    }
  }
}
