/**
 * Job policies on every engine: per-job backoff overrides, the final error of
 * an exhausted job, dead letters leaving the work queue, and fencing of stale
 * leases against every newer outcome (retry, cancel, completion).
 */
import { expect, test } from "vitest";
import { stream } from "../engine/nats-monitor.nats.js";
import {
  expectEngineError,
  fetchFor,
  fetchOne,
  forEachEngine,
  waitFor,
  waitForCount,
  waitForState,
  waitForStatus,
  type EngineEnv,
} from "./harness.js";

/** NATS: the work queue stream holds no message of this queue any more. */
async function streamEmpty(env: EngineEnv, queue: string): Promise<void> {
  const nats = env.backend.nats;
  if (!nats) return;
  await waitFor(async () => (await stream(nats.monitorUrl, `JETQ_Q_${queue}`)).state.messages === 0, {
    what: `stream JETQ_Q_${queue} to hold no message`,
  });
}

forEachEngine("policies", (env) => {
  test("options.backoffBaseMs / backoffMaxMs override the queue's backoff, both ways", async () => {
    // The queue says 10 s; this job says 100 ms: its retry comes long before 10 s.
    const slowQueue = await env.queue({ maxAttempts: 2, backoffBaseMs: 10_000, backoffMaxMs: 10_000 });
    const fast = await env.api.submit({
      queue: slowQueue,
      input: "fast",
      options: { backoffBaseMs: 100, backoffMaxMs: 100 },
    });
    const first = await fetchOne(env.worker, slowQueue);
    expect(first.options).toMatchObject({ backoffBaseMs: 100, backoffMaxMs: 100 });
    expect(await first.begin()).toBe(true);
    const failedAt = Date.now();
    expect(await first.fail({ code: "E", message: "once" })).toBe(true);
    const second = await fetchOne(env.worker, slowQueue, { timeoutMs: 3_000 });
    expect(second.id).toBe(fast.id);
    expect(second.attempt).toBe(2);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(75);
    expect(await second.begin()).toBe(true);
    expect(await second.complete("ok")).toBe(true);

    // The queue says 20 ms; this job says 1.5 s (capped at 1.5 s): no retry before ~1.2 s.
    const fastQueue = await env.queue({ maxAttempts: 2, backoffBaseMs: 20, backoffMaxMs: 20 });
    const slow = await env.api.submit({
      queue: fastQueue,
      input: "slow",
      options: { backoffBaseMs: 1_500, backoffMaxMs: 1_500 },
    });
    const a1 = await fetchOne(env.worker, fastQueue);
    expect(await a1.begin()).toBe(true);
    const failed2At = Date.now();
    expect(await a1.fail({ code: "E", message: "once" })).toBe(true);
    const a2 = await fetchOne(env.worker, fastQueue, { timeoutMs: 5_000 });
    expect(a2.id).toBe(slow.id);
    expect(Date.now() - failed2At).toBeGreaterThanOrEqual(1_150);
    expect(await a2.begin()).toBe(true);
    expect(await a2.complete("ok")).toBe(true);
  });

  test("options.backoffMaxMs caps the job's exponential backoff under the queue's", async () => {
    // The queue would wait 5 s, then 10 s; the job's cap makes both ~150 ms.
    const q = await env.queue({ maxAttempts: 3, backoffBaseMs: 5_000, backoffMaxMs: 60_000 });
    const { id } = await env.api.submit({ queue: q, input: 1, options: { backoffMaxMs: 150 } });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const lease = await fetchOne(env.worker, q, { timeoutMs: 2_500 });
      expect(lease.attempt).toBe(attempt);
      expect(await lease.begin()).toBe(true);
      expect(await lease.fail({ code: "E", message: `attempt ${attempt}` })).toBe(true);
    }
    const s = await waitForState(env.api, id, "FAILED");
    expect(s.attempt).toBe(3);
    expect(s.error).toEqual({ code: "E", message: "attempt 3" });
  });

  test("an exhausted job ends FAILED with the last attempt's code and message, and leaves the work queue", async () => {
    const q = await env.queue({ maxAttempts: 3, backoffBaseMs: 20, backoffMaxMs: 20 });
    const { id } = await env.api.submit({ queue: q, input: { n: 1 } });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const lease = await fetchOne(env.worker, q, { timeoutMs: 3_000 });
      expect(lease.attempt).toBe(attempt);
      expect(await lease.begin()).toBe(true);
      expect(await lease.fail({ code: `CODE_${attempt}`, message: `failure number ${attempt}` })).toBe(true);
      if (attempt < 3) {
        const between = await waitForStatus(env.api, id, (s) => s.state === "QUEUED" && s.attempt === attempt);
        expect(between.error).toEqual({ code: `CODE_${attempt}`, message: `failure number ${attempt}` });
      }
    }
    const failed = await waitForState(env.api, id, "FAILED");
    expect(failed.attempt).toBe(3);
    expect(failed.error).toEqual({ code: "CODE_3", message: "failure number 3" });
    expect(failed.finishedAt).toBeGreaterThanOrEqual(failed.createdAt);
    expect(await env.api.getResult(id)).toEqual({
      id,
      state: "FAILED",
      error: { code: "CODE_3", message: "failure number 3" },
    });
    // A dead letter: inspectable, but no longer work for anyone.
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
    await streamEmpty(env, q);
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
    const again = await env.api.getStatus(id);
    expect(again.state).toBe("FAILED");
    expect(again.attempt).toBe(3);
  });

  test("a permanent failure on attempt 1 of 5 is a dead letter at once, with its own code", async () => {
    const q = await env.queue({ maxAttempts: 5, backoffBaseMs: 20, backoffMaxMs: 20 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.fail({ code: "BAD_INPUT", message: "no such user" }, { retryable: false })).toBe(true);
    const s = await waitForState(env.api, id, "FAILED");
    expect(s.attempt).toBe(1);
    expect(s.error).toEqual({ code: "BAD_INPUT", message: "no such user" });
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
    await streamEmpty(env, q);
  });

  test("a job whose lease expired with no lost leases left is a dead letter: FAILED WORKER_LOST, out of the queue", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 1, maxLostLeases: 0 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    // NATS notices at the redelivery: keep a fetch going so it happens.
    const failed = await waitFor(
      async () => {
        await fetchFor(env.worker, q, 200);
        const s = await env.api.getStatus(id);
        return s.state === "FAILED" ? s : undefined;
      },
      { timeoutMs: 6_000, what: `${id} to end FAILED` },
    );
    expect(failed.error?.code).toBe("WORKER_LOST");
    expect(failed.attempt).toBe(1);
    expect(await lease.complete("too late")).toBe(false);
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
    await streamEmpty(env, q);
    expect((await env.api.getResult(id)).state).toBe("FAILED");
  });

  test("fencing: a stale lease cannot fail, complete or release a job its redelivery put back for retry", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 3, backoffBaseMs: 300, backoffMaxMs: 300 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const stale = await fetchOne(env.worker, q);
    expect(await stale.begin()).toBe(true);
    const fresh = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    expect(fresh.attempt).toBe(2);
    expect(await fresh.begin()).toBe(true);
    expect(await fresh.fail({ code: "FRESH", message: "attempt 2 failed" })).toBe(true);
    const retrying = await waitForStatus(env.api, id, (s) => s.state === "QUEUED" && s.attempt === 2);
    expect(retrying.error?.code).toBe("FRESH");

    expect(await stale.fail({ code: "STALE", message: "late" }, { retryable: false })).toBe(false);
    expect(await stale.complete("stale output")).toBe(false);
    await stale.release();
    const still = await env.api.getStatus(id);
    expect(still.state).toBe("QUEUED");
    expect(still.error?.code).toBe("FRESH");

    const third = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    expect(third.attempt).toBe(3);
    expect(await third.begin()).toBe(true);
    expect(await third.complete("third")).toBe(true);
    const done = await waitForState(env.api, id, "COMPLETED");
    expect(done.attempt).toBe(3);
    expect((await env.api.getResult(id)).output).toBe("third");
  });

  test("fencing: after a cancel, neither the running lease nor a stale one can finish the job", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 2 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const stale = await fetchOne(env.worker, q);
    expect(await stale.begin()).toBe(true);
    const fresh = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    expect(await fresh.begin()).toBe(true);
    const outcome = await env.api.cancel(id);
    expect(outcome.removed).toBe(true);
    await waitFor(() => fresh.cancelled.aborted, { what: "the running lease's cancelled signal" });
    expect(await fresh.complete("fresh")).toBe(false);
    expect(await stale.complete("stale")).toBe(false);
    expect(await stale.fail({ code: "E", message: "stale" })).toBe(false);
    const s = await env.api.getStatus(id);
    expect(s.state).toBe("CANCELLED");
    const r = await env.api.getResult(id);
    expect(r.state).toBe("CANCELLED");
    expect(r.output).toBeUndefined();
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("a settled lease settles once: a second complete() or fail() on it resolves false and changes nothing", async () => {
    const q = await env.queue({ maxAttempts: 3 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("first")).toBe(true);
    expect(await lease.complete("second")).toBe(false);
    expect(await lease.fail({ code: "E", message: "after" })).toBe(false);
    await waitForState(env.api, id, "COMPLETED");
    expect((await env.api.getResult(id)).output).toBe("first");
  });

  test("a well-formed id that never existed is plain NOT_FOUND, not 'expired'", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    // Same queue and seq, another token: never a job.
    const forged = id.slice(0, -4) + (id.endsWith("AAAA") ? "BBBB" : "AAAA");
    const err = await expectEngineError(env.api.getStatus(forged), "not_found");
    expect(err.message).not.toMatch(/expired/);
  });
});

