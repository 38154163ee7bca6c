/**
 * Lanes through the server (src/service/queue-service.ts): a Submit to
 * `http-lane-<name>` declares the lane and the worker serves it; a key that
 * may use `http` may use its lanes, a key that may not is PERMISSION_DENIED.
 */
import { Code, createJetqClient, JetqError } from "@jetq/client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { createLaneRegistry } from "../../src/handlers/http/lanes.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker } from "../../src/worker/index.js";

const engine = createMemoryEngine();
const worker = createWorker({ engine, queues: {} });
let server: RunningServer;

beforeAll(async () => {
  await worker.start();
  server = await startServer({
    engine,
    port: 0,
    host: "127.0.0.1",
    apiKeys: [
      { key: "key-http-0123456789abcdef01", tenant: "acme", queues: ["http"] },
      { key: "key-echo-0123456789abcdef01", tenant: "acme", queues: ["echo"] },
    ],
    lanes: createLaneRegistry({
      declare: (queue, config) => engine.declareQueue(queue, config),
      perTenant: 5,
      // A stand-in for the http handler: the lane's job gives its input back.
      onCreated: (queue) => worker.addQueue(queue, { handler: (input) => input, concurrency: 1 }),
    }),
  });
});
afterAll(async () => {
  await worker.stop({ graceMs: 0 });
  await server.close();
  await engine.close();
});

test("a lane is made by its first Submit and served; keys for http may use it, others may not", async () => {
  const allowed = createJetqClient({ baseUrl: server.url, apiKey: "key-http-0123456789abcdef01" });
  const { output } = await allowed.subscribe("http-lane-made-at-runtime", { n: 1 });
  expect(output).toEqual({ n: 1 });
  expect((await allowed.queueCount("http-lane-made-at-runtime")).inQueue).toBe(0);

  const denied = createJetqClient({ baseUrl: server.url, apiKey: "key-echo-0123456789abcdef01" });
  const err = await denied.submit("http-lane-made-at-runtime", {}).catch((e: unknown) => e);
  expect((err as JetqError).code).toBe(Code.PermissionDenied);
});
