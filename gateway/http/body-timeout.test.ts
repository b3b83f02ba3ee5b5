/**
 * A request body that never finishes is answered 408 (and logged as 408), before the gateway's
 * request timeout or the server's idle timeout would cut the connection.
 */
import { expect, test } from "bun:test";
import { connect } from "node:net";
import type { Engine } from "../../actors/api.ts";
import { createApp, type RequestLogEntry } from "./app.ts";

test("a stalled body gets 408 REQUEST_TIMEOUT and the log says 408", async () => {
  const engine = new Proxy({} as Engine, { get: () => async () => undefined });
  const logs: RequestLogEntry[] = [];
  const app = createApp(engine, {
    apiKeys: ["k"],
    publicUrl: "http://127.0.0.1",
    bodyIdleMs: 300,
    log: (entry) => logs.push(entry),
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => app.fetch(request) });
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port!, "127.0.0.1", () => {
        // Headers promise 100 bytes; 8 arrive, then nothing.
        socket.write(
          'POST /index/movies/query HTTP/1.1\r\nHost: 127.0.0.1\r\nApi-Key: k\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"topK":',
        );
      });
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString();
        if (text.includes("\r\n\r\n") && text.includes("}")) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on("error", reject);
      socket.on("close", () => resolve(text));
    });
    expect(answer.startsWith("HTTP/1.1 408")).toBe(true);
    expect(answer).toContain("request body stopped arriving");
    expect(logs.map((entry) => entry.status)).toEqual([408]);
  } finally {
    server.stop(true);
  }
});
