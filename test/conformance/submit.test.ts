/**
 * Submit and the happy path: QUEUED with a position → RUNNING → COMPLETED,
 * and a failing attempt → FAILED with its exact error.
 */
import { expect, test } from "vitest";
import { parseJobId } from "../../src/engine/job-id.js";
import { expectEngineError, fetchOne, forEachEngine, waitForCount, waitForStatus } from "./harness.js";

forEachEngine("submit", (env) => {
  test("submit returns QUEUED with queuePosition, id, queue and createdAt", async () => {
    const q = await env.queue();
    const before = Date.now();
    const first = await env.api.submit({ queue: q, input: { n: 1 } });
    const second = await env.api.submit({ queue: q, input: { n: 2 } });
    const after = Date.now();

    expect(first).toMatchObject({ queue: q, state: "QUEUED", queuePosition: 0, attempt: 0, progress: 0 });
    expect(second).toMatchObject({ queue: q, state: "QUEUED", queuePosition: 1, attempt: 0, progress: 0 });
    expect(first.id).not.toBe(second.id);
    expect(parseJobId(first.id).queue).toBe(q);
    // ids of one queue sort in submit order
    expect(first.id < second.id).toBe(true);
    expect(first.createdAt).toBeGreaterThanOrEqual(before - 1);
    expect(first.createdAt).toBeLessThanOrEqual(after + 1);
    expect(first.startedAt).toBeUndefined();
    expect(first.finishedAt).toBeUndefined();
    expect(first.error).toBeUndefined();

    // getStatus agrees with what submit said
    const status = await env.api.getStatus(first.id);
    expect(status).toMatchObject({ id: first.id, queue: q, state: "QUEUED", queuePosition: 0, attempt: 0 });
    expect(status.createdAt).toBe(first.createdAt);
  });

  test("a job runs: QUEUED → RUNNING (attempt 1, startedAt) → COMPLETED with the output", async () => {
    const q = await env.queue();
    const input = { hello: "world", list: [1, 2, 3] };
    const submitted = await env.api.submit({ queue: q, input });

    await expectEngineError(env.api.getResult(submitted.id), "failed_precondition", /QUEUED/);

    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(submitted.id);
    expect(lease.queue).toBe(q);
    expect(lease.attempt).toBe(1);
    expect(lease.input).toEqual(input);
    expect(lease.createdAt).toBe(submitted.createdAt);
    expect(lease.ackWaitMs).toBeGreaterThan(0);
    expect(lease.cancelled.aborted).toBe(false);

    expect(await lease.begin()).toBe(true);
    const running = await waitForStatus(
      env.api,
      submitted.id,
      (s) => s.state === "RUNNING" && s.attempt === 1 && s.startedAt !== undefined,
      { what: "RUNNING with attempt 1 and startedAt" },
    );
    expect(running.queuePosition).toBeUndefined();
    expect(running.startedAt!).toBeGreaterThanOrEqual(submitted.createdAt);
    expect(running.finishedAt).toBeUndefined();

    await expectEngineError(env.api.getResult(submitted.id), "failed_precondition", /RUNNING/);

    expect(await lease.complete({ echoed: input })).toBe(true);
    const done = await waitForStatus(env.api, submitted.id, (s) => s.state === "COMPLETED");
    expect(done).toMatchObject({ id: submitted.id, queue: q, state: "COMPLETED", attempt: 1 });
    expect(done.queuePosition).toBeUndefined();
    expect(done.error).toBeUndefined();
    expect(done.finishedAt).toBeDefined();
    expect(done.finishedAt!).toBeGreaterThanOrEqual(running.startedAt!);
    expect(done.createdAt).toBe(submitted.createdAt);

    const result = await env.api.getResult(submitted.id);
    expect(result).toEqual({ id: submitted.id, state: "COMPLETED", output: { echoed: input } });
  });

  test("a failing attempt ends FAILED with exactly that error", async () => {
    const q = await env.queue(); // default maxAttempts 1
    const submitted = await env.api.submit({ queue: q, input: null });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    const error = { code: "MODEL_OVERLOADED", message: "the model is overloaded — try later (ünïcödé)" };
    expect(await lease.fail(error)).toBe(true);

    const failed = await waitForStatus(env.api, submitted.id, (s) => s.state === "FAILED");
    expect(failed.error).toEqual(error);
    expect(failed.attempt).toBe(1);
    expect(failed.finishedAt).toBeDefined();
    const result = await env.api.getResult(submitted.id);
    expect(result.state).toBe("FAILED");
    expect(result.error).toEqual(error);
    expect(result.output).toBeUndefined();
  });

  test("submit to an undeclared queue is NOT_FOUND naming the queue, and creates nothing", async () => {
    const q = `undeclared-${Date.now().toString(36)}`;
    await expectEngineError(env.api.submit({ queue: q, input: 1 }), "not_found", new RegExp(`queue "${q}" not found`));
    await expectEngineError(env.api.queueCount(q), "not_found", new RegExp(q));
  });

  test("declareQueue is idempotent and queues are independent", async () => {
    const a = await env.queue({ maxAttempts: 2 });
    await env.worker.declareQueue(a, { maxAttempts: 2 });
    await env.api.declareQueue(a);
    const b = await env.queue();
    await env.api.submit({ queue: a, input: "a" });
    await waitForCount(env.api, a, { inQueue: 1, running: 0 });
    await waitForCount(env.api, b, { inQueue: 0, running: 0 });
    const sb = await env.api.submit({ queue: b, input: "b" });
    expect(sb.queuePosition).toBe(0);
  });

  test("a job's trace context reaches its lease (normalized); a malformed one is INVALID_ARGUMENT naming it, nothing enqueued", async () => {
    const q = await env.queue();
    // A later version's traceparent is read by its first four fields and stored as version 00.
    const trace = { traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", tracestate: "k=v" };
    const submitted = await env.api.submit({ queue: q, input: 1, trace });
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(submitted.id);
    expect(lease.trace).toEqual({
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      tracestate: "k=v",
    });
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(null)).toBe(true);

    for (const bad of [
      { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" },
      { traceparent: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" },
      { traceparent: "not a traceparent" },
    ]) {
      await expectEngineError(
        env.api.submit({ queue: q, input: 2, trace: bad }),
        "invalid_argument",
        /trace\.traceparent/,
      );
    }
    const badState = { traceparent: trace.traceparent.slice(0, 55).replace(/^01/, "00"), tracestate: "x".repeat(513) };
    await expectEngineError(
      env.api.submit({ queue: q, input: 3, trace: badState }),
      "invalid_argument",
      /trace\.tracestate/,
    );
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });
});
