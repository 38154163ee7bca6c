/**
 * The crash-retry rule (src/engine/lost-leases.ts): a lease that lapses
 * without an outcome (the engine's view of a worker that died) reruns the
 * job without using up max_attempts, up to maxLostLeases times; one loss
 * more ends it FAILED WORKER_LOST. `attempt` numbers every run.
 */
import { expect, test } from "vitest";
import type { Engine, JobLease, JobStatus } from "../../src/engine/types.js";
import {
  expectEngineError,
  fetchFor,
  fetchOne,
  forEachEngine,
  startWorker,
  uniqueQueue,
  waitFor,
  waitForCount,
  waitForState,
} from "./harness.js";

/** Keeps fetching (NATS notices a lapsed lease at its redelivery) until the job ends FAILED. */
async function waitFailed(env: { api: Engine; worker: Engine }, q: string, id: string): Promise<JobStatus> {
  const worker = startWorker(env.worker, q, () => "must not run");
  try {
    return await waitFor(
      async () => {
        const s = await env.api.getStatus(id);
        return s.state === "FAILED" ? s : undefined;
      },
      { timeoutMs: 8_000, what: `${id} to end FAILED` },
    );
  } finally {
    await worker.stop();
    expect(worker.errors).toEqual([]);
    expect(worker.deliveries.filter((d) => d.begun)).toEqual([]);
  }
}

/** Begins the job's next delivery and lets its lease lapse (a killed worker). */
async function loseLease(worker: Engine, q: string, attempt: number): Promise<JobLease> {
  const lease = await fetchOne(worker, q, { timeoutMs: 6_000 });
  expect(lease.attempt).toBe(attempt);
  expect(await lease.begin()).toBe(true);
  return lease;
}

forEachEngine("lost leases", (env) => {
  test("maxAttempts 1: a lost lease reruns the job as attempt 2, which completes", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 1 });
    const { id } = await env.api.submit({ queue: q, input: "x" });
    const lost = await loseLease(env.worker, q, 1);
    const rerun = await loseLease(env.worker, q, 2);
    expect(await rerun.complete("second")).toBe(true);
    const done = await waitForState(env.api, id, "COMPLETED");
    expect(done.attempt).toBe(2);
    expect(done.error).toBeUndefined();
    expect(await lost.complete("too late")).toBe(false);
    expect((await env.api.getResult(id)).output).toBe("second");
  });

  test("one lost lease more than maxLostLeases ends the job FAILED WORKER_LOST, never run again", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 1, maxLostLeases: 2 });
    const { id } = await env.api.submit({ queue: q, input: "x" });
    const leases = [await loseLease(env.worker, q, 1), await loseLease(env.worker, q, 2)];
    leases.push(await loseLease(env.worker, q, 3));
    const failed = await waitFailed(env, q, id);
    expect(failed.error?.code).toBe("WORKER_LOST");
    expect(failed.error?.message).toContain("lost 3 times");
    expect(failed.error?.message).toContain("at most 2 lost leases are retried");
    expect(failed.attempt).toBe(3);
    for (const lease of leases) expect(await lease.complete("too late")).toBe(false);
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("the job's own maxLostLeases overrides its queue's: 0 fails it at the first lost lease", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 3 });
    const { id } = await env.api.submit({ queue: q, input: "x", options: { maxLostLeases: 0 } });
    await loseLease(env.worker, q, 1);
    const failed = await waitFailed(env, q, id);
    expect(failed.error?.code).toBe("WORKER_LOST");
    expect(failed.error?.message).toContain("lost 1 time ");
    expect(failed.attempt).toBe(1);
  });

  test("lost leases do not use up maxAttempts: handler failures still get every attempt", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: "x" });
    await loseLease(env.worker, q, 1);
    const second = await loseLease(env.worker, q, 2);
    expect(await second.fail({ code: "BOOM", message: "first handler failure" })).toBe(true);
    const retrying = await waitForState(env.api, id, "QUEUED");
    expect(retrying.error?.code).toBe("BOOM");
    const third = await loseLease(env.worker, q, 3);
    expect(await third.fail({ code: "BOOM", message: "second handler failure" })).toBe(true);
    const failed = await waitForState(env.api, id, "FAILED");
    expect(failed.attempt).toBe(3);
    expect(failed.error).toEqual({ code: "BOOM", message: "second handler failure" });
  });

  test("a lost lease between handler failures is counted apart from them", async () => {
    const q = await env.queue({
      ackWaitMs: 1_000,
      maxAttempts: 2,
      maxLostLeases: 1,
      backoffBaseMs: 50,
      backoffMaxMs: 50,
    });
    const { id } = await env.api.submit({ queue: q, input: "x" });
    const first = await loseLease(env.worker, q, 1);
    expect(await first.fail({ code: "BOOM", message: "handler failure" })).toBe(true);
    await loseLease(env.worker, q, 2);
    await loseLease(env.worker, q, 3);
    const failed = await waitFailed(env, q, id);
    expect(failed.error?.code).toBe("WORKER_LOST");
    expect(failed.attempt).toBe(3);
  });

  test("a queue's maxLostLeases out of 0..100 is INVALID_ARGUMENT naming it, and declares nothing", async () => {
    for (const bad of [-1, 101, 1.5]) {
      const q = uniqueQueue("badlost");
      await expectEngineError(
        env.worker.declareQueue(q, { maxLostLeases: bad }),
        "invalid_argument",
        /^config\.maxLostLeases: .* out of range: use 0 to 100/,
      );
      await expectEngineError(env.api.submit({ queue: q, input: 1 }), "not_found");
    }
  });
});
