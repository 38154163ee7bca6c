/**
 * Retries: failed attempts are retried while attempts remain (queue default,
 * or the job's own maxAttempts), after the configured backoff.
 */
import { expect, test } from "vitest";
import { fetchFor, fetchOne, forEachEngine, waitForState, waitForStatus } from "./harness.js";

forEachEngine("retries", (env) => {
  test("maxAttempts 3: two failures then success → COMPLETED with attempt 3; QUEUED with the last error between attempts", async () => {
    const q = await env.queue({ maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 100 });
    const { id } = await env.api.submit({ queue: q, input: { try: "hard" } });

    for (const attempt of [1, 2]) {
      const lease = await fetchOne(env.worker, q);
      expect(lease.id).toBe(id);
      expect(lease.attempt).toBe(attempt);
      expect(lease.input).toEqual({ try: "hard" });
      expect(await lease.begin()).toBe(true);
      await waitForStatus(env.api, id, (s) => s.state === "RUNNING" && s.attempt === attempt, {
        what: `RUNNING attempt ${attempt}`,
      });
      const error = { code: "TRANSIENT", message: `attempt ${attempt} failed` };
      expect(await lease.fail(error)).toBe(true);
      const between = await waitForStatus(env.api, id, (s) => s.state === "QUEUED", { what: "QUEUED for a retry" });
      expect(between.attempt).toBe(attempt);
      expect(between.error).toEqual(error);
      expect(between.finishedAt).toBeUndefined();
    }

    const last = await fetchOne(env.worker, q);
    expect(last.attempt).toBe(3);
    expect(await last.begin()).toBe(true);
    expect(await last.complete({ finally: true })).toBe(true);
    const done = await waitForState(env.api, id, "COMPLETED");
    expect(done.attempt).toBe(3);
    expect(await env.api.getResult(id)).toEqual({ id, state: "COMPLETED", output: { finally: true } });
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("the last allowed attempt failing ends FAILED with its error", async () => {
    const q = await env.queue({ maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    for (const attempt of [1, 2]) {
      const lease = await fetchOne(env.worker, q);
      expect(lease.attempt).toBe(attempt);
      expect(await lease.begin()).toBe(true);
      expect(await lease.fail({ code: "E", message: `no ${attempt}` })).toBe(true);
    }
    const failed = await waitForState(env.api, id, "FAILED");
    expect(failed.attempt).toBe(2);
    expect(failed.error).toEqual({ code: "E", message: "no 2" });
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("options.maxAttempts overrides the queue default, upwards and downwards", async () => {
    const q1 = await env.queue({ maxAttempts: 1, backoffBaseMs: 50, backoffMaxMs: 50 });
    const up = await env.api.submit({ queue: q1, input: 1, options: { maxAttempts: 2 } });
    const l1 = await fetchOne(env.worker, q1);
    expect(l1.options.maxAttempts).toBe(2);
    expect(await l1.begin()).toBe(true);
    expect(await l1.fail({ code: "E", message: "first" })).toBe(true);
    await waitForStatus(env.api, up.id, (s) => s.state === "QUEUED" && s.attempt === 1, { what: "QUEUED for retry" });
    const l2 = await fetchOne(env.worker, q1);
    expect(l2.attempt).toBe(2);
    expect(await l2.begin()).toBe(true);
    expect(await l2.fail({ code: "E", message: "second" })).toBe(true);
    const upFailed = await waitForState(env.api, up.id, "FAILED");
    expect(upFailed.attempt).toBe(2);

    const q3 = await env.queue({ maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 50 });
    const down = await env.api.submit({ queue: q3, input: 1, options: { maxAttempts: 1 } });
    const d1 = await fetchOne(env.worker, q3);
    expect(await d1.begin()).toBe(true);
    expect(await d1.fail({ code: "E", message: "only" })).toBe(true);
    const downFailed = await waitForState(env.api, down.id, "FAILED");
    expect(downFailed.attempt).toBe(1);
    expect(downFailed.error).toEqual({ code: "E", message: "only" });
    expect(await fetchFor(env.worker, q3, 300)).toEqual([]);
  });

  test("fail(..., {retryable: false}) stops at attempt 1 whatever maxAttempts says", async () => {
    const q = await env.queue({ maxAttempts: 5, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.fail({ code: "BAD_INPUT", message: "cannot work with this" }, { retryable: false })).toBe(true);
    const failed = await waitForState(env.api, id, "FAILED");
    expect(failed.attempt).toBe(1);
    expect(failed.error).toEqual({ code: "BAD_INPUT", message: "cannot work with this" });
    expect(await fetchFor(env.worker, q, 400)).toEqual([]);
    expect((await env.api.getStatus(id)).state).toBe("FAILED");
  });

  test("backoff: retry n comes no earlier than ~80% of base*2^(n-1)", async () => {
    const base = 400;
    const q = await env.queue({ maxAttempts: 3, backoffBaseMs: base, backoffMaxMs: 10_000 });
    await env.api.submit({ queue: q, input: 1 });

    const l1 = await fetchOne(env.worker, q);
    expect(await l1.begin()).toBe(true);
    const failed1 = Date.now();
    expect(await l1.fail({ code: "E", message: "1" })).toBe(true);
    const l2 = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    const gap1 = Date.now() - failed1;
    expect(l2.attempt).toBe(2);
    expect(gap1).toBeGreaterThanOrEqual(base * 0.8);
    expect(gap1).toBeLessThan(base * 1.2 + 1_500);

    expect(await l2.begin()).toBe(true);
    const failed2 = Date.now();
    expect(await l2.fail({ code: "E", message: "2" })).toBe(true);
    const l3 = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    const gap2 = Date.now() - failed2;
    expect(l3.attempt).toBe(3);
    expect(gap2).toBeGreaterThanOrEqual(base * 2 * 0.8);
    expect(gap2).toBeLessThan(base * 2 * 1.2 + 1_500);
    expect(await l3.begin()).toBe(true);
    expect(await l3.complete(null)).toBe(true);
  });

  test("backoff is capped at backoffMaxMs", async () => {
    const q = await env.queue({ maxAttempts: 4, backoffBaseMs: 250, backoffMaxMs: 250 });
    await env.api.submit({ queue: q, input: 1 });
    let lease = await fetchOne(env.worker, q);
    for (const attempt of [1, 2, 3]) {
      expect(lease.attempt).toBe(attempt);
      expect(await lease.begin()).toBe(true);
      const failedAt = Date.now();
      expect(await lease.fail({ code: "E", message: String(attempt) })).toBe(true);
      lease = await fetchOne(env.worker, q);
      const gap = Date.now() - failedAt;
      expect(gap).toBeGreaterThanOrEqual(250 * 0.8);
      // capped: 250 ± 20%; uncapped, retry 3 would wait 1000 ± 20% (at least 800)
      expect(gap).toBeLessThan(780);
    }
    expect(lease.attempt).toBe(4);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(null)).toBe(true);
  });

  test("declaring a queue again sets its new defaults for later jobs", async () => {
    const q = await env.queue({ maxAttempts: 1, backoffBaseMs: 50, backoffMaxMs: 50 });
    await env.worker.declareQueue(q, { maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const l1 = await fetchOne(env.worker, q);
    expect(await l1.begin()).toBe(true);
    expect(await l1.fail({ code: "E", message: "once" })).toBe(true);
    await waitForStatus(env.api, id, (s) => s.state === "QUEUED" && s.attempt === 1, { what: "QUEUED for a retry" });
    const l2 = await fetchOne(env.worker, q);
    expect(l2.attempt).toBe(2);
    expect(await l2.begin()).toBe(true);
    expect(await l2.complete("twice")).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
  });
});
