/**
 * The driver's part of Retry and delayed jobs (issue 17): retry() makes a
 * finished job QUEUED again under its id, delivered anew with its input,
 * attempt n+1 and a fresh budget (the runs before count as interrupted); a
 * job with options.runAt is held, counted as delayed, until its time.
 */
import { expect, test } from "vitest";
import { EngineError } from "../../src/engine/errors.js";
import { begin, fetchN, forEachDriver, newJob, refOf, waitForState } from "./harness.js";

forEachDriver("retry and delayed jobs", (env) => {
  test("retry of a FAILED job: the same id delivered again with its input, as attempt 2 with a fresh budget", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, { keep: "me" }));
    const [d1] = await fetchN(env.worker, q, 1);
    expect(await begin(d1!)).toBe(true);
    expect(await d1!.finish("FAILED", { error: { code: "E", message: "first" } })).toBe(true);
    await waitForState(env.api, status.id, "FAILED");

    const again = await env.api.retry(refOf(status.id), {});
    expect(again).toMatchObject({ id: status.id, state: "QUEUED", attempt: 1 });
    expect(again.error).toBeUndefined();
    const [d2] = await fetchN(env.worker, q, 1);
    expect(d2!.ref.id).toBe(status.id);
    expect(d2!.input).toEqual({ keep: "me" });
    const found = await d2!.inspect();
    expect(found).toEqual({ over: false, run: { attempt: 2, interrupted: 1, lost: 0 } });
    if (found.over) return;
    expect(await d2!.markRunning(found.run, Date.now(), () => undefined)).toBeDefined();
    expect(await d2!.finish("COMPLETED", { output: 2, outputJson: "2" })).toBe(true);
    const read = await env.api.read(refOf(status.id), { includeAttempts: true });
    expect(read.attempts?.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, "FAILED"],
      [2, "COMPLETED"],
    ]);
  });

  test("retry of a QUEUED or COMPLETED job changes nothing: FAILED_PRECONDITION", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, 1));
    const err = await env.api.retry(refOf(status.id), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe("failed_precondition");
    const [d] = await fetchN(env.worker, q, 1);
    expect(await begin(d!)).toBe(true);
    expect(await d!.finish("COMPLETED", { output: 1, outputJson: "1" })).toBe(true);
    await expect(env.api.retry(refOf(status.id), {})).rejects.toThrow(/is COMPLETED/);
    expect(await env.worker.fetch(q, 1, 200)).toEqual([]);
  });

  test("a job with options.runAt is held and counted as delayed until its time, then delivered", async () => {
    const q = await env.queue();
    const runAt = Date.now() + 600;
    const { status } = await env.api.insert(newJob(q, 1, { options: { runAt } }));
    expect(status).toMatchObject({ state: "QUEUED", scheduledAt: runAt });
    expect(status.queuePosition).toBeUndefined();
    expect(await env.api.count(q)).toEqual({ queue: q, inQueue: 0, running: 0 });
    expect(await env.api.delayedCount?.(q)).toBe(1);
    const [d] = await fetchN(env.worker, q, 1);
    expect(d!.ref.id).toBe(status.id);
    expect(d!.options.runAt).toBe(runAt);
    await expect.poll(() => env.api.count(q), { timeout: 5_000 }).toEqual({ queue: q, inQueue: 0, running: 1 });
    expect(await env.api.delayedCount?.(q)).toBe(0);
  });
});
