/**
 * Readiness follows NATS: with nats-server killed, grpc.health.v1 Check
 * answers NOT_SERVING and /readyz 503 within 5 s while /healthz stays 200;
 * once nats-server is back both recover, and Watch streams each change.
 * Real nats-server, real sockets, real clients.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import type { Engine, Readiness } from "../../src/engine/types.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { uniqueQueue, waitFor } from "../worker/harness.js";

let nats: NatsServer;
let engine: Engine;
let server: RunningServer;

beforeAll(async () => {
  nats = await startNatsServer();
  engine = await createNatsEngine({ servers: nats.url });
  server = await startServer({ engine, port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await server?.close();
  await engine?.close();
  await nats?.stop();
});

const readyz = async () => {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as unknown };
};
const healthzStatus = async () => (await fetch(`${server.url}/healthz`)).status;

it("nats-server killed: NOT_SERVING and /readyz 503 within 5 s, /healthz 200; back to SERVING after the restart, Watch streams both changes", async () => {
  const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
  const api = createClient(QueueService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
  const queue = uniqueQueue("ready");
  await engine.declareQueue(queue);
  const flips: Readiness[] = [];
  const unsubscribe = engine.onReadinessChange((r) => flips.push(r));
  const ac = new AbortController();
  const watched = new Map<string, ServingStatus[]>();
  const watches = ["", QueueService.typeName].map(async (service) => {
    const statuses: ServingStatus[] = [];
    watched.set(service, statuses);
    try {
      for await (const r of health.watch({ service }, { signal: ac.signal })) statuses.push(r.status);
    } catch {
      // aborted at the end
    }
  });
  try {
    await waitFor("both watches' first message", () => [...watched.values()].every((s) => s.length === 1));
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect(await readyz()).toEqual({ status: 200, body: { ready: true } });

    const killedAt = performance.now();
    await nats.kill();
    await waitFor(
      "Check NOT_SERVING and /readyz 503",
      async () =>
        (await health.check({ service: QueueService.typeName })).status === ServingStatus.NOT_SERVING &&
        (await readyz()).status === 503,
      5_000,
    );
    console.log(`readiness lost ${Math.round(performance.now() - killedAt)} ms after nats-server was killed`);
    expect(await readyz()).toEqual({
      status: 503,
      body: { ready: false, reason: "NATS connection lost (reconnecting)" },
    });
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    expect(await healthzStatus()).toBe(200);
    const refused = await api.submit({ queue }).then(
      () => undefined,
      (err: unknown) => ConnectError.from(err),
    );
    expect(refused?.code).toBe(Code.Unavailable);

    const restartedAt = performance.now();
    await nats.restart();
    await waitFor(
      "Check SERVING and /readyz 200 again",
      async () =>
        (await health.check({ service: "" })).status === ServingStatus.SERVING && (await readyz()).status === 200,
      20_000,
    );
    console.log(`readiness back ${Math.round(performance.now() - restartedAt)} ms after nats-server restarted`);
    expect(await healthzStatus()).toBe(200);
    expect((await api.submit({ queue })).queue).toBe(queue);
    for (const [service, statuses] of watched) {
      await waitFor(`the watch of "${service}" to hear SERVING again`, () => statuses.length === 3);
      expect(statuses, service).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]);
    }
    expect(flips.map((r) => r.ready)).toEqual([false, true]);
  } finally {
    unsubscribe();
    ac.abort();
    await Promise.all(watches);
  }
});
