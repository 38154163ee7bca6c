/**
 * Submit's JobOptions over the wire: every option is validated by the service
 * with INVALID_ARGUMENT naming the field (as the .proto spells it), and valid
 * options reach the engine's lease in milliseconds.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../src/testing.js";
import { uniqueQueue } from "../helpers/engines.js";
import { fetchOne } from "./harness.js";

let server: TestServer;
let quiet: string;
beforeAll(async () => {
  server = await startTestServer();
  // Declared, served by nobody: the test fetches its leases itself.
  quiet = uniqueQueue("opts");
  await server.engine.declareQueue(quiet);
});
afterAll(async () => {
  await server?.close();
});

async function submit(options: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/jetq.v1.QueueService/Submit`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1" },
    body: JSON.stringify({ queue: quiet, input: 1, options }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const YEAR_MS = 366 * 24 * 60 * 60 * 1000;

it.each([
  [{ maxAttempts: 0 }, "options.max_attempts"],
  [{ maxAttempts: 101 }, "options.max_attempts"],
  [{ maxLostLeases: 101 }, "options.max_lost_leases"],
  [{ timeout: "0s" }, "options.timeout"],
  [{ timeout: "-1s" }, "options.timeout"],
  [{ timeout: "86401s" }, "options.timeout"],
  [{ retryBackoff: "0s" }, "options.retry_backoff"],
  [{ retryBackoff: "-0.5s" }, "options.retry_backoff"],
  [{ retryBackoff: "90000s" }, "options.retry_backoff"],
  [{ retryBackoffMax: "0s" }, "options.retry_backoff_max"],
  [{ retryBackoffMax: "100000s" }, "options.retry_backoff_max"],
  [{ retryBackoff: "2s", retryBackoffMax: "1s" }, "options.retry_backoff_max"],
  [{ startDeadline: new Date(Date.now() - 3_600_000).toISOString() }, "options.start_deadline"],
  [{ startDeadline: new Date(Date.now() + YEAR_MS + 86_400_000).toISOString() }, "options.start_deadline"],
])("%j → INVALID_ARGUMENT naming %s", async (options, field) => {
  const { status, body } = await submit(options);
  expect(status).toBe(400);
  expect(body.code).toBe("invalid_argument");
  expect(String(body.message)).toMatch(new RegExp(`^${field.replace(".", "\\.")}: `));
  const counts = await server.engine.queueCount(quiet);
  expect(counts.inQueue).toBe(0);
});

it("valid options reach the worker's lease in milliseconds", async () => {
  const deadline = new Date(Date.now() + 60_000);
  const { status, body } = await submit({
    maxAttempts: 7,
    maxLostLeases: 0,
    timeout: "1.5s",
    retryBackoff: "0.25s",
    retryBackoffMax: "30s",
    startDeadline: deadline.toISOString(),
  });
  expect(status).toBe(200);
  const lease = await fetchOne(server.engine, quiet);
  expect(lease.id).toBe(body.id);
  expect(lease.options).toEqual({
    maxAttempts: 7,
    maxLostLeases: 0,
    timeoutMs: 1_500,
    backoffBaseMs: 250,
    backoffMaxMs: 30_000,
    startDeadline: deadline.getTime(),
  });
  await lease.release();
  await server.engine.cancel(lease.id);
});
