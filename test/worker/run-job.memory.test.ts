/**
 * The job executor (src/worker/run-job.ts) on its own, over the embedded
 * engine: one lease fetched by hand, run to its settlement, and the rule
 * each test names read back from the job's status.
 */
import { afterAll, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { JobLease, JobOptions, QueueConfig } from "../../src/engine/types.js";
import { silentLogger } from "../../src/logger.js";
import { newActiveJob } from "../../src/worker/active-job.js";
import type { JobRuntime } from "../../src/worker/job-scope.js";
import { createPullHold } from "../../src/worker/pull-hold.js";
import { runJob } from "../../src/worker/run-job.js";
import { PermanentError, type Handler } from "../../src/worker/index.js";
import { aborted, uniqueQueue, waitForState } from "./harness.js";

const engine = createMemoryEngine();
afterAll(() => engine.close());

const runtime = (): JobRuntime => ({
  logger: silentLogger(),
  hold: createPullHold(),
  graceOver: new AbortController().signal,
});

/** Submits one job to a queue of its own and fetches its lease. */
async function leaseOf(config: Partial<QueueConfig>, options: JobOptions = {}): Promise<JobLease> {
  const queue = uniqueQueue("exec");
  await engine.declareQueue(queue, config);
  await engine.submit({ queue, input: { n: 1 }, options });
  const [lease] = await engine.fetch(queue, { max: 1, expiresMs: 1_000 });
  if (!lease) throw new Error("no lease fetched");
  return lease;
}

it("a handler's output completes the job, as it reads through JSON", async () => {
  const lease = await leaseOf({});
  await runJob(newActiveJob(lease), () => ({ at: new Date(0) }) as never, runtime());
  expect(await engine.getResult(lease.id)).toMatchObject({
    state: "COMPLETED",
    output: { at: "1970-01-01T00:00:00.000Z" },
  });
});

it("a handler that throws PermanentError fails its job without retry, with the error's code", async () => {
  const lease = await leaseOf({ maxAttempts: 3 });
  const handler: Handler = () => {
    throw new PermanentError("no such account", "BAD_ACCOUNT");
  };
  await runJob(newActiveJob(lease), handler, runtime());
  const status = await engine.getStatus(lease.id);
  expect(status).toMatchObject({
    state: "FAILED",
    attempt: 1,
    error: { code: "BAD_ACCOUNT", message: "no such account" },
  });
});

it("any other throw is a retryable HANDLER_ERROR: with attempts left the job is queued again", async () => {
  const lease = await leaseOf({ maxAttempts: 3, backoffBaseMs: 60_000 });
  await runJob(
    newActiveJob(lease),
    () => {
      throw new Error("flaky");
    },
    runtime(),
  );
  expect((await engine.getStatus(lease.id)).state).toBe("QUEUED");
});

it("a timeout aborts the handler's signal with a TimeoutError and fails the job with TIMEOUT", async () => {
  const lease = await leaseOf({}, { timeoutMs: 50 });
  let reason: unknown;
  const job = newActiveJob(lease);
  await runJob(
    job,
    async (_input, ctx) => {
      reason = await aborted(ctx.signal);
      throw reason as Error;
    },
    runtime(),
  );
  expect((reason as Error).name).toBe("TimeoutError");
  expect(job.reason).toBe("timeout");
  const status = await engine.getStatus(lease.id);
  expect(status.state).toBe("FAILED");
  expect(status.error).toEqual({ code: "TIMEOUT", message: "attempt 1 exceeded the job's time limit of 50ms" });
});

it("a timeout settles the job at once even when the handler ignores its signal; the run ends when it returns", async () => {
  const lease = await leaseOf({}, { timeoutMs: 50 });
  let finish!: () => void;
  const ran = runJob(newActiveJob(lease), () => new Promise<string>((r) => (finish = () => r("late"))), runtime());
  await waitForState(engine, lease.id, "FAILED", 5_000);
  let returned = false;
  void ran.then(() => (returned = true));
  await new Promise((r) => setImmediate(r));
  expect(returned).toBe(false);
  finish();
  await ran;
  expect((await engine.getStatus(lease.id)).error?.code).toBe("TIMEOUT");
});

it("a cancel aborts the handler's signal; the job stays CANCELLED", async () => {
  const lease = await leaseOf({ maxAttempts: 3 });
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let reason: unknown;
  const ran = runJob(
    newActiveJob(lease),
    async (_input, ctx) => {
      started();
      reason = await aborted(ctx.signal);
      return "ignored";
    },
    runtime(),
  );
  await running;
  expect((await engine.cancel(lease.id)).removed).toBe(true);
  await ran;
  expect((reason as Error).name).toBe("AbortError");
  expect((await engine.getStatus(lease.id)).state).toBe("CANCELLED");
});

it("an output that is not JSON fails the job OUTPUT_INVALID without retry", async () => {
  const lease = await leaseOf({ maxAttempts: 3 });
  await runJob(newActiveJob(lease), () => ({ big: 1n }) as never, runtime());
  const status = await engine.getStatus(lease.id);
  expect(status.state).toBe("FAILED");
  expect(status.error?.code).toBe("OUTPUT_INVALID");
  expect(status.error?.message).toMatch(/^handler output is not JSON: /);
});
