/**
 * nats.js's close() drops what is not yet written to the socket; the engine
 * closes through closeConnection, so the acks and events it published in its
 * last moments still reach the server. A real nats-server; no mocks.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { closeConnection, openConnection } from "../../src/engine/nats/connection.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../worker/harness.js";

let server: NatsServer;
let listener: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  listener = await connect({ servers: server.url });
});
afterAll(async () => {
  await listener?.close();
  await server?.stop();
});

test("every message published right before closeConnection reaches the server", async () => {
  const got = new Set<string>();
  const sub = listener.subscribe("close.last", {
    callback: (_e, m) => {
      got.add(m.string());
    },
  });
  await listener.flush();
  const sent: string[] = [];
  try {
    for (let round = 0; round < 5; round++) {
      const nc = await openConnection({ servers: server.url, requestTimeoutMs: 5_000 });
      await nc.flush(); // a connection in use, not one still sending its first commands
      for (const n of [1, 2, 3]) {
        sent.push(`${round}.${n}`);
        nc.publish("close.last", `${round}.${n}`);
      }
      await closeConnection(nc, 5_000);
      expect(nc.isClosed()).toBe(true);
    }
    await waitFor("every message", () => sent.every((s) => got.has(s)));
  } finally {
    sub.unsubscribe();
  }
});

test("closeConnection returns within its bound when the server is gone, and twice is harmless", async () => {
  const own = await startNatsServer();
  const nc = await openConnection({ servers: own.url, requestTimeoutMs: 5_000 });
  await own.stop();
  const started = Date.now();
  await closeConnection(nc, 500);
  // Generous: only "bounded", not how fast, is the promise.
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(nc.isClosed()).toBe(true);
  await closeConnection(nc, 500);
});
