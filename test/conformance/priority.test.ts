/**
 * Priority (src/engine/core/priority.ts): JobOptions.priority 1 to 10, higher
 * runs first, 5 by default; equal priorities run in submit order. Positions
 * stay exact: a waiting job's position is the number of jobs that will run
 * before it, whatever their priority. Idempotency, cancel, retries, start
 * deadlines and lost leases work for prioritized jobs as for any.
 */
import { expect, test } from "vitest";
import type { Engine, JobStatus } from "../../src/engine/types.js";
import {
  expectEngineError,
  fetchFor,
  fetchOne,
  forEachEngine,
  recordWatch,
  show,
  startWorker,
  waitFor,
  waitForCount,
  waitForState,
  waitForStatus,
} from "./harness.js";

/** Waits until the QUEUED jobs `ids` report positions 0..n-1 in that order (GetStatus). */
async function waitForPositions(engine: Engine, ids: string[], timeoutMs = 5_000): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      const seen: Array<number | undefined> = [];
      for (const id of ids) {
        const s = await engine.getStatus(id);
        seen.push(s.state === "QUEUED" ? s.queuePosition : undefined);
      }
      last = seen;
      return show(seen) === show(ids.map((_, i) => i));
    },
    { timeoutMs, what: `positions 0..${ids.length - 1}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\npositions: ${show(last)}`);
  });
}

/** The order a worker must take jobs in: priority descending, then submit order. */
function runOrder(jobs: Array<{ id: string; priority: number }>): string[] {
  return jobs
    .map((j, i) => ({ ...j, i }))
    .sort((a, b) => b.priority - a.priority || a.i - b.i)
    .map((j) => j.id);
}

