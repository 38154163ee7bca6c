/**
 * Retry (issue 17): a FAILED, CANCELLED or EXPIRED job runs again under its
 * id; attempt numbers continue and the earlier attempts stay readable
 * (includeAttempts); any other state is FAILED_PRECONDITION naming it.
 */
import { expect, test } from "vitest";
import {
  HandlerFailure,
  expectEngineError,
  fetchFor,
  fetchOne,
  forEachEngine,
  startWorker,
  waitFor,
  waitForState,
} from "./harness.js";

forEachEngine("retry", (env) => {
  test("a handler that fails only on its first try: FAILED, Retry, COMPLETED; attempts continue and stay readable", async () => {
    const q = await env.queue({ maxAttempts: 1 });
    const worker = startWorker(env.worker, q, (lease) => {
      if (lease.attempt === 1) throw new HandlerFailure("FIRST_TRY", "fails the first time");
      return { ran: lease.attempt };
    });
    try {
      const job = await env.api.submit({ queue: q, input: { n: 1 }, idempotencyKey: "retry-key" });
      const failed = await waitForState(env.api, job.id, "FAILED");
      expect(failed.error?.code).toBe("FIRST_TRY");

      const retried = await env.api.retry(job.id);
      expect(retried.id).toBe(job.id);
      expect(["QUEUED", "RUNNING", "COMPLETED"]).toContain(retried.state);
      expect(retried.error).toBeUndefined();

      const done = await waitForState(env.api, job.id, "COMPLETED");
      expect(done.attempt).toBe(2);
      expect(await env.api.getResult(job.id)).toEqual({ id: job.id, state: "COMPLETED", output: { ran: 2 } });

      const read = await env.api.getStatus(job.id, { includeAttempts: true });
      expect(read.attempts?.map((a) => [a.attempt, a.outcome, a.error?.code])).toEqual([
        [1, "FAILED", "FIRST_TRY"],
        [2, "COMPLETED", undefined],
      ]);
      for (const a of read.attempts ?? []) {
        expect(a.startedAt).toBeGreaterThanOrEqual(job.createdAt);
        expect(a.finishedAt).toBeGreaterThanOrEqual(a.startedAt!);
      }
      expect((await env.api.getStatus(job.id)).attempts).toBeUndefined();

      // The idempotency key still names the job.
      const again = await env.api.submit({ queue: q, input: { n: 1 }, idempotencyKey: "retry-key" });
      expect(again.id).toBe(job.id);
      expect(again.state).toBe("COMPLETED");
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    expect(worker.deliveries.map((d) => d.attempt)).toEqual([1, 2]);
  });

  test("retried failures of the automatic policy are in the history as QUEUED with their error", async () => {
    const q = await env.queue({ maxAttempts: 2, backoffBaseMs: 20, backoffMaxMs: 20 });
    const { id } = await env.api.submit({ queue: q, input: null });
    for (const attempt of [1, 2]) {
      const lease = await fetchOne(env.worker, q);
      expect(lease.attempt).toBe(attempt);
      expect(await lease.begin()).toBe(true);
      expect(await lease.fail({ code: "E", message: `no ${attempt}` })).toBe(true);
    }
    await waitForState(env.api, id, "FAILED");
    await env.api.retry(id);
    const third = await fetchOne(env.worker, q);
    expect(third.attempt).toBe(3);
    expect(await third.begin()).toBe(true);
    // A fresh budget: max_attempts 2 counts from the Retry on.
    expect(await third.fail({ code: "E", message: "no 3" })).toBe(true);
    await waitFor(async () => (await env.api.getStatus(id)).state === "QUEUED" || undefined, { what: "retried again" });
    const fourth = await fetchOne(env.worker, q);
    expect(fourth.attempt).toBe(4);
    expect(await fourth.begin()).toBe(true);
    expect(await fourth.complete("ok")).toBe(true);
    const read = await env.api.getStatus(id, { includeAttempts: true });
    expect(read.attempts?.map((a) => [a.attempt, a.outcome, a.error?.message])).toEqual([
      [1, "QUEUED", "no 1"],
      [2, "FAILED", "no 2"],
      [3, "QUEUED", "no 3"],
      [4, "COMPLETED", undefined],
    ]);
  });

  test("QUEUED, RUNNING and COMPLETED jobs: FAILED_PRECONDITION naming the state", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    await expectEngineError(env.api.retry(id), "failed_precondition", /is QUEUED/);
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    await waitForState(env.api, id, "RUNNING");
    await expectEngineError(env.api.retry(id), "failed_precondition", /is RUNNING/);
    expect(await lease.complete(1)).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
    await expectEngineError(
      env.api.retry(id),
      "failed_precondition",
      /is COMPLETED: only FAILED, CANCELLED or EXPIRED/,
    );
  });

  test("a CANCELLED job and an EXPIRED one run again when retried", async () => {
    const q = await env.queue();
    const cancelled = await env.api.submit({ queue: q, input: "c" });
    expect((await env.api.cancel(cancelled.id)).removed).toBe(true);
    const expiring = await env.api.submit({ queue: q, input: "e", options: { startDeadline: Date.now() + 50 } });
    await waitFor(() => Date.now() > expiring.createdAt + 100, { what: "the deadline passed" });
    // The embedded engine expires it on time, JetStream when a delivery begins.
    const late = await fetchFor(env.worker, q, 300);
    for (const l of late) expect(await l.begin()).toBe(false);
    await waitForState(env.api, expiring.id, "EXPIRED");

    await env.api.retry(cancelled.id);
    await env.api.retry(expiring.id);
    // Listed as waiting again, under their ids, in the order they were retried (page by page).
    const first = await env.api.listJobs({ queue: q, state: "QUEUED", pageSize: 1 });
    const second = await env.api.listJobs({ queue: q, state: "QUEUED", pageSize: 1, cursor: first.nextCursor });
    expect([...first.jobs, ...second.jobs].map((j) => j.id)).toEqual([cancelled.id, expiring.id]);
    const ran: string[] = [];
    for (let i = 0; i < 2; i++) {
      const lease = await fetchOne(env.worker, q);
      expect(lease.attempt).toBe(1);
      expect(await lease.begin()).toBe(true);
      ran.push(String(lease.input));
      expect(await lease.complete(lease.input)).toBe(true);
    }
    expect(ran.sort()).toEqual(["c", "e"]);
    expect((await env.api.getStatus(cancelled.id)).state).toBe("COMPLETED");
    expect((await env.api.getStatus(expiring.id)).state).toBe("COMPLETED");
  });

  test("another tenant's job: NOT_FOUND, as for an id that never existed", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1, tenant: "tenant-a" });
    await env.api.cancel(id);
    const other = await expectEngineError(env.api.retry(id, { tenant: "tenant-b" }), "not_found");
    expect(other.message).toContain(id);
    expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    expect((await env.api.retry(id, { tenant: "tenant-a" })).state).toBe("QUEUED");
  });

  test("two concurrent retries make one new attempt", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    await env.api.cancel(id);
    const outcomes = await Promise.allSettled([env.api.retry(id), env.worker.retry(id)]);
    const won = outcomes.filter((o) => o.status === "fulfilled");
    expect(won).toHaveLength(1);
    const lost = outcomes.find((o) => o.status === "rejected");
    expect(String((lost as PromiseRejectedResult).reason)).toMatch(/is (QUEUED|RUNNING)/);
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(1)).toBe(true);
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
    expect((await env.api.getStatus(id)).state).toBe("COMPLETED");
  });
});
