/**
 * The request log on a three-node JetStream cluster with R3 streams: the node leading the
 * stream is killed with SIGKILL in the middle of an ingest by concurrent writers. Each writer
 * retries an append that got no acknowledgement with the same message id until one comes
 * (the client's side of invariant 2). Afterwards, read through a new connection, the stream
 * holds every acknowledged append exactly once, at the LSN its acknowledgement named, and
 * nothing else; after the killed node returns and catches up, a client connected only to it
 * reads the same records. (Mutation: R1 streams make the kill lose the stream until the node
 * returns, and the writers give up.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type NatsConnection } from "nats";
import { startNatsCluster, type TestNatsCluster } from "../testing/nats-server.ts";
import { JetStreamLog } from "./jetstream-log.ts";

const stream = "LOG_R3";
const subject = "test.log.r3";
const writers = 4;
const appendsPerWriter = 60;
/** The leader dies once this many appends were acknowledged. */
const killAfter = 60;
const attemptsMax = 100;

let cluster: TestNatsCluster;
const connections: NatsConnection[] = [];

async function connectTo(servers: string[]): Promise<NatsConnection> {
  const connection = await connect({ servers, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  connections.push(connection);
  return connection;
}

beforeAll(async () => {
  cluster = await startNatsCluster(3);
});

afterAll(async () => {
  for (const connection of connections) await connection.close().catch(() => {});
  await cluster?.stop();
});

const decoder = new TextDecoder();

async function untilAvailable<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      expect((error as { code?: string }).code).toBe("UNAVAILABLE");
      if (tries >= 30) throw error;
      await Bun.sleep(200);
    }
  }
}

test("R3: killing the stream leader during ingest loses no acknowledged append and applies none twice", async () => {
  const connection = await connectTo(cluster.urls());
  const log = await JetStreamLog.open({ connection, stream, subject, replicas: 3 });
  const manager = await connection.jetstreamManager();
  const acknowledged = new Map<string, bigint>();
  let retries = 0;
  let killed: Promise<string> | undefined;

  const killLeader = async (): Promise<string> => {
    const leader = (await manager.streams.info(stream)).cluster?.leader;
    const node = cluster.nodes.find((candidate) => candidate.name === leader);
    expect(node).toBeDefined();
    await node!.kill();
    return node!.name;
  };

  const writer = async (w: number) => {
    for (let i = 0; i < appendsPerWriter; i++) {
      const id = `w${w}-${i}`;
      const payload = new TextEncoder().encode(id);
      for (let attempt = 1; ; attempt++) {
        try {
          acknowledged.set(id, await log.append(payload, { messageId: id }));
          break;
        } catch (error) {
          expect((error as { code?: string }).code).toBe("UNAVAILABLE");
          if (attempt >= attemptsMax) throw error;
          retries++;
          await Bun.sleep(100);
        }
      }
      if (acknowledged.size >= killAfter && killed === undefined) killed = killLeader();
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  const killedName = await killed!;
  expect(acknowledged.size).toBe(writers * appendsPerWriter);
  console.log(`killed leader ${killedName}; ${retries} appends retried after the kill`);

  const readThrough = async (servers: string[]) => {
    const readerConnection = await connectTo(servers);
    // Right after the kill the stream may still be electing a leader: opening and reading
    // answer UNAVAILABLE until it has one, as they would to any client.
    return untilAvailable(async () => {
      const reader = await JetStreamLog.open({ connection: readerConnection, stream, subject, replicas: 3 });
      const seen = new Map<string, bigint>();
      await reader.replay(0n, (lsn, payload) => {
        const id = decoder.decode(payload);
        expect(seen.has(id)).toBe(false);
        seen.set(id, lsn);
      });
      return seen;
    });
  };
  const survivors = await readThrough(cluster.urls());
  expect(new Map([...survivors].sort())).toEqual(new Map([...acknowledged].sort()));

  const node = cluster.nodes.find((candidate) => candidate.name === killedName)!;
  await node.restart();
  // Once its replica is current, a client connected only to it reads the same records.
  const deadline = Date.now() + 30_000;
  const direct = await connectTo([node.url]);
  for (;;) {
    // Until the returned node has caught up, JetStream requests through it may time out.
    const info = await direct
      .jetstreamManager()
      .then((manager) => manager.streams.info(stream))
      .catch(() => undefined);
    const current = info?.cluster?.replicas?.find((replica) => replica.name === node.name)?.current;
    if (current === true || info?.cluster?.leader === node.name) break;
    expect(Date.now()).toBeLessThan(deadline);
    await Bun.sleep(200);
  }
  expect(new Map([...(await readThrough([node.url]))].sort())).toEqual(new Map([...acknowledged].sort()));
}, 120_000);