forEachEngine("policies: handing jobs back", (env) => {
  test("a begun job handed back (shutdown) reruns as attempt 2 without using up maxAttempts; one not begun stays attempt 1", async () => {
    const q = await env.queue({ maxAttempts: 1 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const first = await fetchOne(env.worker, q);
    expect(first.attempt).toBe(1);
    await first.release(); // before begin: not an attempt at all
    const second = await fetchOne(env.worker, q, { timeoutMs: 3_000 });
    expect(second.attempt).toBe(1);
    expect(await second.begin()).toBe(true);
    await second.release(); // interrupted: numbered, not counted
    const back = await waitForStatus(env.api, id, (s) => s.state === "QUEUED");
    expect(back.attempt).toBe(1);
    const third = await fetchOne(env.worker, q, { timeoutMs: 3_000 });
    expect(third.attempt).toBe(2);
    expect(await third.begin()).toBe(true);
    await waitForStatus(env.api, id, (s) => s.state === "RUNNING" && s.attempt === 2);
    // maxAttempts 1 and this rerun fails: FAILED now, with its error.
    expect(await third.fail({ code: "E", message: "rerun failed" })).toBe(true);
    const failed = await waitForState(env.api, id, "FAILED");
    expect(failed.attempt).toBe(2);
    expect(failed.error).toEqual({ code: "E", message: "rerun failed" });
  });
});
