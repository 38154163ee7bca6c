/**
 * Retention on every engine: a finished job, its result and its idempotency
 * key are kept for retentionMs, then removed; reads of a removed job answer
 * NOT_FOUND saying it may have expired, in the same words on every engine.
 *
 * NATS removes records by the KV bucket's max age, which nats-server checks
 * on its own timer: the waits below are bounded, not exact.
 */
import { expect, test } from "vitest";
import { EngineError, expectEngineError, fetchOne, forEachEngineWith, waitFor, waitForState } from "./harness.js";

const RETENTION_MS = 1_000;
/** Longest a removal may take after the retention ran out (nats-server's expiry timer). */
const REMOVAL_SLACK_MS = 8_000;

const expiredMessage = (id: string) =>
  `job "${id}" not found: it may have expired after the retention of 1s (retentionMs); finished jobs and their results are kept that long`;

/** Resolves with the NOT_FOUND once the job is gone; fails if it is still readable after the slack. */
async function waitGone(read: () => Promise<unknown>, what: string): Promise<EngineError> {
  return waitFor(
    async () => {
      try {
        await read();
        return undefined;
      } catch (err) {
        if (err instanceof EngineError && err.code === "not_found") return err;
        throw err;
      }
    },
    { timeoutMs: RETENTION_MS + REMOVAL_SLACK_MS, intervalMs: 100, what },
  );
}

forEachEngineWith("retention", { retentionMs: RETENTION_MS }, (env) => {
  test("a finished job and its result are readable within the retention, then NOT_FOUND saying it may have expired", async () => {
    const q = await env.queue({ maxAttempts: 1 });
    const ok = await env.api.submit({ queue: q, input: { keep: "me" } });
    const bad = await env.api.submit({ queue: q, input: 2 });
    const l1 = await fetchOne(env.worker, q);
    expect(await l1.begin()).toBe(true);
    expect(await l1.complete({ kept: true })).toBe(true);
    const l2 = await fetchOne(env.worker, q);
    expect(await l2.begin()).toBe(true);
    expect(await l2.fail({ code: "E", message: "dead letter" })).toBe(true);

    const done = await waitForState(env.api, ok.id, "COMPLETED");
    expect((await env.api.getResult(ok.id)).output).toEqual({ kept: true });
    const failed = await waitForState(env.api, bad.id, "FAILED");
    expect(failed.error).toEqual({ code: "E", message: "dead letter" });
    const finishedAt = Math.max(done.finishedAt!, failed.finishedAt!);

    const statusGone = await waitGone(() => env.api.getStatus(ok.id), `${ok.id} to expire`);
    expect(Date.now() - finishedAt).toBeGreaterThanOrEqual(RETENTION_MS - 100);
    expect(statusGone.message).toBe(expiredMessage(ok.id));
    await expectEngineError(env.api.getResult(ok.id), "not_found", expiredMessage(ok.id));

    const deadGone = await waitGone(() => env.api.getResult(bad.id), `${bad.id} to expire`);
    expect(deadGone.message).toBe(expiredMessage(bad.id));
    await expectEngineError(env.api.getStatus(bad.id), "not_found", expiredMessage(bad.id));
    await expectEngineError(env.api.cancel(bad.id), "not_found", expiredMessage(bad.id));
  });

  test("a retried job is live again: its first end's retention no longer applies, its new end's does", async () => {
    const q = await env.queue({ maxAttempts: 1 });
    const { id } = await env.api.submit({ queue: q, input: "retried" });
    const firstEnd = (await env.api.cancel(id)).job.finishedAt!;
    // Retried late in its first retention, then run to its new end.
    await waitFor(() => Date.now() >= firstEnd + 0.7 * RETENTION_MS, { what: "late in the first retention" });
    expect((await env.api.retry(id)).state).toBe("QUEUED");
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(id);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("again")).toBe(true);
    const done = await waitForState(env.api, id, "COMPLETED");
    // Past the first end's retention, within the new one's: still there.
    await waitFor(() => Date.now() >= firstEnd + 1.3 * RETENTION_MS, { what: "past the first retention" });
    expect(Date.now()).toBeLessThan(done.finishedAt! + RETENTION_MS);
    expect((await env.api.getResult(id)).output).toBe("again");
    // And then it goes, as any finished job.
    await waitGone(() => env.api.getStatus(id), `${id} to expire after its new end`);
  });

  test("a job delayed longer than the retention stays readable until it runs", async () => {
    const q = await env.queue();
    const job = await env.api.submit({ queue: q, input: 1, options: { delayMs: 2.5 * RETENTION_MS } });
    const reads: string[] = [];
    await waitFor(
      async () => {
        const s = await env.api.getStatus(job.id);
        reads.push(s.state);
        return Date.now() >= job.scheduledAt! - 200;
      },
      { timeoutMs: 5_000, intervalMs: 100, what: "reads until the run time" },
    );
    expect(new Set(reads)).toEqual(new Set(["QUEUED"]));
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(job.id);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("late")).toBe(true);
    expect((await env.api.getResult(job.id)).output).toBe("late");
  });

  test("an idempotency key returns the original job while it is retained", async () => {
    const q = await env.queue();
    const first = await env.api.submit({ queue: q, input: 1, idempotencyKey: "once" });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("done")).toBe(true);
    await waitForState(env.api, first.id, "COMPLETED");
    const again = await env.api.submit({ queue: q, input: 2, idempotencyKey: "once" });
    expect(again.id).toBe(first.id);
    expect(again.state).toBe("COMPLETED");
  });

  test("a job still queued is not removed by the retention", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const finished = await env.api.submit({ queue: q, input: 2 });
    const cancelled = await env.api.cancel(finished.id);
    expect(cancelled.removed).toBe(true);
    // Once the cancelled one is gone, the queued one must still be there.
    await waitGone(() => env.api.getStatus(finished.id), `${finished.id} to expire`);
    const s = await env.api.getStatus(id);
    expect(s.state).toBe("QUEUED");
    expect(s.queuePosition).toBe(0);
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(id);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("late but fine")).toBe(true);
    expect((await env.api.getResult(id)).output).toBe("late but fine");
  });
});

forEachEngineWith("retention of idempotency keys", { retentionMs: RETENTION_MS }, (env) => {
  test("an idempotency key lives as long as its job: a job that ran longer than the retention keeps it", async () => {
    const q = await env.queue({ ackWaitMs: 5_000 });
    const first = await env.api.submit({ queue: q, input: 1, idempotencyKey: "long-runner" });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    // Running for longer than the retention: the key was written at submit.
    const runningSince = Date.now();
    await waitFor(() => Date.now() - runningSince > RETENTION_MS + 1_500, {
      timeoutMs: RETENTION_MS + 3_000,
      intervalMs: 100,
      what: "the job to run past the retention",
    });
    expect(await lease.complete("done")).toBe(true);
    await waitForState(env.api, first.id, "COMPLETED");
    const again = await env.api.submit({ queue: q, input: 2, idempotencyKey: "long-runner" });
    expect(again.id).toBe(first.id);
    expect(again.state).toBe("COMPLETED");
  });
});
