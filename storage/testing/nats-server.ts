/**
 * `nats-server`s of a test's own (issue 8 decision 9), on storage/nats/local-nats.ts:
 * loopback, random free ports, JetStream with a temporary store when asked; `stop()` ends
 * them and removes their directories. Never a server someone else started.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import {
  type LocalNatsCluster,
  type LocalNatsNode,
  runNatsServer,
  startLocalNatsCluster,
} from "../nats/local-nats.ts";

export interface TestNatsServer {
  url: string;
  stop(): Promise<void>;
}

export type TestNatsNode = LocalNatsNode;
export type TestNatsCluster = LocalNatsCluster;

export interface TestNatsServerOptions {
  jetstream?: boolean;
  /** The server's max_payload (default storage/nats/local-nats.ts's, 8 MiB). */
  maxPayloadBytes?: number;
}

export async function startNatsServer(options: TestNatsServerOptions = {}): Promise<TestNatsServer> {
  const dir = await mkdtemp(join(tmpdir(), "needle-nats-"));
  const args = options.jetstream ? ["-js", "-sd", join(dir, "store")] : [];
  const running = await runNatsServer(dir, args, { maxPayloadBytes: options.maxPayloadBytes }).catch(
    async (error) => {
      await rm(dir, { recursive: true, force: true });
      throw error;
    },
  );
  return {
    url: running.url,
    stop: async () => {
      running.proc.kill();
      await running.proc.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Three JetStream nodes in one cluster in a temporary directory; `stop()` kills and removes. */
export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  const root = await mkdtemp(join(tmpdir(), "needle-nats-cluster-"));
  const cluster = await startLocalNatsCluster(root, { size, name: `needle-test-${process.pid}` }).catch(
    async (error) => {
      await rm(root, { recursive: true, force: true });
      throw error;
    },
  );
  return {
    nodes: cluster.nodes,
    urls: () => cluster.urls(),
    stop: async () => {
      await Promise.all(cluster.nodes.map((node) => node.kill()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file: a server (and a client connection to it) started before the file's tests
 * and stopped after them. Call at the top level; use the getter inside tests. Bun runs
 * afterAll hooks in the order they were registered, so a file whose own afterAll still needs
 * the server (hosts handing leases back) starts and stops one itself (startNatsServer).
 */
export function natsServerForFile(options: TestNatsServerOptions = {}): () => {
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
