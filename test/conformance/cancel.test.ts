/**
 * Cancel: queued jobs leave the queue and are never delivered; running jobs
 * get their lease's `cancelled` signal and end CANCELLED; finished jobs are
 * left alone with a message saying why.
 */
import { expect, test } from "vitest";
import {
  delay,
  fetchFor,
  fetchOne,
  forEachEngine,
  startWorker,
  waitFor,
  waitForCount,
  waitForState,
  waitForStatus,
} from "./harness.js";

forEachEngine("cancel", (env) => {
  test("cancel of a QUEUED job: removed, CANCELLED with finishedAt, never delivered", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: "never" });
    const outcome = await env.api.cancel(id);
    expect(outcome.removed).toBe(true);
    expect(typeof outcome.message).toBe("string");
    expect(outcome.job).toMatchObject({ id, queue: q, state: "CANCELLED" });
    expect(outcome.job.finishedAt).toBeDefined();
    expect(outcome.job.queuePosition).toBeUndefined();

    const status = await env.api.getStatus(id);
    expect(status.state).toBe("CANCELLED");
    expect((await env.api.getResult(id)).state).toBe("CANCELLED");
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
    expect(await fetchFor(env.worker, q, 400)).toEqual([]);
    expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
  });

  test("cancel of a RUNNING job: the lease's signal fires, CANCELLED, a later complete() resolves false", async () => {
    const q = await env.queue({ ackWaitMs: 1_000 });
    const { id } = await env.api.submit({ queue: q, input: { work: true } });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    await waitForState(env.api, id, "RUNNING");

    let fired = 0;
    lease.cancelled.addEventListener("abort", () => (fired += 1));
    const outcome = await env.api.cancel(id);
    expect(outcome.removed).toBe(true);
    expect(outcome.job).toMatchObject({ id, state: "CANCELLED" });
    expect(outcome.job.finishedAt).toBeDefined();

    await waitFor(() => lease.cancelled.aborted, { what: "lease.cancelled to fire" });
    expect(fired).toBe(1);
    expect((await env.api.getStatus(id)).state).toBe("CANCELLED");

    expect(await lease.complete({ too: "late" })).toBe(false);
    const after = await env.api.getStatus(id);
    expect(after.state).toBe("CANCELLED");
    const result = await env.api.getResult(id);
    expect(result.state).toBe("CANCELLED");
    expect(result.output).toBeUndefined();

    // the cancelled job is not redelivered once its lease would have expired
    expect(await fetchFor(env.worker, q, 1_600)).toEqual([]);
    expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("cancel of a RUNNING job: a later fail() resolves false and the job stays CANCELLED", async () => {
    const q = await env.queue({ maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect((await env.api.cancel(id)).removed).toBe(true);
    await waitFor(() => lease.cancelled.aborted, { what: "lease.cancelled to fire" });
    expect(await lease.fail({ code: "ABORTED", message: "aborted" })).toBe(false);
    expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    expect(await fetchFor(env.worker, q, 400)).toEqual([]);
  });

  test("a job cancelled between fetch and begin: begin() resolves false", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    const outcome = await env.api.cancel(id);
    expect(outcome.removed).toBe(true);
    expect(outcome.job.state).toBe("CANCELLED");
    expect(await lease.begin()).toBe(false);
    expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("a job cancelled by the worker's own process between fetch and begin: begin() resolves false", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect((await env.worker.cancel(id)).removed).toBe(true);
    expect(await lease.begin()).toBe(false);
    expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("submitted, fetched, cancelled and begun all in one process: begin() resolves false", async () => {
    const q = await env.queue();
    const { id } = await env.worker.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(id);
    expect((await env.worker.cancel(id)).removed).toBe(true);
    expect(await lease.begin()).toBe(false);
    expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("a job cancelled by another process reads CANCELLED at once in the process that submitted it", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    expect((await env.api.getStatus(id)).state).toBe("QUEUED");
    const outcome = await env.worker.cancel(id);
    expect(outcome.removed).toBe(true);
    const status = await env.api.getStatus(id);
    expect(status).toMatchObject({ id, state: "CANCELLED", finishedAt: outcome.job.finishedAt });
    expect(status.queuePosition).toBeUndefined();
    expect((await env.api.getResult(id)).state).toBe("CANCELLED");
  });

  test("20 held deliveries whose jobs are cancelled at once: none begins, each stays CANCELLED, none comes back", async () => {
    const q = await env.queue({ ackWaitMs: 1_000 });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await env.api.submit({ queue: q, input: i })).id);
    const leases = [];
    for (let round = 0; leases.length < 20 && round < 20; round++)
      leases.push(...(await env.worker.fetch(q, { max: 20 - leases.length, expiresMs: 2_000 })));
    expect(leases.map((l) => l.id).sort()).toEqual([...ids].sort());
    const outcomes = await Promise.all(ids.map((id) => env.api.cancel(id)));
    expect(outcomes.every((o) => o.job.state === "CANCELLED")).toBe(true);
    expect(await Promise.all(leases.map((l) => l.begin()))).toEqual(leases.map(() => false));
    for (const id of ids) expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    // past their ack wait: nothing redelivered
    expect(await fetchFor(env.worker, q, 1_300)).toEqual([]);
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("cancel of a COMPLETED job: removed false, the message names the state, nothing changes", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete({ kept: true })).toBe(true);
    const done = await waitForState(env.api, id, "COMPLETED");

    const outcome = await env.api.cancel(id);
    expect(outcome.removed).toBe(false);
    expect(outcome.message).toMatch(/COMPLETED/);
    expect(outcome.job).toMatchObject({ id, state: "COMPLETED" });
    expect(await env.api.getStatus(id)).toEqual(done);
    expect(await env.api.getResult(id)).toEqual({ id, state: "COMPLETED", output: { kept: true } });
  });

  test("cancel of a FAILED job: removed false, the message names the state", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.fail({ code: "E", message: "bad" })).toBe(true);
    await waitForState(env.api, id, "FAILED");
    const outcome = await env.api.cancel(id);
    expect(outcome.removed).toBe(false);
    expect(outcome.message).toMatch(/FAILED/);
    expect(outcome.job.state).toBe("FAILED");
    expect(outcome.job.error).toEqual({ code: "E", message: "bad" });
    expect((await env.api.getStatus(id)).state).toBe("FAILED");
  });

  test("cancelling twice: the second is removed false naming CANCELLED", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    expect((await env.api.cancel(id)).removed).toBe(true);
    const second = await env.api.cancel(id);
    expect(second.removed).toBe(false);
    expect(second.message).toMatch(/CANCELLED/);
    expect(second.job.state).toBe("CANCELLED");
  });

  test("concurrent cancels of one queued job: exactly one removes it", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => env.api.cancel(id)));
    expect(outcomes.filter((o) => o.removed)).toHaveLength(1);
    expect(outcomes.every((o) => o.job.state === "CANCELLED")).toBe(true);
  });

  test("cancel racing complete: exactly one outcome wins and it sticks", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    const [cancel, completed] = await Promise.all([env.api.cancel(id), lease.complete("won")]);
    expect(cancel.removed).toBe(!completed);
    const final = await waitForStatus(env.api, id, (s) => s.state === "COMPLETED" || s.state === "CANCELLED");
    expect(final.state).toBe(completed ? "COMPLETED" : "CANCELLED");
    expect(cancel.job.state).toBe(final.state);
  });

  test("cancels racing a busy worker: every job ends in exactly one state, consistent with what each side was told", async () => {
    const q = await env.queue();
    const worker = startWorker(
      env.worker,
      q,
      async (lease) => {
        // work for ~20 ms unless cancelled first
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 20);
          lease.cancelled.addEventListener("abort", () => {
            clearTimeout(t);
            resolve();
          });
        });
        return lease.input;
      },
      { concurrency: 8 },
    );
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await env.api.submit({ queue: q, input: i })).id);
    const cancels = await Promise.all(
      ids.map(async (id, i) => {
        await delay((i * 7) % 60); // spread the cancels over the run
        return env.api.cancel(id);
      }),
    );
    try {
      for (const id of ids) {
        await waitForStatus(env.api, id, (s) => s.state === "COMPLETED" || s.state === "CANCELLED", {
          what: `${id} to end`,
        });
      }
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    for (const [i, id] of ids.entries()) {
      const final = await env.api.getStatus(id);
      const cancel = cancels[i]!;
      const deliveries = worker.deliveries.filter((d) => d.id === id);
      expect(deliveries.length, `${id} delivered at most once`).toBeLessThanOrEqual(1);
      const d = deliveries[0];
      if (final.state === "CANCELLED") {
        expect(cancel.removed, `${id}: CANCELLED but the cancel was not told so`).toBe(true);
        expect(d === undefined || !d.begun || d.settled === false, `${id}: CANCELLED but its lease completed`).toBe(
          true,
        );
      } else {
        expect(final.state).toBe("COMPLETED");
        expect(cancel.removed, `${id}: COMPLETED but the cancel said removed`).toBe(false);
        expect(cancel.message).toMatch(/COMPLETED/);
        expect(d?.settled, `${id}: COMPLETED but its lease was not told so`).toBe(true);
        expect((await env.api.getResult(id)).output).toBe(i);
      }
    }
  });
});
