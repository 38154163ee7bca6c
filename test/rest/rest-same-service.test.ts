/**
 * Issue 15, must-show 4: the REST layer adds no engine code. Every endpoint
 * is a QueueService RPC through the server's interceptors (the logging
 * interceptor sees each one by its RPC name), and nothing in
 * src/server/rest/ imports the engine.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { echo } from "../../src/handlers/echo.js";
import { captureLogger } from "../auth/harness.js";
import { curl, curlUntil } from "./curl.js";
import { nextData, openSse } from "./sse-client.js";

const REST_DIR = join(import.meta.dirname, "../../src/server/rest");

describe("REST calls the RPCs' service, through their interceptors (memory)", () => {
  let engine: Engine;
  let server: RunningServer;
  let worker: Worker;
  const log = captureLogger();

  beforeAll(async () => {
    engine = createMemoryEngine();
    worker = createWorker({ engine, queues: { echo } });
    await worker.start();
    server = await startServer({ engine, port: 0, host: "127.0.0.1", logger: log.logger });
  });
  afterAll(async () => {
    await worker?.stop({ graceMs: 0 });
    await server?.close();
    await engine?.close();
  });

  it("each endpoint is logged by the interceptors as its RPC", async () => {
    const rpcs = () =>
      log
        .text()
        .split("\n")
        .filter((l) => l.includes('"msg":"rpc"'))
        .map((l) => JSON.parse(l) as { rpc: string; code: string });
    const job = (await curl("POST", `${server.url}/queue/echo`, { body: "{}" })).body;
    await curlUntil(job.status_url, (a) => a.body.status === "COMPLETED", "COMPLETED");
    const { events } = await openSse(`${job.status_url}/stream`);
    while (await nextData(events));
    await curl("GET", job.response_url);
    await curl("PUT", job.cancel_url);
    await curl("GET", `${server.url}/queue/echo/count`);
    const calls = rpcs();
    // Every call finished as a successful RPC (the event stream too, read to its end).
    expect(calls.filter((c) => c.code !== "ok")).toEqual([]);
    const seen = new Set(calls.map((c) => c.rpc));
    for (const rpc of ["Submit", "GetStatus", "StreamStatus", "GetResult", "Cancel", "QueueCount"]) {
      expect(seen, rpc).toContain(`jetq.v1.QueueService/${rpc}`);
    }
  });

  it("src/server/rest/ imports nothing from the engine or the engine-facing service internals", async () => {
    const files = (await readdir(REST_DIR)).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = await readFile(join(REST_DIR, file), "utf8");
      const imports = [...text.matchAll(/from "([^"]+)"/g)].map((m) => m[1]!);
      for (const path of imports) {
        expect(path, `${file} imports ${path}`).not.toMatch(/\/engine\/|queue-service/);
      }
    }
  });
});
