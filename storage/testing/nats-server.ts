/**
 * A `nats-server` of a test's own (issue 8 decision 9): loopback only, a random free port the
 * server picks itself (read back from its ports file, so no port race), JetStream with a
 * temporary store when asked; `stop()` ends it and removes its directory. Never a server
 * someone else started.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";

export interface TestNatsServer {
  url: string;
  stop(): Promise<void>;
}

const startTimeoutMs = 10_000;

export async function startNatsServer(options: { jetstream?: boolean } = {}): Promise<TestNatsServer> {
  const dir = await mkdtemp(join(tmpdir(), "needle-nats-"));
  const args = ["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir];
  if (options.jetstream) args.push("-js", "-sd", join(dir, "store"));
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(["nats-server", ...args], { stdout: "ignore", stderr: "ignore" });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(
      `cannot start nats-server (${(error as Error).message}): the distributed-mode tests need it on the PATH (Debian: apt-get install nats-server)`,
    );
  }
  const stop = async () => {
    proc.kill();
    await proc.exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let waited = 0; waited < startTimeoutMs; waited += 20) {
      const portsFile = (await readdir(dir)).find((name) => name.endsWith(".ports"));
      if (portsFile !== undefined) {
        const ports = JSON.parse(await readFile(join(dir, portsFile), "utf8")) as { nats?: string[] };
        const url = ports.nats?.[0];
        if (url !== undefined) return { url, stop };
      }
      if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}`);
      await Bun.sleep(20);
    }
    throw new Error(`nats-server did not start within ${startTimeoutMs} ms`);
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * For a test file: a server (and a client connection to it) started before the file's tests
 * and stopped after them. Call at the top level; use the getter inside tests.
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
