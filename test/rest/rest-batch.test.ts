/**
 * POST /queue/{queue}/batch with curl: SubmitBatch as REST. Each item is the
 * job's input and idempotency key, options from the query apply to all;
 * each item succeeds or fails on its own; a repeat answers the same ids; a
 * body that is no array is 400 naming it.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { uniqueQueue } from "../helpers/engines.js";
import { curl } from "./curl.js";

let engine: Engine;
let server: RunningServer;
const queue = uniqueQueue("rest-batch");
beforeAll(async () => {
  engine = createMemoryEngine();
  await engine.declareQueue(queue);
  server = await startServer({ engine, port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await server?.close();
  await engine?.close();
});

test("a batch of three with one bad item: two jobs queued with their URLs, the bad one's error at its index", async () => {
  const items = [
    { input: { n: 1 }, idempotency_key: "rb-1" },
    { input: { n: 2 }, idempotency_key: "k".repeat(300) },
    { input: { n: 3 }, idempotency_key: "rb-3" },
  ];
  const url = `${server.url}/queue/${queue}/batch?max_attempts=3`;
  const first = await curl("POST", url, { body: JSON.stringify(items) });
  expect(first.status).toBe(200);
  expect(first.body.results).toHaveLength(3);
  expect(first.body.results[0]).toMatchObject({ status: "IN_QUEUE", queue_position: 0 });
  expect(first.body.results[0].status_url).toBe(
    `${server.url}/queue/requests/${first.body.results[0].request_id}/status`,
  );
  expect(first.body.results[1]).toEqual({
    error: { index: 1, code: "invalid_argument", message: expect.stringMatching(/^jobs\[1\]\.idempotency_key: /) },
  });
  expect(first.body.results[2]).toMatchObject({ status: "IN_QUEUE", queue_position: 1 });
  const again = await curl("POST", url, { body: JSON.stringify(items) });
  expect(again.body.results.map((r: { request_id?: string }) => r.request_id)).toEqual(
    first.body.results.map((r: { request_id?: string }) => r.request_id),
  );
  expect((await curl("GET", `${server.url}/queue/${queue}/count`)).body).toMatchObject({ in_queue: 2 });
});

test("a body that is no array is 400; an empty one and one over 1,000 are 400 naming jobs", async () => {
  const url = `${server.url}/queue/${queue}/batch`;
  const notArray = await curl("POST", url, { body: '{"input":1}' });
  expect(notArray.status).toBe(400);
  expect(notArray.body.error.message).toMatch(/^body: send a JSON array/);
  const empty = await curl("POST", url, { body: "[]" });
  expect(empty.status).toBe(400);
  expect(empty.body.error.message).toMatch(/^jobs: /);
  const many = await curl("POST", url, { body: JSON.stringify(Array.from({ length: 1_001 }, () => ({ input: 1 }))) });
  expect(many.status).toBe(400);
  expect(many.body.error.message).toMatch(/^jobs: 1001 jobs/);
});
