/**
 * Delayed jobs (issue 17): options.runAt / options.delayMs. Until its time a
 * job is QUEUED with scheduledAt and no queuePosition, counted as delayed
 * and not in inQueue; then it runs as a job submitted at that moment would.
 * The restart of nats-server during the delay is in
 * test/engine/delayed-restart.nats.test.ts.
 */
import { expect, test } from "vitest";
import { expectEngineError, fetchFor, fetchOne, forEachEngine, startWorker, waitFor, waitForState } from "./harness.js";

const YEAR_MS = 366 * 24 * 60 * 60 * 1000;

forEachEngine("delayed jobs", (env) => {
  test("delayed 2 s: QUEUED with scheduledAt and no position, counted as delayed, starts between 2 and 2.5 s after submit", async () => {
    const q = await env.queue();
    const worker = startWorker(env.worker, q, () => "ran", { expiresMs: 200 });
    try {
      const submittedAt = Date.now();
      const job = await env.api.submit({ queue: q, input: 1, options: { delayMs: 2_000 } });
      expect(job.state).toBe("QUEUED");
      expect(job.queuePosition).toBeUndefined();
      expect(job.scheduledAt).toBeGreaterThanOrEqual(submittedAt + 2_000);
      expect(job.scheduledAt).toBeLessThanOrEqual(Date.now() + 2_000);
      const read = await env.api.getStatus(job.id);
      expect(read).toMatchObject({ state: "QUEUED", scheduledAt: job.scheduledAt });
      expect(read.queuePosition).toBeUndefined();
      expect(await env.api.queueCount(q)).toMatchObject({ inQueue: 0, running: 0, delayed: 1 });
      const listed = (await env.api.describeQueues()).find((info) => info.name === q);
      expect(listed).toMatchObject({ waiting: 0, running: 0, delayed: 1 });

      const done = await waitForState(env.api, job.id, "COMPLETED", { timeoutMs: 5_000 });
      const startedAfter = done.startedAt! - submittedAt;
      expect(startedAfter).toBeGreaterThanOrEqual(2_000);
      expect(startedAfter).toBeLessThanOrEqual(2_500);
      expect(done.scheduledAt).toBe(job.scheduledAt);
      await waitFor(async () => (await env.api.queueCount(q)).delayed === undefined || undefined, {
        what: "delayed 0",
      });
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
  });

  test("a run time in the past runs at once; a due job waits behind the jobs already in line", async () => {
    const q = await env.queue();
    const past = await env.api.submit({ queue: q, input: "past", options: { runAt: Date.now() - 60_000 } });
    expect(past.scheduledAt).toBeUndefined();
    expect(past.queuePosition).toBe(0);
    const soon = await env.api.submit({ queue: q, input: "soon", options: { delayMs: 100 } });
    await waitFor(async () => (await env.api.getStatus(soon.id)).queuePosition !== undefined, {
      what: "the delayed job due and in line",
    });
    const plain = await env.api.submit({ queue: q, input: "plain" });
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const lease = await fetchOne(env.worker, q);
      order.push(String(lease.input));
      expect(await lease.begin()).toBe(true);
      expect(await lease.complete(null)).toBe(true);
    }
    expect(order).toEqual(["past", "soon", "plain"]);
    expect((await env.api.getStatus(plain.id)).state).toBe("COMPLETED");
  });

  test("an idempotent Submit of a delayed job answers the same job, delayed once", async () => {
    const q = await env.queue();
    const first = await env.api.submit({ queue: q, input: 1, idempotencyKey: "later", options: { delayMs: 400 } });
    const again = await env.api.submit({ queue: q, input: 2, idempotencyKey: "later", options: { delayMs: 400 } });
    expect(again.id).toBe(first.id);
    expect(again.scheduledAt).toBe(first.scheduledAt);
    expect((await env.api.queueCount(q)).delayed).toBe(1);
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(first.id);
    expect(lease.input).toBe(1);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("once")).toBe(true);
    expect(await fetchFor(env.worker, q, 500)).toEqual([]);
    const after = await env.api.submit({ queue: q, input: 3, idempotencyKey: "later", options: { delayMs: 400 } });
    expect(after).toMatchObject({ id: first.id, state: "COMPLETED" });
  });

  test("cancel of a delayed job: CANCELLED, never runs, no longer counted", async () => {
    const q = await env.queue();
    const job = await env.api.submit({ queue: q, input: 1, options: { delayMs: 300 } });
    const outcome = await env.api.cancel(job.id);
    expect(outcome.removed).toBe(true);
    expect(outcome.job.state).toBe("CANCELLED");
    expect(await env.api.queueCount(q)).toEqual({ queue: q, inQueue: 0, running: 0 });
    expect(await fetchFor(env.worker, q, 700)).toEqual([]);
    expect((await env.api.getStatus(job.id)).state).toBe("CANCELLED");
  });

  test("a start deadline after the run time is kept; one before it is INVALID_ARGUMENT", async () => {
    const q = await env.queue();
    const now = Date.now();
    const ok = await env.api.submit({
      queue: q,
      input: 1,
      options: { runAt: now + 200, startDeadline: now + 60_000 },
    });
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(ok.id);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(1)).toBe(true);
    await expectEngineError(
      env.api.submit({ queue: q, input: 1, options: { delayMs: 5_000, startDeadline: Date.now() + 1_000 } }),
      "invalid_argument",
      /options\.startDeadline: .* is before the job's run time/,
    );
  });

  test("bad schedules are INVALID_ARGUMENT naming the field, and enqueue nothing", async () => {
    const q = await env.queue();
    const now = Date.now();
    const cases: [Record<string, number>, RegExp][] = [
      [{ runAt: now + 1_000, delayMs: 1_000 }, /options\.runAt and options\.delayMs: set at most one/],
      [{ delayMs: 0 }, /options\.delayMs: 0 ms must be greater than zero/],
      [{ delayMs: -5 }, /options\.delayMs: -5 ms must be greater than zero/],
      [{ delayMs: YEAR_MS + 1 }, /options\.delayMs: .* over the limit of a year/],
      [{ runAt: now + YEAR_MS + 60_000 }, /options\.runAt: .* more than a year ahead/],
      [{ runAt: Number.NaN }, /options\.runAt: NaN is not a time/],
    ];
    for (const [options, message] of cases) {
      await expectEngineError(env.api.submit({ queue: q, input: 1, options }), "invalid_argument", message);
    }
    expect(await env.api.queueCount(q)).toEqual({ queue: q, inQueue: 0, running: 0 });
  });
});
