/**
 * End-to-end cluster tests' fixture: a three-node JetStream cluster, gateways and index owners
 * as real `needle serve --role ...` processes (SIGKILL, SIGSTOP and restarts are real), and
 * small HTTP helpers that talk to gateways the way any client would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningServer, startServer } from "../../gateway/http/testing.ts";
import { startNatsCluster, type TestNatsCluster } from "../../storage/testing/nats-server.ts";

export interface ClusterProcess {
  readonly role: "gateway" | "namespace";
  readonly name: string;
  readonly dir: string;
  running: RunningServer | undefined;
  /** The gateway's URL (gateways only). */
  url: string;
}

export interface ClusterFixture {
  nats: TestNatsCluster;
  gateways: ClusterProcess[];
  owners: ClusterProcess[];
  start(member: ClusterProcess): Promise<void>;
  /** The owner process whose log says it owns `index` now (undefined while none does). */
  ownerOf(index: string): ClusterProcess | undefined;
  stop(): Promise<void>;
}

const memberLine = /^member \S+ pid \d+$/;

export async function startClusterFixture(options: {
  gateways: number;
  owners: number;
  replicas: 1 | 3;
}): Promise<ClusterFixture> {
  const nats = await startNatsCluster(3);
  const root = mkdtempSync(join(tmpdir(), "needle-cluster-e2e-"));
  const member = (role: ClusterProcess["role"], name: string): ClusterProcess => ({
    role,
    name,
    dir: join(root, name),
    running: undefined,
    url: "",
  });
  const fixture: ClusterFixture = {
    nats,
    gateways: Array.from({ length: options.gateways }, (_, i) => member("gateway", `gateway-${i + 1}`)),
    owners: Array.from({ length: options.owners }, (_, i) => member("namespace", `owner-${i + 1}`)),
    async start(process: ClusterProcess) {
      const args = [
        "--role",
        // An owner process is also an executor: it holds read replicas of others' indexes.
        process.role === "namespace" ? "namespace,executor" : process.role,
        "--name",
        process.name,
        "--nats",
        nats.urls().join(","),
        "--replicas",
        String(options.replicas),
        // Checkpoints early, so read replicas have something to serve in a short test.
        "--checkpoint-every",
        "10",
      ];
      process.running = await startServer(process.dir, args, {
        firstLine: process.role === "gateway" ? undefined : memberLine,
      });
      if (process.role === "gateway") process.url = process.running.url;
    },
    ownerOf(index: string) {
      return fixture.owners.find((owner) => {
        const log = owner.running?.stderr() ?? "";
        return log.lastIndexOf(`owns index ${index}`) > log.lastIndexOf(`dropped index ${index}`);
      });
    },
    async stop() {
      for (const process of [...fixture.gateways, ...fixture.owners]) {
        const running = process.running;
        process.running = undefined;
        if (running === undefined) continue;
        running.process.kill("SIGCONT");
        running.process.kill("SIGKILL");
        await running.process.exited;
      }
      await nats.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (const process of [...fixture.owners, ...fixture.gateways]) await fixture.start(process);
    return fixture;
  } catch (error) {
    await fixture.stop();
    throw error;
  }
}

const headers = { "Content-Type": "application/json", "Api-Key": "test" };

/** One HTTP call to a gateway: status and parsed body (never throws on a status). */
export async function call(
  url: string,
  method: "GET" | "POST" | "DELETE" | "PATCH",
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...headers, ...extraHeaders },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
    ms: performance.now() - started,
  };
}
