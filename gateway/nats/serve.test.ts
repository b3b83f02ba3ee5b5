/**
 * `needle serve --nats URL`: one engine behind both doors. An index created over NATS is
 * listed over HTTP and a record written over HTTP is read over NATS at once; SIGTERM stops
 * both cleanly. A NATS URL nobody answers refuses to start, naming the flag.
 */
import { expect, test } from "bun:test";
import { makeDataDir, startServer } from "../http/testing.ts";
import { natsServerForFile } from "../../storage/testing/nats-server.ts";
import { NeedleNatsClient } from "./client.ts";

const nats = natsServerForFile();

test("serve --nats: the HTTP and NATS doors share one engine; SIGTERM exits 0", async () => {
  const data = makeDataDir("serve-nats");
  const server = await startServer(data.dir, ["--nats", nats().server.url]);
  try {
    const client = new NeedleNatsClient(nats().connection);
    await client.createIndex({ name: "both", dimension: 2, metric: "euclidean" });
    const listed = (await (await fetch(`${server.url}/indexes`)).json()) as { indexes: { name: string }[] };
    expect(listed.indexes.map((index) => index.name)).toEqual(["both"]);

    const upsert = await fetch(`${server.url}/index/both/vectors/upsert`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ vectors: [{ id: "h", values: [0.5, -2] }] }),
    });
    expect(upsert.status).toBe(200);
    const fetched = await client.index("both").fetch({ ids: ["h"] });
    expect(fetched.records.h?.values).toEqual([0.5, -2]);
    expect(server.stderr()).toContain("serving the NATS API");
  } finally {
    expect(await server.stop()).toBe(0);
    data.remove();
  }
});

test("serve --nats with no server there refuses to start, naming the flag", async () => {
  const data = makeDataDir("serve-nats-down");
  try {
    const error = await startServer(data.dir, ["--nats", "nats://127.0.0.1:1"]).then(
      () => undefined,
      (thrown: Error) => thrown,
    );
    expect(error?.message).toContain("cannot connect to NATS at nats://127.0.0.1:1 (--nats)");
  } finally {
    data.remove();
  }
});
