/**
 * The settle retry (src/worker/lease-retry.ts) against a real nats-server
 * killed under a settled job: a complete() that meets UNAVAILABLE is retried,
 * the job holding the pulls meanwhile, and goes through once the server is
 * back; with the engine gone past the patience it gives up with the error.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { isEngineError } from "../../src/engine/errors.js";
import type { Engine, JobLease } from "../../src/engine/types.js";
import { silentLogger } from "../../src/logger.js";
import { newActiveJob } from "../../src/worker/active-job.js";
import { jobScope, type JobRuntime } from "../../src/worker/job-scope.js";
import type { RetryPolicy } from "../../src/worker/lease-retry.js";
import { createPullHold } from "../../src/worker/pull-hold.js";
import { settle } from "../../src/worker/settle.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";
import { waitFor, waitForState } from "./harness.js";

const fixture = useNatsEngines();
let worker: Engine;
let api: Engine;
beforeAll(async () => {
  // A killed server may not be noticed before a request times out: keep that short, under the patience below.
  worker = await fixture.open("settle-worker", { requestTimeoutMs: 500 });
  api = await fixture.open("settle-api");
});
afterAll(async () => {
  // A test that failed midway may have left the server down.
  await fixture.nats.restart().catch(() => undefined);
});

const runtime = (retry: RetryPolicy): JobRuntime => ({
  logger: silentLogger(),
  hold: createPullHold(),
  graceOver: new AbortController().signal,
  retry,
});

/** A begun lease of a job of its own queue; the ack wait outlasts any test. */
async function begunLease(): Promise<JobLease> {
  const queue = uniqueQueue("settle");
  await api.declareQueue(queue, { ackWaitMs: 60_000 });
  await api.submit({ queue, input: "x" });
  const [lease] = await worker.fetch(queue, { max: 1, expiresMs: 5_000 });
  if (!lease) throw new Error("no lease fetched");
  expect(await lease.begin()).toBe(true);
  return lease;
}

it("a complete() that meets UNAVAILABLE is retried, holding the pulls, until the server is back", async () => {
  const lease = await begunLease();
  const rt = runtime({ minMs: 20, maxMs: 100, patienceMs: 60_000 });
  const job = newActiveJob(lease);
  await fixture.nats.kill();
  const settled = settle(job, { ok: true, output: { done: true } }, jobScope(job, rt));
  await waitFor("the job to hold the pulls (a complete() met the outage)", () => rt.hold.holding);
  await fixture.nats.restart();
  await settled;
  const result = await waitFor("the result to be readable", () => api.getResult(lease.id), 20_000);
  expect(result).toMatchObject({ state: "COMPLETED", output: { done: true } });
  // Reached again: the hold ends one ack wait later, or when the executor releases the job.
  rt.hold.release(job);
  expect(rt.hold.holding).toBe(false);
});

it("past its patience the retry gives up and the UNAVAILABLE reaches the caller", async () => {
  const lease = await begunLease();
  const rt = runtime({ minMs: 20, maxMs: 50, patienceMs: 1_500 });
  const job = newActiveJob(lease);
  await fixture.nats.kill();
  try {
    const err = await settle(job, { ok: false, error: new Error("boom") }, jobScope(job, rt)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEngineError(err, "unavailable"), String(err)).toBe(true);
    expect(rt.hold.holding).toBe(true);
  } finally {
    await fixture.nats.restart();
  }
  // Not settled: the delivery is the server's again (redelivered after its ack wait), the job still RUNNING.
  await waitForState(api, lease.id, "RUNNING", 20_000);
});