forEachEngine("priority", (env) => {
  test("one worker slot: a priority-9 job submitted after 10 normal ones runs next, and positions stay exact", async () => {
    const q = await env.queue();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = await env.api.submit({ queue: q, input: "first" });
    const worker = startWorker(
      env.worker,
      q,
      async (lease) => {
        if (lease.id === first.id) await gate;
        return lease.input;
      },
      { concurrency: 1 },
    );
    const normal: string[] = [];
    let high: JobStatus | undefined;
    try {
      await waitForState(env.api, first.id, "RUNNING");
      for (let i = 0; i < 10; i++) {
        const s = await env.api.submit({ queue: q, input: i });
        expect([s.queuePosition, s.priority]).toEqual([i, 5]);
        normal.push(s.id);
      }
      const watches = normal.map((id) => recordWatch(env.api, id));
      await waitForCount(env.api, q, { inQueue: 10, running: 1 });

      high = await env.api.submit({ queue: q, input: "high", options: { priority: 9 } });
      expect([high.state, high.queuePosition, high.priority]).toEqual(["QUEUED", 0, 9]);
      // QueueCount counts every priority; each normal job moved back by exactly one.
      await waitForCount(env.api, q, { inQueue: 11, running: 1 });
      await waitForPositions(env.api, [high.id, ...normal]);
      for (const [i, w] of watches.entries()) {
        await waitFor(() => w.items.at(-1)?.queuePosition === i + 1, {
          what: `the watch of normal job ${i} to say position ${i + 1} (items: ${show(w.items.map((s) => s.queuePosition))})`,
        });
        expect(w.items.every((s) => s.priority === 5)).toBe(true);
      }
      const highStatus = await env.api.getStatus(high.id);
      expect([highStatus.queuePosition, highStatus.priority]).toEqual([0, 9]);

      release();
      for (const id of [high.id, ...normal]) await waitForState(env.api, id, "COMPLETED");
      for (const w of watches) expect((await w.waitEnd()).error).toBeUndefined();
    } finally {
      release();
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    expect(worker.deliveries.map((d) => d.id)).toEqual([first.id, high!.id, ...normal]);
    expect((await env.api.getStatus(high!.id)).priority).toBe(9);
  });

  test("equal priorities run in submit order; interleaved levels run by priority, then submit order", async () => {
    const q = await env.queue();
    const priorities = [5, 1, 9, 5, 10, 3, 9, 1, 5, 10, 7, 2, 3, 5, 9];
    const jobs: Array<{ id: string; priority: number }> = [];
    for (const [i, priority] of priorities.entries()) {
      const s = await env.api.submit({ queue: q, input: i, options: { priority } });
      // At its submit, the jobs ahead are the earlier ones of its priority or higher.
      const ahead = priorities.slice(0, i).filter((p) => p >= priority).length;
      expect([s.priority, s.queuePosition]).toEqual([priority, ahead]);
      jobs.push({ id: s.id, priority });
    }
    const order = runOrder(jobs);
    await waitForCount(env.api, q, { inQueue: priorities.length, running: 0 });
    await waitForPositions(env.api, order);

    const worker = startWorker(env.worker, q, (lease) => lease.input, { concurrency: 1 });
    try {
      for (const id of order) await waitForState(env.api, id, "COMPLETED");
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    expect(worker.deliveries.map((d) => d.id)).toEqual(order);
  });

  test("ListJobs QUEUED lists every priority in the order the jobs run, pages crossing levels", async () => {
    const q = await env.queue();
    const jobs: Array<{ id: string; priority: number }> = [];
    for (const priority of [5, 9, 1, 9, 5, 3, 7]) {
      jobs.push({ id: (await env.api.submit({ queue: q, input: priority, options: { priority } })).id, priority });
    }
    const seen: string[] = [];
    let cursor = "";
    do {
      const page = await env.api.listJobs({ queue: q, state: "QUEUED", pageSize: 2, cursor });
      for (const job of page.jobs) expect(job.priority).toBe(jobs.find((j) => j.id === job.id)?.priority);
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
    } while (cursor !== "" && seen.length <= jobs.length);
    expect(seen).toEqual(runOrder(jobs));
  });

  test("a fetch of several takes the highest first, across levels", async () => {
    const q = await env.queue();
    const jobs: Array<{ id: string; priority: number }> = [];
    for (const priority of [2, 5, 8, 5, 2, 8]) {
      jobs.push({ id: (await env.api.submit({ queue: q, input: priority, options: { priority } })).id, priority });
    }
    const order = runOrder(jobs);
    const taken: string[] = [];
    while (taken.length < 3) {
      const leases = await env.worker.fetch(q, { max: 3 - taken.length, expiresMs: 1_000 });
      taken.push(...leases.map((l) => l.id));
    }
    expect(taken).toEqual(order.slice(0, 3));
  });

  test("options.priority must be a whole number from 1 to 10: INVALID_ARGUMENT naming it, nothing enqueued", async () => {
    const q = await env.queue();
    for (const priority of [0, 11, -1, 2.5, Number.NaN]) {
      await expectEngineError(
        () => env.api.submit({ queue: q, input: 1, options: { priority } }),
        "invalid_argument",
        /options\.priority/,
      );
    }
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
    // 5 is the default: the same job as one that asks for nothing.
    const five = await env.api.submit({ queue: q, input: 1, options: { priority: 5 } });
    const plain = await env.api.submit({ queue: q, input: 2 });
    expect([five.priority, plain.priority]).toEqual([5, 5]);
    expect([five.queuePosition, plain.queuePosition]).toEqual([0, 1]);
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(five.id);
    expect(lease.options.priority).toBeUndefined();
  });

  test("idempotency: a repeated key answers the original prioritized job, whatever priority the repeat asks", async () => {
    const q = await env.queue();
    const key = `key-${Math.random().toString(36).slice(2)}`;
    const original = await env.api.submit({ queue: q, input: 1, idempotencyKey: key, options: { priority: 8 } });
    const again = await env.api.submit({ queue: q, input: 2, idempotencyKey: key, options: { priority: 8 } });
    const other = await env.api.submit({ queue: q, input: 3, idempotencyKey: key, options: { priority: 2 } });
    expect(again.id).toBe(original.id);
    expect(other.id).toBe(original.id);
    expect(other.priority).toBe(8);
    await waitForCount(env.api, q, { inQueue: 1, running: 0 });
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(original.id);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("done")).toBe(true);
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("cancel of a QUEUED prioritized job: removed, never delivered, the others close up", async () => {
    const q = await env.queue();
    const normal = (await env.api.submit({ queue: q, input: "n" })).id;
    const high = (await env.api.submit({ queue: q, input: "h1", options: { priority: 10 } })).id;
    const high2 = (await env.api.submit({ queue: q, input: "h2", options: { priority: 10 } })).id;
    await waitForPositions(env.api, [high, high2, normal]);
    const outcome = await env.api.cancel(high);
    expect([outcome.removed, outcome.job.state, outcome.job.priority]).toEqual([true, "CANCELLED", 10]);
    await waitForCount(env.api, q, { inQueue: 2, running: 0 });
    await waitForPositions(env.api, [high2, normal]);
    expect((await fetchOne(env.worker, q)).id).toBe(high2);
    expect((await fetchOne(env.worker, q)).id).toBe(normal);
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
    expect((await env.api.getStatus(high)).state).toBe("CANCELLED");
  });

  test("retries: a retried job keeps its priority and runs before the normal jobs waiting", async () => {
    const q = await env.queue({ maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 50 });
    const high = await env.api.submit({ queue: q, input: "h", options: { priority: 7 } });
    const first = await fetchOne(env.worker, q);
    expect(first.id).toBe(high.id);
    expect(await first.begin()).toBe(true);
    const normal = await env.api.submit({ queue: q, input: "n" });
    const failedAt = Date.now();
    expect(await first.fail({ code: "AGAIN", message: "once more" })).toBe(true);
    const between = await waitForStatus(env.api, high.id, (s) => s.state === "QUEUED", { what: "QUEUED again" });
    expect(between.priority).toBe(7);
    // Past the backoff (50 ms ±20%), the retry is due: it goes before the normal job.
    await waitFor(() => Date.now() > failedAt + 150, { what: "the backoff to pass" });
    const second = await fetchOne(env.worker, q);
    expect([second.id, second.attempt, second.options.priority]).toEqual([high.id, 2, 7]);
    expect(await second.begin()).toBe(true);
    expect(await second.complete("ok")).toBe(true);
    const done = await waitForState(env.api, high.id, "COMPLETED");
    expect([done.attempt, done.priority]).toEqual([2, 7]);
    expect((await fetchOne(env.worker, q)).id).toBe(normal.id);
  });

  test("start deadline: a prioritized job past its deadline ends EXPIRED and never runs; the next in line does", async () => {
    const q = await env.queue();
    const normal = await env.api.submit({ queue: q, input: "n" });
    const deadline = Date.now() + 300;
    const high = await env.api.submit({ queue: q, input: "h", options: { priority: 9, startDeadline: deadline } });
    expect(high.queuePosition).toBe(0);
    await waitFor(() => Date.now() > deadline + 50, { what: "the start deadline to pass" });
    const worker = startWorker(env.worker, q, (lease) => lease.input);
    try {
      const expired = await waitForState(env.api, high.id, "EXPIRED");
      expect(expired.priority).toBe(9);
      await waitForState(env.api, normal.id, "COMPLETED");
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    expect(worker.deliveries.filter((d) => d.begun).map((d) => d.id)).toEqual([normal.id]);
  });

  test("lost lease: a prioritized job whose worker went quiet runs again, before the normal jobs waiting", async () => {
    const q = await env.queue({ ackWaitMs: 1_000 });
    const high = await env.api.submit({ queue: q, input: "h", options: { priority: 6 } });
    const lost = await fetchOne(env.worker, q);
    expect(lost.id).toBe(high.id);
    expect(await lost.begin()).toBe(true);
    const beganAt = Date.now();
    const normal = await env.api.submit({ queue: q, input: "n" });
    // Nothing settles the lease: once it lapses, the job is due again, ahead of the normal one.
    await waitFor(() => Date.now() > beganAt + 1_200, { what: "the lease to lapse", timeoutMs: 3_000 });
    const again = await fetchOne(env.worker, q, { timeoutMs: 6_000 });
    expect([again.id, again.attempt]).toEqual([high.id, 2]);
    expect(await again.begin()).toBe(true);
    expect(await again.complete("ok")).toBe(true);
    const done: JobStatus = await waitForState(env.api, high.id, "COMPLETED");
    expect([done.attempt, done.priority]).toEqual([2, 6]);
    expect((await fetchOne(env.worker, q)).id).toBe(normal.id);
  });
});
