/**
 * The REST walk-through with nothing but curl (issue 15, must-show 1): submit,
 * positions while queued, status until COMPLETED, logs, result, cancel of a
 * queued job (it never runs) and of a finished one, count, unknown ids.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/engine/types.js";
import { echo } from "../../src/handlers/echo.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { ENGINES, uniqueQueue, type EngineBackend } from "../helpers/engines.js";
import { curl, curlUntil } from "./curl.js";

for (const kind of ENGINES) {
  describe(`REST with curl (${kind.name})`, () => {
    let backend: EngineBackend;
    let server: RunningServer;
    let worker: Worker;
    let workerEngine: Engine;
    const queue = uniqueQueue("rest");

    beforeAll(async () => {
      backend = await kind.start();
      const engine = await backend.open();
      await engine.declareQueue(queue);
      server = await startServer({ engine, port: 0, host: "127.0.0.1" });
      workerEngine = await backend.open();
      // Not started yet: the walk-through's jobs wait until it is.
      worker = createWorker({ engine: workerEngine, queues: { [queue]: { handler: echo, concurrency: 1 } } });
    });
    afterAll(async () => {
      await worker?.stop({ graceMs: 0 });
      await server?.close();
      await backend?.stop();
    });

    it("submit, queue positions, cancel a queued job, run, logs, result, count, cancel a finished job", async () => {
      const input = { logs: ["hello from the handler"], answer: 42 };
      const first = await curl("POST", `${server.url}/queue/${queue}`, { body: JSON.stringify(input) });
      expect(first.status).toBe(202);
      const id: string = first.body.request_id;
      expect(first.body).toEqual({
        request_id: id,
        status: "IN_QUEUE",
        queue_position: 0,
        status_url: `${server.url}/queue/requests/${id}/status`,
        response_url: `${server.url}/queue/requests/${id}`,
        cancel_url: `${server.url}/queue/requests/${id}/cancel`,
      });

      const second = await curl("POST", `${server.url}/queue/${queue}?idempotency_key=second`, { body: '{"n": 2}' });
      expect(second.body).toMatchObject({ status: "IN_QUEUE", queue_position: 1 });
      const again = await curl("POST", `${server.url}/queue/${queue}`, {
        body: '{"n": 2}',
        headers: { "Idempotency-Key": "second" },
      });
      expect(again.body.request_id).toBe(second.body.request_id);

      const waiting = await curl("GET", second.body.status_url);
      expect(waiting.status).toBe(200);
      expect(waiting.body).toMatchObject({ request_id: second.body.request_id, status: "IN_QUEUE", queue_position: 1 });
      const early = await curl("GET", first.body.response_url);
      expect(early.status).toBe(409);
      expect(early.body.error.code).toBe("failed_precondition");

      const cancelled = await curl("PUT", second.body.cancel_url);
      expect(cancelled.status).toBe(202);
      expect(cancelled.body).toMatchObject({ status: "CANCELLATION_REQUESTED", removed: true });
      expect(typeof cancelled.body.message).toBe("string");
      expect((await curl("GET", `${server.url}/queue/${queue}/count`)).body).toEqual({
        queue_name: queue,
        in_queue: 1,
        running: 0,
        paused: false,
      });

      await worker.start();
      const done = await curlUntil(first.body.status_url, (a) => a.body.status === "COMPLETED", "job COMPLETED");
      expect(done.body).toMatchObject({
        request_id: id,
        progress: 1,
        attempt: 1,
        response_url: first.body.response_url,
      });
      expect(done.body.logs).toBeUndefined();
      const withLogs = await curl("GET", `${first.body.status_url}?logs=1`);
      expect(withLogs.body.logs).toContainEqual({
        message: "hello from the handler",
        level: "INFO",
        source: "handler",
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });

      expect(done.body.input).toBeUndefined();
      const withInput = await curl("GET", `${first.body.status_url}?input=1`);
      expect(withInput.body).toMatchObject({ request_id: id, status: "COMPLETED", input });

      const result = await curl("GET", first.body.response_url);
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ request_id: id, status: "COMPLETED", response: input });
      const resultLogs = await curl("GET", `${first.body.response_url}?logs=1`);
      expect(resultLogs.body.logs.map((l: { message: string }) => l.message)).toContain("hello from the handler");

      const finished = await curl("PUT", first.body.cancel_url);
      expect(finished.status).toBe(400);
      expect(finished.body).toMatchObject({ status: "ALREADY_COMPLETED", removed: false });

      // The cancelled job never ran: still CANCELLED, no attempt, nothing left to run.
      const never = await curl("GET", second.body.status_url);
      expect(never.body).toMatchObject({ status: "CANCELLED", attempt: 0, error: { code: "CANCELLED" } });
      // On NATS the count comes from a stream snapshot that settles a moment after the acks.
      await expect
        .poll(async () => (await curl("GET", `${server.url}/queue/${queue}/count`)).body, { timeout: 5_000 })
        .toEqual({ queue_name: queue, in_queue: 0, running: 0, paused: false });
    });

    it("unknown ids and paths: 404 JSON errors; bad input: 400", async () => {
      const unknown = `${queue}-00000000zzz-AAAAAAAAAAAA`;
      for (const [method, path] of [
        ["GET", `/queue/requests/${unknown}/status`],
        ["GET", `/queue/requests/${unknown}`],
      ] as const) {
        const answer = await curl(method, `${server.url}${path}`);
        expect(answer.status, path).toBe(404);
        expect(answer.body.error).toMatchObject({ code: "not_found", message: expect.any(String) });
      }
      const cancel = await curl("PUT", `${server.url}/queue/requests/${unknown}/cancel`);
      expect(cancel.status).toBe(404);
      expect(cancel.body).toMatchObject({ status: "NOT_FOUND", removed: false, error: { code: "not_found" } });
      const nowhere = await curl("GET", `${server.url}/queue/nowhere/else/at/all`);
      expect(nowhere.status).toBe(404);
      expect(nowhere.body.error.code).toBe("not_found");
      const badJson = await curl("POST", `${server.url}/queue/${queue}`, { body: "{not json" });
      expect(badJson.status).toBe(400);
      expect(badJson.body.error.message).toMatch(/^body: not valid JSON/);
      const badQueue = await curl("POST", `${server.url}/queue/Bad%20Queue`, { body: "{}" });
      expect(badQueue.status).toBe(400);
      expect(badQueue.body.error.message).toMatch(/queue/);
      const badOption = await curl("POST", `${server.url}/queue/${queue}?max_attempts=0`, { body: "{}" });
      expect(badOption.status).toBe(400);
      expect(badOption.body.error.message).toMatch(/max_attempts/);
    });

    it("URLs name the address the caller used behind a proxy (X-Forwarded-Proto/Host)", async () => {
      const answer = await curl("POST", `${server.url}/queue/${queue}`, {
        body: "null",
        headers: { "X-Forwarded-Proto": "https", "X-Forwarded-Host": "jobs.example.com" },
      });
      const id = answer.body.request_id;
      expect(answer.body.status_url).toBe(`https://jobs.example.com/queue/requests/${id}/status`);
      expect(answer.body.cancel_url).toBe(`https://jobs.example.com/queue/requests/${id}/cancel`);
    });
  });
}
