/**
 * `nats-server`s of a test's own (issue 8 decision 9): loopback only, random free ports the
 * server picks itself (read back from its ports file, so no port race), JetStream with a
 * temporary store when asked; `stop()` ends them and removes their directories. Never a
 * server someone else started.
 *
 * A cluster (`startNatsCluster`) is three JetStream nodes with routes: the first node's route
 * is a placeholder (JetStream clustering refuses to start without a configured route, and the
 * first node cannot know the others' random ports), the others route to it and gossip does
 * the rest. A node can be killed (SIGKILL) and restarted with its name and store, routing to
 * the nodes alive then, as a crashed machine coming back would.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";

export interface TestNatsServer {
  url: string;
  stop(): Promise<void>;
}

export interface TestNatsNode {
  readonly name: string;
  /** The client URL of the running process (changes on restart). */
  readonly url: string;
  readonly pid: number;
  readonly running: boolean;
  /** SIGKILL, as a machine failing. */
  kill(): Promise<void>;
  /** Starts again with the same name and store, routing to the nodes running now. */
  restart(): Promise<void>;
}

export interface TestNatsCluster {
  readonly nodes: TestNatsNode[];
  /** Client URLs of the running nodes. */
  urls(): string[];
  stop(): Promise<void>;
}

const startTimeoutMs = 10_000;
const clusterReadyMs = 30_000;
/** A route to nothing, so the first node of a cluster may start JetStream (see above). */
const placeholderRoute = "nats://127.0.0.1:1";

interface Running {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  clusterUrl?: string;
}

async function runNode(dir: string, args: string[]): Promise<Running> {
  const all = ["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir, ...args];
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(["nats-server", ...all], { stdout: "ignore", stderr: "ignore" });
  } catch (error) {
    throw new Error(
      `cannot start nats-server (${(error as Error).message}): the distributed-mode tests need it on the PATH (Debian: apt-get install nats-server)`,
    );
  }
  const portsFile = join(dir, `nats-server_${proc.pid}.ports`);
  try {
    for (let waited = 0; waited < startTimeoutMs; waited += 20) {
      const text = await readFile(portsFile, "utf8").catch(() => undefined);
      if (text !== undefined) {
        const ports = JSON.parse(text) as { nats?: string[]; cluster?: string[] };
        const url = ports.nats?.[0];
        if (url !== undefined) return { proc, url, clusterUrl: ports.cluster?.[0] };
      }
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

export async function startNatsServer(options: { jetstream?: boolean } = {}): Promise<TestNatsServer> {
  const dir = await mkdtemp(join(tmpdir(), "needle-nats-"));
  const args = options.jetstream ? ["-js", "-sd", join(dir, "store")] : [];
  const running = await runNode(dir, args).catch(async (error) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    url: running.url,
    stop: async () => {
      running.proc.kill();
      await running.proc.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Three JetStream nodes in one cluster; resolves once JetStream answers through each. */
export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  const root = await mkdtemp(join(tmpdir(), "needle-nats-cluster-"));
  const nodes: ClusterNode[] = [];
  const clusterName = `needle-test-${process.pid}`;
  const cluster: TestNatsCluster = {
    nodes,
    urls: () => nodes.filter((node) => node.running).map((node) => node.url),
    stop: async () => {
      await Promise.all(nodes.map((node) => node.kill()));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < size; i++) {
      const node = new ClusterNode(`n${i + 1}`, join(root, `n${i + 1}`), clusterName, nodes);
      await node.restart();
      nodes.push(node);
    }
    await waitForJetStream(cluster.urls());
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

class ClusterNode implements TestNatsNode {
  private current: Running | undefined;

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly clusterName: string,
    private readonly peers: readonly ClusterNode[],
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

  async kill(): Promise<void> {
    const current = this.current;
    if (current === undefined) return;
    this.current = undefined;
    current.proc.kill("SIGKILL");
    await current.proc.exited;
  }

  async restart(): Promise<void> {
    if (this.current !== undefined) return;
    const routes = this.peers
      .filter((peer) => peer !== this && peer.running && peer.clusterUrl !== undefined)
      .map((peer) => peer.clusterUrl as string);
    await mkdir(this.dir, { recursive: true });
    this.current = await runNode(this.dir, [
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
    ]);
  }
}

/**
 * Until JetStream answers through every node and can place a stream on all of them (the meta
 * group has a leader and knows every peer: until then an R3 stream is refused with "no
 * suitable peers for placement").
 */
async function waitForJetStream(urls: string[]): Promise<void> {
  const deadline = Date.now() + clusterReadyMs;
  const retry = async (what: string, attempt: () => Promise<unknown>) => {
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
    const connection = await connect({ servers: url });
    try {
      const manager = (await retry("manager", () =>
        connection.jetstreamManager({ timeout: 1_000 }),
      )) as Awaited<ReturnType<NatsConnection["jetstreamManager"]>>;
      await retry("account", () => manager.getAccountInfo());
      if (url === urls[0]) {
        await retry("placement", () =>
          manager.streams.add({
            name: "needle-test-probe",
            subjects: ["needle.test.probe"],
            num_replicas: urls.length,
          }),
        );
        await manager.streams.delete("needle-test-probe");
      }
    } finally {
      await connection.close();
    }
  }
}

/**
 * For a test file: a server (and a client connection to it) started before the file's tests
 * and stopped after them. Call at the top level; use the getter inside tests. Bun runs
 * afterAll hooks in the order they were registered, so a file whose own afterAll still needs
 * the server (hosts handing leases back) starts and stops one itself (startNatsServer).
 */
export function natsServerForFile(options: { jetstream?: boolean } = {}): () => {
  server: TestNatsServer;
  connection: NatsConnection;
} {
  let server: TestNatsServer | undefined;
  let connection: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer(options);
    connection = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await connection?.drain();
    await server?.stop();
  });
  return () => ({ server: server!, connection: connection! });
}
